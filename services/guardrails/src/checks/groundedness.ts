import type { Source } from "@mesh/contracts/common/v1/chat_pb";
import type { Segment } from "../conversation.js";
import type { GuardrailPolicy } from "../policy.js";
import {
  roundScore,
  toGuardrailAction,
  type Stage,
  type Verdict,
  type VerdictSpan,
} from "../verdict.js";

/** One sentence of an answer: UTF-16 offsets into its text block, end exclusive. */
export interface Sentence {
  start: number;
  end: number;
}

/** How well one sentence is supported by the sources. */
export interface SentenceSupport {
  supported: boolean;
  /** Share of the sentence's content words found in the sources (1 with none to check). */
  wordSupport: number;
  missingNumbers: number;
  missingNames: number;
}

// Abbreviations whose final dot does not end a sentence.
const ABBREVIATIONS = new Set([
  "mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "vs", "etc", "e.g", "i.e", "u.s", "u.k",
  "inc", "ltd", "co", "corp", "no", "fig", "approx", "dept", "est", "jan", "feb", "mar", "apr",
  "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec", "mt", "ft",
]);

const STOPWORDS = new Set(
  ("a about above after again against all also am an and any are as at be because been before " +
    "being below between both but by can could did do does doing down during each either few " +
    "for from further had has have having he her here hers herself him himself his how i if in " +
    "into is it its itself just like may me might more most must my myself no nor not now of " +
    "off on once only or other our ours ourselves out over own per same she should so some such " +
    "than that the their theirs them themselves then there these they this those through to too " +
    "under until up upon very was we were what when where which while who whom whose why will " +
    "with within without would yes yet you your yours yourself yourselves according based " +
    "however therefore thus also although though many much several one two three four five six " +
    "seven eight nine ten first second third well around about approximately").split(" "),
);

