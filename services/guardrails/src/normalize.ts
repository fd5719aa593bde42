/**
 * Text normalisation for matching, with a map back to the original offsets.
 *
 * Attacks hide trigger words behind full-width forms, zero-width characters, look-alike
 * letters from other scripts, diacritics and leetspeak. Matching runs on a folded copy; every
 * character of that copy remembers which UTF-16 range of the original it came from, so a
 * match can be reported in the original's offsets without ever splitting a character.
 */

import { codeUnits } from "./runs.js";
import { vocabularyOf, type Vocabulary } from "./vocabulary.js";

/** A folded copy of a text and, per folded character, its range in the original. */
export interface NormalizedText {
  text: string;
  /** origStart[i] is where folded character i begins in the original (UTF-16 units). */
  origStart: Int32Array;
  /** origEnd[i] is where folded character i ends in the original (exclusive). */
  origEnd: Int32Array;
}

/** A text folded once for every check that matches patterns, with its word list. */
export interface PreparedText {
  folded: NormalizedText;
  vocab: Vocabulary;
}

/** Folds a text and lists its words; checks share the result instead of folding again. */
export function prepareText(text: string): PreparedText {
  const { folded, units } = build(text, foldCache, true);
  return { folded, vocab: vocabularyOf(folded.text, units) };
}

/** Maps a range of folded text back to the original text's UTF-16 range. */
export function originalRange(n: NormalizedText, start: number, end: number): [number, number] {
  if (n.text.length === 0) return [0, 0];

  const first = Math.min(start, n.text.length - 1);
  const last = Math.min(Math.max(end - 1, first), n.text.length - 1);
  return [n.origStart[first] as number, n.origEnd[last] as number];
}

// Letters from Cyrillic, Greek, IPA and small capitals that look like Latin ones.
const HOMOGLYPHS: Record<string, string> = {
  а: "a", в: "b", е: "e", ё: "e", з: "3", і: "i", ї: "i", ј: "j", к: "k", м: "m", н: "h",
  о: "o", п: "n", р: "p", с: "c", т: "t", у: "y", х: "x", ѕ: "s", ԁ: "d", ԛ: "q", ԝ: "w",
  һ: "h", ӏ: "l", ɡ: "g", ı: "i", ɑ: "a", ɩ: "i", ʟ: "l", ɪ: "i", ʀ: "r", ʏ: "y", ɴ: "n",
  ᴀ: "a", ʙ: "b", ᴄ: "c", ᴅ: "d", ᴇ: "e", ғ: "f", ɢ: "g", ʜ: "h", ᴊ: "j", ᴋ: "k", ᴍ: "m",
  ᴏ: "o", ᴘ: "p", ꜱ: "s", ᴛ: "t", ᴜ: "u", ᴠ: "v", ᴡ: "w", ᴢ: "z",
  α: "a", β: "b", ε: "e", η: "n", ι: "i", κ: "k", ν: "v", ο: "o", ρ: "p", τ: "t", υ: "u",
  χ: "x", ω: "w", ϲ: "c", ϳ: "j",
  "’": "'", "‘": "'", "ʼ": "'", "´": "'", "“": '"', "”": '"', "„": '"',
};

// Digits and symbols read as letters when they sit inside a word ("1gn0r3", "4ll", "$ystem").
const LEET: Record<string, string> = {
  "0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "8": "b", "9": "g",
  "@": "a", $: "s", "!": "i", "|": "l",
};

// Format characters (zero-width, bidi controls, soft hyphen, tags, variation selectors)
// are invisible and only split words.
const INVISIBLE = /^[\p{Cf}\u034f\u115f\u1160\u3164\uffa0\ufe00-\ufe0f]$|^[\u{e0100}-\u{e01ef}]$/u;
const CONTROL = /^\p{Cc}$/u;
const WHITESPACE = /^\s$/u;
const COMBINING = /\p{M}/gu;
// Punctuation that attackers put inside words ("in-struc_tions", "**ignore**").
const JOINERS = new Set(["-", "_", "*", "`", "~", "^", "\u2010", "\u2011", "\u2012", "\u2013"]);

// Per-character folding results, filled on first sight: NFKC is the slow part.
const foldCache = new Map<string, string>();
const plainCache = new Map<string, string>();

