/**
 * Trigger words: cheap "is this pattern worth running" checks. Most texts contain none of a
 * pattern's key words, and one pass that hashes each word costs far less than running every
 * regex over the text. Trigger words are registered when the rule modules load; a text's
 * vocabulary is then a presence flag per registered trigger.
 */

import { codeUnits } from "./runs.js";

/** A registered trigger: an id into the presence flags, or a substring to look for. */
export type Trigger = number | string;

/** The trigger words present in one folded (lower-case) text. */
export interface Vocabulary {
  readonly text: string;
  readonly present: Uint8Array;
}

// FNV-1a over UTF-16 units. Two trigger words sharing a hash would only make a pattern run
// when it need not; a word in the text is never missed.
const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

const wordIds = new Map<number, number[]>();
const stemIds = new Map<number, number[]>();
// One bit per low 16 bits of a registered hash: most words of a text are no trigger, and a
// clear bit says so without a map look-up.
const wordFilter = new Uint8Array(8192);
const stemFilter = new Uint8Array(8192);
const idsByTrigger = new Map<string, number>();
let triggerCount = 0;

function hashOf(word: string): number {
  let h = FNV_OFFSET;
  for (let i = 0; i < word.length; i += 1) h = Math.imul(h ^ word.charCodeAt(i), FNV_PRIME);
  return h >>> 0;
}

function addTo(
  map: Map<number, number[]>,
  filter: Uint8Array,
  hash: number,
  id: number,
): void {
  filter[(hash & 0xffff) >>> 3] = (filter[(hash & 0xffff) >>> 3] as number) | (1 << (hash & 7));
  const ids = map.get(hash);
  if (ids) ids.push(id);
  else map.set(hash, [id]);
}

/**
 * Registers a trigger: a word ("ignore"), a stem ("jail*": the word "jail" or any longer
 * word starting with its first four letters), or an entry starting with a symbol, which is
 * looked for as a substring ("<!--").
 */
export function registerTrigger(trigger: string): Trigger {
  const first = trigger.charCodeAt(0);
  const isWord = (first >= 97 && first <= 122) || (first >= 48 && first <= 57);
  if (!isWord) return trigger;

  const known = idsByTrigger.get(trigger);
  if (known !== undefined) return known;

  const id = triggerCount;
  triggerCount += 1;
  idsByTrigger.set(trigger, id);
  if (trigger.endsWith("*")) {
    const word = trigger.slice(0, -1);
    addTo(wordIds, wordFilter, hashOf(word), id);
    addTo(stemIds, stemFilter, hashOf(word.slice(0, 4)), id);
  } else {
    addTo(wordIds, wordFilter, hashOf(trigger), id);
  }
  return id;
}

/** Registers groups of triggers (each group needs one present), as rule modules declare them. */
export function registerGroups(groups: readonly (readonly string[])[]): Trigger[][] {
  return groups.map((group) => group.map(registerTrigger));
}

function isWordUnit(c: number): boolean {
  return (c >= 97 && c <= 122) || (c >= 48 && c <= 57) || c === 39;
}

/**
 * Marks which registered trigger words a folded text contains, in one pass over it. `units`
 * are the text's UTF-16 units when the caller has them in an array already.
 */
export function vocabularyOf(text: string, units: Uint16Array = codeUnits(text)): Vocabulary {
  const present = new Uint8Array(triggerCount);
  const length = text.length;
  let i = 0;
  while (i < length) {
    let c = units[i] as number;
    if (c >= 128 || WORD_UNITS[c] === 0) {
      i += 1;
      continue;
    }

    // One word: hash it, and its first four units for stems.
    let hash = FNV_OFFSET;
    let stemHash = 0;
    let wordLength = 0;
    for (;;) {
      hash = Math.imul(hash ^ c, FNV_PRIME);
      wordLength += 1;
      if (wordLength === 4) stemHash = hash >>> 0;
      i += 1;
      if (i >= length) break;
      c = units[i] as number;
      if (c >= 128 || WORD_UNITS[c] === 0) break;
    }

    if (inFilter(wordFilter, hash)) mark(wordIds.get(hash >>> 0), present);
    if (wordLength > 4 && inFilter(stemFilter, stemHash)) mark(stemIds.get(stemHash), present);
  }
  return { text, present };
}

// isWordUnit as a table over ASCII.
const WORD_UNITS = Uint8Array.from({ length: 128 }, (_, c) => (isWordUnit(c) ? 1 : 0));

function inFilter(filter: Uint8Array, hash: number): boolean {
  return ((filter[(hash & 0xffff) >>> 3] as number) & (1 << (hash & 7))) !== 0;
}

function mark(ids: number[] | undefined, present: Uint8Array): void {
  if (!ids) return;
  for (const id of ids) present[id] = 1;
}

/** True when the text has the trigger. */
export function hasTrigger(vocab: Vocabulary, trigger: Trigger): boolean {
  if (typeof trigger === "string") return vocab.text.includes(trigger);
  return vocab.present[trigger] === 1;
}

/** True when every group has at least one of its triggers in the text. */
export function hasAllGroups(vocab: Vocabulary, groups: readonly (readonly Trigger[])[]): boolean {
  for (const group of groups) {
    let any = false;
    for (const t of group) {
      if (hasTrigger(vocab, t)) {
        any = true;
        break;
      }
    }
    if (!any) return false;
  }
  return true;
}
