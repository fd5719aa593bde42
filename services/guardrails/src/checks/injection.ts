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
    for (const hit of hits) {
      texts.add(index);
      const seen = best.get(hit.id);
      if (!seen || hit.weight > seen.weight) best.set(hit.id, hit);
      if (spans.length < MAX_SPANS) {
        spans.push({ ...segment.location, start: hit.start, end: hit.end });
      }
    }
  });

  const score = roundScore(scoreHits([...best.values()]));
  const { threshold, action } = policy.injection;
  if (score < threshold || action === "allow") {
    const verdict = cleanVerdict("injection", stage, `score ${score.toFixed(2)} below ${threshold}`);
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
    reason: `score ${score.toFixed(2)} at or above ${threshold}; signals: ${families.join(", ")}; ` +
      `in ${texts.size} text${texts.size === 1 ? "" : "s"}`,
    stage,
  };
}