function foldChar(ch: string, cache: Map<string, string>, latin: boolean): string {
  const cached = cache.get(ch);
  if (cached !== undefined) return cached;

  let out: string;
  if (INVISIBLE.test(ch)) out = "";
  else if (WHITESPACE.test(ch)) out = ch === "\n" || ch === "\r" ? "\n" : " ";
  else if (CONTROL.test(ch)) out = "";
  else {
    out = ch.normalize("NFKC").toLowerCase();
    // Diacritics go for Latin letters only, so Cyrillic й or Devanagari stay what they are.
    if (latin || /^[\u0000-\u024f]+$/.test(out)) {
      const stripped = out.normalize("NFD").replace(COMBINING, "");
      if (/^[\u0000-\u024f]*$/.test(stripped)) out = stripped;
    }
    if (latin) out = Array.from(out, (c) => HOMOGLYPHS[c] ?? c).join("");
  }

  if (cache.size < 65_536) cache.set(ch, out);
  return out;
}

function isLetter(code: number): boolean {
  return (code >= 97 && code <= 122) || code > 127;
}

/**
 * Folds text for Latin-script matching: NFKC (full-width and stylised letters), lower case,
 * diacritics stripped, look-alike letters mapped to Latin, invisible and control characters
 * removed, in-word joiners dropped, whitespace runs collapsed (line breaks kept) and
 * leetspeak read as letters.
 */
export function foldForMatching(text: string): NormalizedText {
  return build(text, foldCache, true).folded;
}

/**
 * Folds text for matching in its own script: like foldForMatching but without look-alike
 * mapping or leetspeak, so Cyrillic, CJK and other scripts keep their letters.
 */
export function foldPlain(text: string): NormalizedText {
  return build(text, plainCache, false).folded;
}

// What each ASCII character folds to, as a char code; DROP and JOIN are markers.
const DROP = 0;
const JOIN = 1;
const SPACE = 32;
const NEWLINE = 10;
const ASCII_FOLD = Uint16Array.from({ length: 128 }, (_, code) => {
  const ch = String.fromCharCode(code);
  if (ch === "\n" || ch === "\r") return NEWLINE;
  if (ch === " " || ch === "\t" || ch === "\v" || ch === "\f") return SPACE;
  if (code < 32 || code === 127) return DROP;
  if (JOINERS.has(ch)) return JOIN;
  return ch.toLowerCase().charCodeAt(0);
});

// Working arrays of build, reused from call to call; results are copied out of them. Texts
// longer than this get arrays of their own, so one huge text does not stay in memory.
const SCRATCH_LIMIT = 65_536;
let scratchUnits: Uint16Array = new Uint16Array(4096);
let scratchStarts: Int32Array = new Int32Array(4096);
let scratchEnds: Int32Array = new Int32Array(4096);

/**
 * Folds text into UTF-16 units, remembering each unit's original range. One tight loop over
 * local variables: the ASCII path touches only typed arrays; other characters go through the
 * cached foldChar. Returns the folded units too (folded.text as an array, valid until the
 * next call), for the vocabulary pass.
 */
