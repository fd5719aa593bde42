import type { Segment } from "../conversation.js";
import { findPii } from "../pii/detectors.js";
import { applyRedactions, type Redactor } from "../pii/redactor.js";
import type { PiiMatch } from "../pii/types.js";
import { PII_TYPES, type GuardrailPolicy, type PiiType } from "../policy.js";
import {
  cleanVerdict,
  toGuardrailAction,
  type Stage,
  type Verdict,
  type VerdictSpan,
} from "../verdict.js";

/** What the PII check found and the texts it rewrote. */
export interface PiiCheckResult {
  /** One verdict per PII type found, or one clean verdict. */
  verdicts: Verdict[];
  /** New text per segment index, for segments with redacted values. */
  rewrites: Map<number, string>;
  /** Values found per type (for span attributes and metrics). */
  counts: Partial<Record<PiiType, number>>;
}

/**
 * Finds personal data and secrets in every segment and applies the policy per type: "redact"
 * swaps the value for a typed placeholder, "block" does the same and refuses the request,
 * "allow" only reports.
 * Verdicts carry types, counts and offsets, never the values.
 */
export function checkPii(
  segments: readonly Segment[],
  stage: Stage,
  policy: GuardrailPolicy,
  redactor: Redactor,
): PiiCheckResult {
  const rewrites = new Map<number, string>();
  const spansByType = new Map<PiiType, VerdictSpan[]>();
  // Placeholders the caller typed, in any segment, are noted before one is issued: new ones
  // are numbered past them, and theirs are never restored into the answer.
  if (stage === "input") for (const segment of segments) redactor.noteLiterals(segment.text);

  segments.forEach((segment, index) => {
    if (segment.text.length === 0) return;
    const matches = findPii(segment.text, policy.phoneRegion);
    if (matches.length === 0) return;

    for (const m of matches) {
      const spans = spansByType.get(m.type) ?? [];
      spans.push({ ...segment.location, start: m.start, end: m.end });
      spansByType.set(m.type, spans);
    }

    // Blocked values are replaced too: a refused conversation may still be logged or cached.
    const toRedact = matches.filter((m: PiiMatch) => policy.pii[m.type] !== "allow");
    if (toRedact.length > 0) rewrites.set(index, applyRedactions(segment.text, toRedact, redactor));
  });

  if (spansByType.size === 0) {
    return {
      verdicts: [cleanVerdict("pii", stage, "no personal data or secrets found")],
      rewrites,
      counts: {},
    };
  }

  const verdicts: Verdict[] = [];
  const counts: Partial<Record<PiiType, number>> = {};
  for (const type of PII_TYPES) {
    const spans = spansByType.get(type);
    if (!spans) continue;

    const action = policy.pii[type];
    counts[type] = spans.length;
    verdicts.push({
      check: "pii",
      passed: false,
      action: toGuardrailAction(action),
      category: type.toLowerCase(),
      score: 1,
      spans,
      reason: `${spans.length} ${type.toLowerCase()} ` +
        `value${spans.length === 1 ? "" : "s"} found; ` +
        `policy ${action}`,
      stage,
    });
  }
  return { verdicts, rewrites, counts };
}