const BOUNDARY = /[.!?]+["'”’)\]]*(?=\s|$)|\n+/g;
const WORD = /\p{L}[\p{L}\p{M}'’-]*/gu;
const NUMBER = /\d[\d,]*(?:\.\d+)?/g;

/** Splits text into sentences at ., ! and ? followed by space, and at line breaks. */
export function splitSentences(text: string): Sentence[] {
  const sentences: Sentence[] = [];
  let start = 0;
  for (const m of text.matchAll(BOUNDARY)) {
    const end = m.index + m[0].length;
    if (m[0][0] === "." && isAbbreviation(text, m.index)) continue;
    pushTrimmed(text, start, m[0].startsWith("\n") ? m.index : end, sentences);
    start = end;
  }
  pushTrimmed(text, start, text.length, sentences);
  return sentences;
}

/**
 * Where the last complete sentence of a growing text ends: after the last ".", "!" or "?"
 * (not an abbreviation's dot) that whitespace already follows, or after a line break. 0 when
 * no sentence is complete yet. A dot at the very end may still turn into "3.5".
 */
export function lastSentenceEnd(text: string): number {
  return sentenceEnds(text).at(-1) ?? 0;
}

/**
 * Every offset at which a complete sentence of a growing text ends, by the rules of
 * lastSentenceEnd, in increasing order: the stream check steps back through them when the
 * last one is not yet safe to release.
 */
export function sentenceEnds(text: string): number[] {
  const ends: number[] = [];
  for (const m of text.matchAll(BOUNDARY)) {
    const after = m.index + m[0].length;
    if (m[0].startsWith("\n")) {
      ends.push(after);
      continue;
    }
    if (after >= text.length) continue;
    if (m[0][0] === "." && isAbbreviation(text, m.index)) continue;
    ends.push(after);
  }
  return ends;
}

function isAbbreviation(text: string, dotIndex: number): boolean {
  const before = /([\p{L}.]+)$/u.exec(text.slice(Math.max(0, dotIndex - 8), dotIndex));
  const word = before?.[1]?.toLowerCase() ?? "";
  if (ABBREVIATIONS.has(word)) return true;

  // A single capital letter ("J. Smith") is an initial.
  return /^\p{Lu}$/u.test(before?.[1] ?? "");
}

function pushTrimmed(text: string, start: number, end: number, out: Sentence[]): void {
  let s = start;
  let e = end;
  while (s < e && /\s/.test(text[s] as string)) s += 1;
  while (e > s && /\s/.test(text[e - 1] as string)) e -= 1;
  if (e > s && /[\p{L}\p{N}]/u.test(text.slice(s, e))) out.push({ start: s, end: e });
}

/** Light stemming so "launched" finds "launch" and "cities" finds "city". */
function stem(word: string): string {
  let w = word.toLowerCase().replace(/['’]s$/, "");
  if (w.length > 4 && w.endsWith("ies")) w = `${w.slice(0, -3)}y`;
  else if (w.length > 5 && w.endsWith("ing")) w = w.slice(0, -3);
  else if (w.length > 4 && w.endsWith("ed")) w = w.slice(0, -2);
  else if (w.length > 4 && w.endsWith("es")) w = w.slice(0, -2);
  else if (w.length > 3 && w.endsWith("s") && !w.endsWith("ss")) w = w.slice(0, -1);
  return w;
}

function normalizeNumber(raw: string): string {
  const plain = raw.replace(/,/g, "");
  return plain.includes(".") ? plain.replace(/\.?0+$/, "") : plain;
}

/** What the sources contain, indexed for look-ups. */
export interface SourceIndex {
  stems: Set<string>;
  words: Set<string>;
  numbers: Set<string>;
}

/** Indexes the sources' words, stems and numbers once per answer. */
export function indexSources(sources: readonly Pick<Source, "text">[]): SourceIndex {
  const index: SourceIndex = { stems: new Set(), words: new Set(), numbers: new Set() };
  for (const { text } of sources) {
    for (const m of text.matchAll(WORD)) {
      index.words.add(m[0].toLowerCase());
      index.stems.add(stem(m[0]));
    }
    for (const m of text.matchAll(NUMBER)) index.numbers.add(normalizeNumber(m[0]));
  }
  return index;
}

/**
 * Scores one sentence: every number and every name (a capitalised word not opening the
 * sentence, month names included) must occur in the sources, and enough of its content words.
 */
export function scoreSentence(
  sentence: string,
  index: SourceIndex,
  minWordSupport: number,
): SentenceSupport {
  let missingNumbers = 0;
  for (const m of sentence.matchAll(NUMBER)) {
    if (!index.numbers.has(normalizeNumber(m[0]))) missingNumbers += 1;
  }

  let content = 0;
  let found = 0;
  let missingNames = 0;
  let first = true;
  for (const m of sentence.matchAll(WORD)) {
    const word = m[0];
    const lower = word.toLowerCase();
    const opening = first;
    first = false;
    if (STOPWORDS.has(lower) || lower.length < 3) continue;

    content += 1;
    if (index.stems.has(stem(word)) || index.words.has(lower)) found += 1;
    else if (!opening && /^\p{Lu}/u.test(word)) missingNames += 1;
  }

  const wordSupport = content === 0 ? 1 : found / content;
  const supported = missingNumbers === 0 && missingNames === 0 && wordSupport >= minWordSupport;
  return { supported, wordSupport, missingNumbers, missingNames };
}

/**
 * Checks an answer against the request's sources when the caller asked for factual answers.
 * Returns no verdict when groundedness was not requested; a flag saying no sources were given
 * when it was requested without sources; otherwise a verdict listing the unsupported
 * sentences by index (counted over all text blocks, from 0), never by their text.
 */
export function checkGroundedness(
  segments: readonly Segment[],
  requiresFactual: boolean,
  sources: readonly Pick<Source, "text">[],
  stage: Stage,
  policy: GuardrailPolicy,
): Verdict | undefined {
  if (!requiresFactual) return undefined;

  const action = toGuardrailAction(policy.groundedness.action);
  if (sources.length === 0 || sources.every((s) => s.text.trim() === "")) {
    return {
      check: "groundedness",
      passed: false,
      action,
      category: "potential_hallucination",
      score: 1,
      spans: [],
      reason: "factual answer requested but no sources were given; the answer was not checked",
      stage,
    };
  }

  const index = indexSources(sources);
  const unsupported: number[] = [];
  const spans: VerdictSpan[] = [];
  let count = 0;
  for (const segment of segments) {
    if (segment.kind !== "text") continue;
    for (const s of splitSentences(segment.text)) {
      const sentence = segment.text.slice(s.start, s.end);
      const support = scoreSentence(sentence, index, policy.groundedness.minWordSupport);
      if (!support.supported) {
        unsupported.push(count);
        spans.push({ ...segment.location, start: s.start, end: s.end });
      }
      count += 1;
    }
  }

  if (unsupported.length === 0) {
    return {
      check: "groundedness",
      passed: true,
      action: toGuardrailAction("allow"),
      category: "",
      score: 0,
      spans: [],
      reason: `all ${count} sentences supported by ${sources.length} ` +
        `source${sources.length === 1 ? "" : "s"}`,
      stage,
    };
  }

  return {
    check: "groundedness",
    passed: false,
    action,
    category: "potential_hallucination",
    score: roundScore(unsupported.length / count),
    spans,
    reason: `${unsupported.length} of ${count} sentences not supported by the sources: ` +
      `indices ${unsupported.join(", ")}`,
    stage,
  };
}