function build(
  text: string,
  cache: Map<string, string>,
  latin: boolean,
): { folded: NormalizedText; units: Uint16Array } {
  const length = text.length;
  let units = scratchUnits;
  let starts = scratchStarts;
  let ends = scratchEnds;
  if (length + 16 > units.length) {
    const size = length + 16 <= SCRATCH_LIMIT ? SCRATCH_LIMIT : length + 16;
    units = new Uint16Array(size);
    starts = new Int32Array(size);
    ends = new Int32Array(size);
    if (size === SCRATCH_LIMIT) [scratchUnits, scratchStarts, scratchEnds] = [units, starts, ends];
  }

  // foldChar scans nothing with codeUnits, so the input stays this text's.
  const input = codeUnits(text);
  let n = 0;
  // Where a run of joiners began, and whether a letter came before it.
  let joinerAt = -1;
  let joinerAfterLetter = false;
  // The folding of a non-ASCII character, emitted unit by unit, and where it came from.
  let pending = "";
  let pendingAt = 0;
  let sourceStart = 0;
  let sourceEnd = 0;
  let i = 0;

  for (;;) {
    // The common case first: ASCII characters with no joiner pending, at most one unit each.
    if (joinerAt < 0 && pendingAt >= pending.length) {
      foldAsciiRun(input, i, Math.min(length, i + (units.length - n)), units, starts, ends, n);
      i = RUN[0] as number;
      n = RUN[1] as number;
    }

    let unit: number;
    if (pendingAt < pending.length) {
      unit = pending.charCodeAt(pendingAt);
      pendingAt += 1;
    } else if (i >= length) {
      break;
    } else {
      const code = input[i] as number;
      if (code < 128) {
        const folded = ASCII_FOLD[code] as number;
        if (folded === JOIN) {
          if (joinerAt < 0) {
            joinerAt = i;
            joinerAfterLetter = n > 0 && isLetter(units[n - 1] as number);
          }
          i += 1;
          continue;
        }
        if (folded === DROP) {
          i += 1;
          continue;
        }
        if (joinerAt < 0 && folded !== SPACE && folded !== NEWLINE) {
          // The common case: a visible ASCII character after a non-joiner.
          if (n === units.length) {
            [units, starts, ends] = [largerU16(units), largerI32(starts), largerI32(ends)];
          }
          units[n] = folded;
          starts[n] = i;
          ends[n] = i + 1;
          n += 1;
          i += 1;
          continue;
        }
        unit = folded;
        sourceStart = i;
        sourceEnd = i + 1;
        i += 1;
      } else {
        const width = code >= 0xd800 && code <= 0xdbff && i + 1 < length ? 2 : 1;
        const ch = width === 2 ? text.slice(i, i + 2) : (text[i] as string);
        if (JOINERS.has(ch)) {
          if (joinerAt < 0) {
            joinerAt = i;
            joinerAfterLetter = n > 0 && isLetter(units[n - 1] as number);
          }
        } else {
          pending = foldChar(ch, cache, latin);
          pendingAt = 0;
          sourceStart = i;
          sourceEnd = i + width;
        }
        i += width;
        continue;
      }
    }

    // Appends one folded unit that came from text[sourceStart, sourceEnd).
    const space = unit === SPACE || unit === NEWLINE;
    if (joinerAt >= 0) {
      // A joiner between two letters vanishes; anywhere else it reads as a space.
      if (!joinerAfterLetter || space || !isLetter(unit)) {
        if (n > 0 && units[n - 1] !== SPACE && units[n - 1] !== NEWLINE) {
          if (n === units.length) {
            [units, starts, ends] = [largerU16(units), largerI32(starts), largerI32(ends)];
          }
          units[n] = SPACE;
          starts[n] = joinerAt;
          ends[n] = sourceStart;
          n += 1;
        }
      }
      joinerAt = -1;
    }

    if (space) {
      if (n === 0) continue;
      const last = units[n - 1];
      if (last === SPACE || last === NEWLINE) {
        // A run of whitespace keeps one character; a line break wins over a space.
        if (unit === NEWLINE) units[n - 1] = NEWLINE;
        ends[n - 1] = sourceEnd;
        continue;
      }
    }
    if (n === units.length) {
      [units, starts, ends] = [largerU16(units), largerI32(starts), largerI32(ends)];
    }
    units[n] = unit;
    starts[n] = sourceStart;
    ends[n] = sourceEnd;
    n += 1;
  }

  if (n > 0 && (units[n - 1] === SPACE || units[n - 1] === NEWLINE)) n -= 1;

  const out = units.subarray(0, n);
  if (latin) readLeetspeak(out);
  // Both offset maps in one allocation.
  const offsets = new Int32Array(2 * n);
  offsets.set(starts.subarray(0, n));
  offsets.set(ends.subarray(0, n), n);
  const folded = {
    text: unitsToString(out),
    origStart: offsets.subarray(0, n),
    origEnd: offsets.subarray(n, 2 * n),
  };
  return { folded, units: out };
}

// Where foldAsciiRun stopped: [input offset, folded units so far].
const RUN = new Int32Array(2);

/**
 * Folds ASCII characters from input[from] on while they need no joiner or Unicode handling:
 * visible characters map through ASCII_FOLD, whitespace runs collapse as in build. Stops
 * at `limit`, a joiner, a control character or a non-ASCII unit; leaves where in RUN.
 */
