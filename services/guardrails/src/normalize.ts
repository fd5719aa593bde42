/**
 * Text normalisation for matching, with a map back to the original offsets.
 *
 * Attacks hide trigger words behind full-width forms, zero-width characters, look-alike
 * letters from other scripts, diacritics and leetspeak. Matching runs on a folded copy; every
 * character of that copy remembers which UTF-16 range of the original it came from, so a
 * match can be reported in the original's offsets without ever splitting a character.
 */

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
  const folded = foldForMatching(text);
  return { folded, vocab: vocabularyOf(folded.text) };
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
  return build(text, foldCache, true);
}

/**
 * Folds text for matching in its own script: like foldForMatching but without look-alike
 * mapping or leetspeak, so Cyrillic, CJK and other scripts keep their letters.
 */
export function foldPlain(text: string): NormalizedText {
  return build(text, plainCache, false);
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

/**
 * Folds text into UTF-16 units, remembering each unit's original range. One tight loop: the
 * ASCII path touches only typed arrays; other characters go through the cached foldChar.
 */
function build(text: string, cache: Map<string, string>, latin: boolean): NormalizedText {
  let capacity = text.length + 16;
  let units = new Uint16Array(capacity);
  let starts = new Int32Array(capacity);
  let ends = new Int32Array(capacity);
  let n = 0;
  // Where a run of joiners began, and whether a letter came before it.
  let joinerAt = -1;
  let joinerAfterLetter = false;

  const grow = () => {
    capacity = capacity * 2 + 16;
    const u = new Uint16Array(capacity);
    const s = new Int32Array(capacity);
    const e = new Int32Array(capacity);
    u.set(units);
    s.set(starts);
    e.set(ends);
    units = u;
    starts = s;
    ends = e;
  };

  // Appends one folded unit that came from text[start, end).
  const emit = (unit: number, start: number, end: number) => {
    const space = unit === SPACE || unit === NEWLINE;
    if (joinerAt >= 0) {
      // A joiner between two letters vanishes; anywhere else it reads as a space.
      if (!joinerAfterLetter || space || !isLetter(unit)) {
        if (n > 0 && units[n - 1] !== SPACE && units[n - 1] !== NEWLINE) {
          if (n === capacity) grow();
          units[n] = SPACE;
          starts[n] = joinerAt;
          ends[n] = start;
          n += 1;
        }
      }
      joinerAt = -1;
    }

    if (space) {
      if (n === 0) return;
      const last = units[n - 1];
      if (last === SPACE || last === NEWLINE) {
        // A run of whitespace keeps one character; a line break wins over a space.
        if (unit === NEWLINE) units[n - 1] = NEWLINE;
        ends[n - 1] = end;
        return;
      }
    }
    if (n === capacity) grow();
    units[n] = unit;
    starts[n] = start;
    ends[n] = end;
    n += 1;
  };

  for (let i = 0; i < text.length; ) {
    const code = text.charCodeAt(i);
    if (code < 128) {
      const folded = ASCII_FOLD[code] as number;
      if (folded === JOIN) {
        if (joinerAt < 0) {
          joinerAt = i;
          joinerAfterLetter = n > 0 && isLetter(units[n - 1] as number);
        }
      } else if (folded !== DROP) {
        if (joinerAt < 0 && folded !== SPACE && folded !== NEWLINE) {
          // The common case: a visible ASCII character after a non-joiner.
          if (n === capacity) grow();
          units[n] = folded;
          starts[n] = i;
          ends[n] = i + 1;
          n += 1;
        } else {
          emit(folded, i, i + 1);
        }
      }
      i += 1;
      continue;
    }

    const width = code >= 0xd800 && code <= 0xdbff && i + 1 < text.length ? 2 : 1;
    const ch = width === 2 ? text.slice(i, i + 2) : (text[i] as string);
    if (JOINERS.has(ch)) {
      if (joinerAt < 0) {
        joinerAt = i;
        joinerAfterLetter = n > 0 && isLetter(units[n - 1] as number);
      }
    } else {
      const folded = foldChar(ch, cache, latin);
      for (let u = 0; u < folded.length; u += 1) emit(folded.charCodeAt(u), i, i + width);
    }
    i += width;
  }

  if (n > 0 && (units[n - 1] === SPACE || units[n - 1] === NEWLINE)) n -= 1;

  const out = units.subarray(0, n);
  if (latin) readLeetspeak(out);
  return {
    text: unitsToString(out),
    origStart: starts.subarray(0, n),
    origEnd: ends.subarray(0, n),
  };
}

function unitsToString(units: Uint16Array): string {
  let out = "";
  for (let i = 0; i < units.length; i += 8192) {
    out += String.fromCharCode.apply(null, units.subarray(i, i + 8192) as unknown as number[]);
  }
  return out;
}

/** Rewrites leetspeak characters in place when they sit inside a word with other letters. */
function readLeetspeak(units: Uint16Array): void {
  let i = 0;
  while (i < units.length) {
    if (!isWordUnit(units[i] as number)) {
      i += 1;
      continue;
    }

    let j = i;
    let letters = 0;
    let leet = 0;
    while (j < units.length && isWordUnit(units[j] as number)) {
      const c = units[j] as number;
      if (c >= 97 && c <= 122) letters += 1;
      else if (LEET_CODES[c] !== 0) leet += 1;
      j += 1;
    }

    // Symbols at a word's edge are punctuation ("stop!"), digits alone are numbers.
    let end = j;
    while (end > i && !isAlnum(units[end - 1] as number)) end -= 1;
    if (leet > 0 && letters >= 1 && j - i >= 3) {
      for (let k = i; k < end; k += 1) {
        const c = units[k] as number;
        const mapped = LEET_CODES[c] as number;
        if (mapped === 0) continue;
        // "a11" reads as "all": a 1 next to an l or another 1 is an l.
        const nearL = isOneOrL(units[k - 1]) || isOneOrL(units[k + 1]);
        units[k] = c === 49 && nearL ? 108 : mapped;
      }
    }
    i = j;
  }
}

// LEET as char codes for the in-place pass; 0 means not a leet character.
const LEET_CODES = new Uint16Array(128);
for (const [from, to] of Object.entries(LEET)) LEET_CODES[from.charCodeAt(0)] = to.charCodeAt(0);

function isOneOrL(unit: number | undefined): boolean {
  return unit === 49 || unit === 108 || unit === 124;
}

function isAlnum(unit: number): boolean {
  return (unit >= 97 && unit <= 122) || (unit >= 48 && unit <= 57);
}

function isWordUnit(unit: number): boolean {
  return isAlnum(unit) || (unit < 128 && LEET_CODES[unit] !== 0);
}
