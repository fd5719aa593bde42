/**
 * Trigger words: cheap "is this pattern worth running" checks. Most texts contain none of a
 * pattern's key words, and one pass that hashes each word costs far less than running every
 * regex over the text. Trigger words are registered when the rule modules load; a text's
 * vocabulary is then a presence flag per registered trigger.
 */

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
const idsByTrigger = new Map<string, number>();
let triggerCount = 0;

function hashOf(word: string): number {
  let h = FNV_OFFSET;
  for (let i = 0; i < word.length; i += 1) h = Math.imul(h ^ word.charCodeAt(i), FNV_PRIME);
  return h >>> 0;
}

function addTo(map: Map<number, number[]>, hash: number, id: number): void {
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
    addTo(wordIds, hashOf(word), id);
    addTo(stemIds, hashOf(word.slice(0, 4)), id);
  } else {
    addTo(wordIds, hashOf(trigger), id);
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

/** Marks which registered trigger words a folded text contains, in one pass over it. */
export function vocabularyOf(text: string): Vocabulary {
  const present = new Uint8Array(triggerCount);
  let hash = FNV_OFFSET;
  let stemHash = 0;
  let length = 0;

  for (let i = 0; i <= text.length; i += 1) {
    const c = i < text.length ? text.charCodeAt(i) : 32;
    if (isWordUnit(c)) {
      hash = Math.imul(hash ^ c, FNV_PRIME);
      length += 1;
      if (length === 4) stemHash = hash >>> 0;
      continue;
    }
    if (length === 0) continue;

    mark(wordIds.get(hash >>> 0), present);
    if (length > 4) mark(stemIds.get(stemHash), present);
    hash = FNV_OFFSET;
    length = 0;
  }
  return { text, present };
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