function foldAsciiRun(
  input: Uint16Array,
  from: number,
  limit: number,
  units: Uint16Array,
  starts: Int32Array,
  ends: Int32Array,
  count: number,
): void {
  let i = from;
  let n = count;
  while (i < limit) {
    const code = input[i] as number;
    if (code >= 128) break;
    const folded = ASCII_FOLD[code] as number;
    if (folded <= JOIN) break;
    if (folded === SPACE || folded === NEWLINE) {
      if (n === 0) {
        i += 1;
        continue;
      }
      const last = units[n - 1];
      if (last === SPACE || last === NEWLINE) {
        // A run of whitespace keeps one character; a line break wins over a space.
        if (folded === NEWLINE) units[n - 1] = NEWLINE;
        ends[n - 1] = i + 1;
        i += 1;
        continue;
      }
    }
    units[n] = folded;
    starts[n] = i;
    ends[n] = i + 1;
    n += 1;
    i += 1;
  }
  RUN[0] = i;
  RUN[1] = n;
}

function largerU16(array: Uint16Array): Uint16Array {
  const bigger = new Uint16Array(array.length * 2 + 16);
  bigger.set(array);
  return bigger;
}

function largerI32(array: Int32Array): Int32Array {
  const bigger = new Int32Array(array.length * 2 + 16);
  bigger.set(array);
  return bigger;
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

// Node's UTF-16 decoding copies the units as they are (lone surrogates too) and costs a
// fraction of String.fromCharCode over an argument list.
function unitsToString(units: Uint16Array): string {
  if (LITTLE_ENDIAN) {
    return Buffer.from(units.buffer, units.byteOffset, units.byteLength).toString("utf16le");
  }
  let out = "";
  for (let i = 0; i < units.length; i += 8192) {
    out += String.fromCharCode.apply(null, units.subarray(i, i + 8192) as unknown as number[]);
  }
  return out;
}

/** Rewrites leetspeak characters in place when they sit inside a word with other letters. */
function readLeetspeak(units: Uint16Array): void {
  const n = units.length;
  let i = 0;
  while (i < n) {
    const first = units[i] as number;
    if (first >= 128 || WORD_CLASS[first] === 0) {
      i += 1;
      continue;
    }

    let j = i;
    let letters = 0;
    let leet = 0;
    while (j < n) {
      const c = units[j] as number;
      const kind = c < 128 ? (WORD_CLASS[c] as number) : 0;
      if (kind === 0) break;
      if (kind === LETTER) letters += 1;
      else if ((kind & LEET_SYMBOL) !== 0) leet += 1;
      j += 1;
    }

    if (leet > 0 && letters >= 1 && j - i >= 3) {
      // Symbols at a word's edge are punctuation ("stop!"), digits alone are numbers.
      let end = j;
      while (end > i && ((WORD_CLASS[units[end - 1] as number] as number) & ALNUM) === 0) end -= 1;
      for (let k = i; k < end; k += 1) {
        const c = units[k] as number;
        const mapped = LEET_CODES[c] as number;
        if (mapped === 0) continue;
        // "a11" reads as "all": a 1 next to an l or another 1 is an l, except an i before
        // "ll" after a consonant or at the word's start ("k1ll", "st1ll", "1llegal").
        const next = k + 1 < n ? (units[k + 1] as number) : 0;
        const nearL = (k > 0 && isOneOrL(units[k - 1] as number)) || isOneOrL(next);
        const before = k > i ? (units[k - 1] as number) : 0;
        const iBeforeL = next === 108 && (before === 0 || isConsonant(before));
        units[k] = c === 49 && nearL ? (iBeforeL ? 105 : 108) : mapped;
      }
    }
    i = j;
  }
}

// LEET as char codes for the in-place pass; 0 means not a leet character.
const LEET_CODES = new Uint16Array(128);
for (const [from, to] of Object.entries(LEET)) LEET_CODES[from.charCodeAt(0)] = to.charCodeAt(0);

// What an ASCII unit is to a word, as bits: one table look-up per character.
const LETTER = 1;
const DIGIT = 2;
const LEET_SYMBOL = 4;
const ALNUM = LETTER | DIGIT;
const WORD_CLASS = Uint8Array.from({ length: 128 }, (_, c) => {
  const letter = c >= 97 && c <= 122 ? LETTER : 0;
  const digit = c >= 48 && c <= 57 ? DIGIT : 0;
  return letter | digit | (LEET_CODES[c] !== 0 ? LEET_SYMBOL : 0);
});

function isConsonant(unit: number): boolean {
  const lower = unit | 32;
  return lower >= 97 && lower <= 122 && !"aeiouy".includes(String.fromCharCode(lower));
}

function isOneOrL(unit: number): boolean {
  return unit === 49 || unit === 108 || unit === 124;
}
