import type { Segment } from "../conversation.js";
import type { PreparedText } from "../normalize.js";
import { scoreHits, scoreInjection, type SignalHit } from "../injection/score.js";
import type { GuardrailPolicy } from "../policy.js";
import {
  cleanVerdict,
  roundScore,
  toGuardrailAction,
  type Stage,
  type Verdict,
  type VerdictSpan,
} from "../verdict.js";

/** Most spans a verdict lists; the reason still counts them all. */
const MAX_SPANS = 16;

/**
 * Scores prompt injection over the whole conversation. Signals from every text count
 * together, each once, so an attack split between an earlier message and a tool result adds
 * up. At or above the policy threshold the verdict takes the policy's action (block by
 * default) with category "prompt_injection"; below it the verdict passes with its score.
 */
export function checkInjection(
  segments: readonly Segment[],
  prepared: readonly (PreparedText | undefined)[],
  stage: Stage,
  policy: GuardrailPolicy,
): Verdict {
  const best = new Map<string, SignalHit>();
  const spans: VerdictSpan[] = [];
  const texts = new Set<number>();

  segments.forEach((segment, index) => {
    const { hits } = scoreInjection(segment.text, prepared[index]);
    if (hits.length === 0) return;

    texts.add(index);
    for (const hit of hits) {
      const seen = best.get(hit.id);
      if (!seen || hit.weight > seen.weight) best.set(hit.id, hit);
    }
    for (const [start, end] of mergeRanges(hits.map((h) => [h.start, h.end]))) {
      if (spans.length < MAX_SPANS) spans.push({ ...segment.location, start, end });
    }
  });

  const score = roundScore(scoreHits([...best.values()]));
  const { threshold, action } = policy.injection;
  if (score < threshold || action === "allow") {
    const reason = `score ${score.toFixed(2)} below ${threshold}`;
    const verdict = cleanVerdict("injection", stage, reason);
    return { ...verdict, score };
  }

  const families = [...new Set([...best.values()].map((h) => h.family))].sort();
  return {
    check: "injection",
    passed: false,
    action: toGuardrailAction(action),
    category: "prompt_injection",
    score,
    spans,
    reason: `score ${score.toFixed(2)} at or above ${threshold}; ` +
      `signals: ${families.join(", ")}; ` +
      `in ${texts.size} text${texts.size === 1 ? "" : "s"}`,
    stage,
  };
}

/** Unites overlapping ranges so one phrase matched by several signals is one span. */
function mergeRanges(ranges: [number, number][]): [number, number][] {
  const sorted = ranges.sort((a, b) => a[0] - b[0] || b[1] - a[1]);
  const out: [number, number][] = [];
  for (const [start, end] of sorted) {
    const last = out[out.length - 1];
    if (last && start < last[1]) last[1] = Math.max(last[1], end);
    else out.push([start, end]);
  }
  return out;
}
