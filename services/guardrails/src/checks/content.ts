import {
  CONTENT_RULES,
  foldShortLeet,
  needsScriptView,
  protectiveContext,
  type ContentRule,
} from "../content/rules.js";
import type { Segment } from "../conversation.js";
import { foldPlain, originalRange, prepareText, type PreparedText } from "../normalize.js";
import { CONTENT_CATEGORIES, type ContentCategory, type GuardrailPolicy } from "../policy.js";
import { combineWeights } from "../injection/score.js";
import { hasAllGroups } from "../vocabulary.js";
import {
  cleanVerdict,
  roundScore,
  toGuardrailAction,
  type Stage,
  type Verdict,
  type VerdictSpan,
} from "../verdict.js";

// Without an explicit request, sexual terms near minors in a protective text (reporting,
// prevention, education) stay below any blocking threshold.
const PROTECTIVE_CAP = 0.4;

/** One category's score in one text, with the spans of the rules that fired. */
export interface CategoryScore {
  category: ContentCategory;
  score: number;
  rules: string[];
  spans: [number, number][];
}

/** Scores one text against every content rule; categories with no hit are left out. */
export function scoreContent(text: string, prepared?: PreparedText): CategoryScore[] {
  if (text.length === 0) return [];
  const { folded, vocab } = prepared ?? prepareText(text);
  // Short leetspeak words read as letters ("t0", "4"); same offsets as the folded text.
  const leet = foldShortLeet(folded.text, vocab);
  // Cyrillic, CJK and Arabic keep their letters only in this copy; made only when needed.
  const plain = needsScriptView(text) ? foldPlain(text) : undefined;

  const hits = new Map<ContentCategory, { rule: ContentRule; start: number; end: number }[]>();
  for (const rule of CONTENT_RULES) {
    const view = rule.view === "script" ? plain : folded;
    if (view === undefined) continue;
    // Script triggers are substrings: the word list holds ASCII words only.
    const present = rule.view === "script"
      ? rule.triggers.every((g) => g.some((t) => typeof t === "string" && view.text.includes(t)))
      : hasAllGroups(vocab, rule.triggers);
    if (!present) continue;
    const m = rule.re.exec(view.text) ??
      (rule.view === "latin" && leet !== undefined ? rule.re.exec(leet) : null);
    if (!m) continue;

    const [start, end] = originalRange(view, m.index, m.index + m[0].length);
    const list = hits.get(rule.category) ?? [];
    list.push({ rule, start, end });
    hits.set(rule.category, list);
  }

  const scores: CategoryScore[] = [];
  for (const [category, list] of hits) {
    let score = combineWeights(list.map((h) => h.rule.weight));
    const requested = list.some((h) => h.rule.intent);
    if (category === "sexual_minors" && !requested && protectiveContext(folded.text)) {
      score = Math.min(score, PROTECTIVE_CAP);
    }
    scores.push({
      category,
      score,
      rules: list.map((h) => h.rule.id),
      spans: list.map((h) => [h.start, h.end]),
    });
  }
  return scores;
}

/**
 * Applies the content policy to every segment: one verdict per category whose score reaches
 * its threshold, with that category's action (block for sexual content involving minors and
 * weapons instructions, flag for the rest by default); one clean verdict otherwise.
 */
export function checkContent(
  segments: readonly Segment[],
  prepared: readonly (PreparedText | undefined)[],
  stage: Stage,
  policy: GuardrailPolicy,
): Verdict[] {
  const worst = new Map<ContentCategory, number>();
  const spans = new Map<ContentCategory, VerdictSpan[]>();

  segments.forEach((segment, index) => {
    for (const s of scoreContent(segment.text, prepared[index])) {
      worst.set(s.category, Math.max(worst.get(s.category) ?? 0, s.score));
      const list = spans.get(s.category) ?? [];
      for (const [start, end] of s.spans) list.push({ ...segment.location, start, end });
      spans.set(s.category, list);
    }
  });

  const verdicts: Verdict[] = [];
  let highest = 0;
  for (const category of CONTENT_CATEGORIES) {
    const score = roundScore(worst.get(category) ?? 0);
    highest = Math.max(highest, score);
    const rule = policy.content[category];
    if (score === 0 || score < rule.threshold || rule.action === "allow") continue;

    verdicts.push({
      check: "content",
      passed: false,
      action: toGuardrailAction(rule.action),
      category,
      score,
      spans: spans.get(category) ?? [],
      reason: `${category} score ${score.toFixed(2)} at or above ${rule.threshold}; ` +
        `policy ${rule.action}`,
      stage,
    });
  }

  if (verdicts.length > 0) return verdicts;
  const clean = cleanVerdict("content", stage, "no content policy category reached");
  return [{ ...clean, score: highest }];
}
