import {
  foldPlain,
  originalRange,
  prepareText,
  type NormalizedText,
  type PreparedText,
} from "../normalize.js";
import { hasAllGroups, type Vocabulary } from "../vocabulary.js";
import { findEncodedPayloads } from "./decode.js";
import { scriptCompletion } from "./structure.js";
import {
  FRAMING_CAP,
  NEEDS_SCRIPT_VIEW,
  NEGATED_BEFORE,
  SIGNALS,
  type Signal,
  type SignalFamily,
} from "./signals.js";

/** A signal that fired, with its first match in the original text's UTF-16 offsets. */
export interface SignalHit {
  id: string;
  family: SignalFamily;
  weight: number;
  framing: boolean;
  start: number;
  end: number;
}

/** How likely a text is an injection, and the evidence. */
export interface InjectionScore {
  /** In [0, 1]. */
  score: number;
  hits: SignalHit[];
}

const LATIN_SIGNALS = SIGNALS.filter((s) => s.view === "latin");
const SCRIPT_SIGNALS = SIGNALS.filter((s) => s.view === "script");
// Decoded payloads are checked once more for nested encodings, no deeper.
const MAX_DEPTH = 2;

/** Combines independent evidence: 1 - Π(1 - wᵢ). */
export function combineWeights(weights: Iterable<number>): number {
  let miss = 1;
  for (const w of weights) miss *= 1 - w;
  return 1 - miss;
}

/**
 * Scores one text: folds it, runs every signal once, then decodes base64, hex and URL-encoded
 * runs and scores what they hide. Each signal counts once, however often it matches.
 */
export function scoreInjection(text: string, prepared?: PreparedText, depth = 0): InjectionScore {
  const hits: SignalHit[] = [];
  if (text.length === 0) return { score: 0, hits };

  const { folded, vocab } = prepared ?? prepareText(text);
  runSignals(LATIN_SIGNALS, folded, vocab, hits);
  if (NEEDS_SCRIPT_VIEW.test(text)) runSignals(SCRIPT_SIGNALS, foldPlain(text), undefined, hits);
  const turn = text.includes(":") ? scriptCompletion(text) : undefined;
  if (turn) hits.push(turn);

  if (depth < MAX_DEPTH) {
    for (const payload of findEncodedPayloads(text)) {
      const inner = scoreInjection(payload.text, undefined, depth + 1);
      if (inner.score < 0.3) continue;
      // Hiding instructions in an encoding is itself a sign of intent.
      hits.push({
        id: `encoded_${payload.encoding}`,
        family: "encoded_payload",
        weight: Math.min(0.95, Math.max(0.6, inner.score)),
        framing: false,
        start: payload.start,
        end: payload.end,
      });
    }
  }

  return { score: scoreHits(hits), hits };
}

/**
 * Combines hits into one score: evidence signals by noisy-OR, framing signals likewise but
 * capped, so role-play words alone never reach a blocking score.
 */
export function scoreHits(hits: readonly SignalHit[]): number {
  const framing = combineWeights(hits.filter((h) => h.framing).map((h) => h.weight));
  const evidence = hits.filter((h) => !h.framing).map((h) => h.weight);
  return combineWeights([...evidence, Math.min(framing, FRAMING_CAP)]);
}

function runSignals(
  signals: readonly Signal[],
  n: NormalizedText,
  vocab: Vocabulary | undefined,
  hits: SignalHit[],
): void {
  for (const signal of signals) {
    if (signal.triggers && vocab && !hasAllGroups(vocab, signal.triggers)) continue;
    const m = signal.re.exec(n.text);
    if (!m) continue;
    if (signal.negatable && negated(n.text, m.index)) continue;

    const [start, end] = originalRange(n, m.index, m.index + m[0].length);
    hits.push({
      id: signal.id,
      family: signal.family,
      weight: signal.weight,
      framing: signal.framing === true,
      start,
      end,
    });
  }
}

function negated(text: string, index: number): boolean {
  return NEGATED_BEFORE.test(text.slice(Math.max(0, index - 24), index));
}
