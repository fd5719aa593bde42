/**
 * Small numbers (flags, indexes) for lower-case ASCII words, looked up straight from a
 * text's UTF-16 code units: no slice, no toLowerCase and no string hashing per look-up.
 * Person detection looks up every capitalised word of a text, most of which are in no list.
 */
export class AsciiWordTable {
  private readonly words: (string | undefined)[];
  private readonly hashes: Int32Array;
  private readonly values: Uint16Array;
  private readonly mask: number;

  /** Takes the ASCII entries of `entries` (word to value, 0 to 65535); others are left out. */
  constructor(entries: ReadonlyMap<string, number>) {
    let size = 16;
    while (size < entries.size * 3) size *= 2;
    this.words = new Array<string | undefined>(size).fill(undefined);
    this.hashes = new Int32Array(size);
    this.values = new Uint16Array(size);
    this.mask = size - 1;

    for (const [word, value] of entries) {
      if (!/^[\x00-\x7f]+$/.test(word)) continue;
      const hash = hashOf(word);
      let slot = hash & this.mask;
      while (this.words[slot] !== undefined) slot = (slot + 1) & this.mask;
      this.words[slot] = word;
      this.hashes[slot] = hash;
      this.values[slot] = value;
    }
  }

  /** The value of units[start, end) read in lower case (ASCII only); 0 when not listed. */
  get(units: Uint16Array, start: number, end: number): number {
    let hash = FNV_OFFSET;
    for (let i = start; i < end; i += 1) {
      hash = Math.imul(hash ^ lower(units[i] as number), FNV_PRIME);
    }

    for (let slot = hash & this.mask; ; slot = (slot + 1) & this.mask) {
      const word = this.words[slot];
      if (word === undefined) return 0;
      if (this.hashes[slot] === hash && sameWord(word, units, start, end)) {
        return this.values[slot] as number;
      }
    }
  }
}

const FNV_OFFSET = 0x811c9dc5 | 0;
const FNV_PRIME = 0x01000193;

function hashOf(word: string): number {
  let hash = FNV_OFFSET;
  for (let i = 0; i < word.length; i += 1) hash = Math.imul(hash ^ word.charCodeAt(i), FNV_PRIME);
  return hash;
}

function lower(unit: number): number {
  return unit >= 65 && unit <= 90 ? unit + 32 : unit;
}

function sameWord(word: string, units: Uint16Array, start: number, end: number): boolean {
  if (word.length !== end - start) return false;
  for (let i = 0; i < word.length; i += 1) {
    if (word.charCodeAt(i) !== lower(units[start + i] as number)) return false;
  }
  return true;
}
