/**
 * Person names by rule: runs of capitalised words ("Ana María de la Cruz", "Ján M. Novák")
 * accepted when a cue says they are a name (a title, "my name is", a greeting, a closing, a
 * "Name:" label) or when their words are known given names or surnames. A name that is
 * really a street, a firm or a town ("George Street", "Madison, WI") is left alone. The span
 * covers the name only: not the title, not a possessive "'s".
 */

import { codeUnits } from "../runs.js";
import { AsciiWordTable } from "./ascii-words.js";
import type { PiiMatch } from "./types.js";
import {
  AMBIGUOUS_NAMES,
  GIVEN_NAMES,
  HONORIFICS,
  NEVER_NAMES,
  NOT_AFTER_NAME,
  SURNAME_SUFFIX,
  SURNAMES,
} from "./names.js";

/** Match priority: any other type wins an overlap with a name (a street named after one). */
const PRIORITY = 0.5;

// Capitalised words ("Ana", "O'Brien", "Jean-Luc", "Kevin's") and single capitals ("M.").
// Tried only where a capital can start (see tokens): scanning a whole text in Unicode mode
// tests the property class at every character, which costs more than the rest of the rule.
const CANDIDATE_AT = /\p{Lu}[\p{L}\p{M}'’-]*/uy;
const INSIDE_WORD = /[\p{L}\p{M}\d'’-]/u;
const LETTER = /\p{L}/u;
const CAPITALISED = /^\p{Lu}['’]?[\p{L}\p{M}]*\p{Ll}[\p{L}\p{M}'’-]*$/u;
const PARTICLES =
  "van|von|de|der|den|da|das|dos|del|della|di|du|la|le|ter|ten|bin|ibn|al|el|y";
// Between two parts of one name: spaces, and maybe particles ("Ludwig van Beethoven").
const GAP = new RegExp(`^[ \\t]+(?:(?:${PARTICLES})[ \\t]+)*$`);
const DOTTED_GAP = new RegExp(`^\\.?[ \\t]+(?:(?:${PARTICLES})[ \\t]+)*$`);
const PLACE_HEADS = new Set(["st", "saint", "san", "santa", "sankt", "mount", "lake", "port",
  "fort", "cape", "new", "north", "south", "east", "west", "upper", "lower", "sao", "santo",
  "rio", "los", "las", "el", "la", "le", "les", "bad", "den"]);
const HONORIFIC = new RegExp(`^(?:${HONORIFICS})$`, "i");

// What the word lists say about a token's key, looked up once per token as bits.
const PLACE_HEAD = 1;
const NOT_AFTER = 2;
const NEVER = 4;
const GIVEN = 8;
const SURNAME = 16;
const AMBIGUOUS = 32;
// For ASCII words only: their key is their lower case, which the /i title pattern compares.
const ASCII_HONORIFIC = 64;
const WORD_FLAGS = new Map<string, number>();
for (const [words, flag] of [
  [PLACE_HEADS, PLACE_HEAD],
  [NOT_AFTER_NAME, NOT_AFTER],
  [NEVER_NAMES, NEVER],
  [GIVEN_NAMES, GIVEN],
  [SURNAMES, SURNAME],
  [AMBIGUOUS_NAMES, AMBIGUOUS],
  [new Set(HONORIFICS.replace(/\\/g, "").split("|")), ASCII_HONORIFIC],
] as const) {
  for (const word of words) WORD_FLAGS.set(word, (WORD_FLAGS.get(word) ?? 0) | flag);
}
// The same for ASCII words, read from the code units: their key is their lower case.
const ASCII_WORD_FLAGS = new AsciiWordTable(WORD_FLAGS);

// Cues after which a run of capitalised words is a name, as the words right before it.
// strong: any capitalised run is a name; weak: two words or a known given name;
// greeting: one word followed by a comma; title: the run is a name.
const STRONG_CUES = [
  "my name is", "my full name is", "my first name is", "my last name is", "name's", "name is",
  "name:", "named", "called", "calls me", "call me", "signed", "signed by", "sincerely",
  "sincerely,", "regards", "regards,", "cheers,", "best,", "thanks,", "yours,",
  "yours truly,", "what's your name?", "whats your name?", "what's your first name?",
  "what's your last name?", "what's your full name?", "what's your surname?",
  "name on the account?", "name on the account? user:", "je m'appelle", "me llamo",
  "mi nombre es", "mi chiamo", "ich heiße", "ich heisse", "mein name ist", "meu nome é",
  "meu nome e", "chamo-me", "account holder", "cardholder", "contact:", "kontakt:", "attn",
  "attn:", "attn.", "from:", "to:", "author:", "directed by", "directed by:", "written by",
];
const WEAK_CUES = ["i'm", "im", "i am", "this is", "it's", "je suis", "soy", "sono", "ich bin"];
const GREETINGS = ["hi", "hello", "hey", "dear", "bonjour", "hallo", "hola", "ciao", "ola", "olá"];
const TITLE_CUES = HONORIFICS.replace(/\\/g, "").split("|").flatMap((t) => [t, `${t}.`]);

type Cue = "strong" | "weak" | "greeting" | "title";

// Cue phrases by their last word, so a look-up tries only the few that can end there.
const CUES_BY_LAST_WORD = new Map<string, [string, Cue][]>();
for (const [list, kind] of [
  [STRONG_CUES, "strong"],
  [WEAK_CUES, "weak"],
  [GREETINGS, "greeting"],
  [TITLE_CUES, "title"],
] as const) {
  for (const phrase of list) {
    const key = lastWord(phrase);
    const entries = CUES_BY_LAST_WORD.get(key) ?? [];
    entries.push([phrase, kind]);
    CUES_BY_LAST_WORD.set(key, entries);
  }
}
// The same for ASCII words, read from the code units: value i + 1 stands for CUE_LISTS[i].
const CUE_LISTS = [...CUES_BY_LAST_WORD.values()];
const ASCII_CUE_WORDS = new AsciiWordTable(
  new Map([...CUES_BY_LAST_WORD.keys()].map((word, i) => [word, i + 1])),
);

// "... as a beneficiary": a role in an account that only a person takes.
const ROLE_AFTER = new RegExp(
  String.raw`^\s+as\s+(?:a\s+|an\s+|the\s+|my\s+|our\s+)?(?:co-?)?(?:beneficiary|guardian|` +
    String.raw`owner|signatory|dependent|joint (?:holder|owner)|authori[sz]ed (?:user|signer)|` +
    String.raw`trustee|executor|nominee|emergency contact)`,
  "iu",
);
const CITY_AFTER = /^,\s*[A-Z]{2}\b/;
const NUMBER_AFTER = /^[ \t]*\d/;

interface Token {
  start: number;
  end: number;
  /** Lower case, diacritics removed, possessive dropped; see keyOf (set when needed). */
  key: string | undefined;
  capitalised: boolean;
  initial: boolean;
  possessive: boolean;
  /** A title or honorific ("Mr", "Dr", "Señora"). */
  honorific: boolean;
  /** What the word lists say about the key (PLACE_HEAD, GIVEN...). */
  flags: number;
}

/** Finds person names in a text; see the module comment for the rules. */
export function findPersons(text: string): PiiMatch[] {
  const out: PiiMatch[] = [];
  const candidates = tokens(text);
  if (candidates.length === 0) return out;

  const units = codeUnits(text);
  for (const chain of chains(candidates, text)) {
    const name = judge(chain, text, units);
    if (name) out.push({ type: "PERSON", start: name[0], end: name[1], priority: PRIORITY });
  }
  return out;
}

function tokens(text: string): Token[] {
  const out: Token[] = [];
  // Nothing below scans with codeUnits, so the shared array stays this text's.
  const units = codeUnits(text);
  const length = text.length;
  for (let i = 0; i < length; ) {
    const c = units[i] as number;
    // Most characters cannot start a name: skip them without a call.
    if (c < 65 || (c > 90 && c < 128)) {
      i += 1;
      continue;
    }
    const end = candidateEnd(text, units, i);
    if (end < 0) {
      i += codePointWidth(units, length, i);
      continue;
    }
    if (i > 0 && insideWord(units[i - 1] as number, text[i - 1] as string)) {
      i = end;
      continue;
    }

    out.push(token(text, units, i, end));
    i = end;
  }
  return out;
}

function token(text: string, units: Uint16Array, start: number, wordEnd: number): Token {
  let end = wordEnd;
  // "Kevin's", "Jones’": the possessive is not part of the name.
  let owned = false;
  const lastCode = units[end - 1] as number;
  if (end - start > 2 && (lastCode === 115 || lastCode === 39 || lastCode === 0x2019)) {
    const cut = lastCode === 115 ? end - 2 : end - 1;
    const mark = units[cut] as number;
    if (mark === 39 || mark === 0x2019) {
      end = cut;
      owned = true;
    }
  }
  while (end > start && units[end - 1] === 45) end -= 1;

  const length = end - start;
  if (isAsciiRange(units, start, end)) {
    const flags = ASCII_WORD_FLAGS.get(units, start, end);
    return {
      start,
      end,
      key: undefined,
      capitalised: length > 1 && isCapitalisedAscii(units, start, end),
      initial: length === 1,
      possessive: owned,
      honorific: (flags & ASCII_HONORIFIC) !== 0,
      flags,
    };
  }

  const raw = text.slice(start, end);
  const key = fold(raw);
  return {
    start,
    end,
    key,
    capitalised: length > 1 && isCapitalised(raw),
    initial: length === 1,
    possessive: owned,
    honorific: HONORIFIC.test(raw),
    flags: WORD_FLAGS.get(key) ?? 0,
  };
}

/** A token's key: lower case, diacritics removed (see fold). */
function keyOf(t: Token, text: string): string {
  t.key ??= text.slice(t.start, t.end).toLowerCase();
  return t.key;
}

function isAsciiRange(units: Uint16Array, start: number, end: number): boolean {
  for (let i = start; i < end; i += 1) if ((units[i] as number) > 127) return false;
  return true;
}

// isCapitalised for an ASCII word in units[start, end).
function isCapitalisedAscii(units: Uint16Array, start: number, end: number): boolean {
  let lower = false;
  for (let i = start + 1; i < end; i += 1) {
    const c = units[i] as number;
    if (c >= 97 && c <= 122) lower = true;
    else if (c === 39 && i + 1 < end) {
      const next = units[i + 1] as number;
      if (next >= 97 && next <= 122) return false;
    }
  }
  return lower;
}

/**
 * Where the candidate word starting at `at` ends, or -1 when none starts there: what a
 * global scan with the candidate pattern finds at that position. ASCII words are read by
 * code; a word with other characters goes to the pattern.
 */
function candidateEnd(text: string, units: Uint16Array, at: number): number {
  const first = units[at] as number;
  if (first < 128) {
    if (first < 65 || first > 90) return -1;
    let end = at + 1;
    for (; end < text.length; end += 1) {
      const c = units[end] as number;
      if (c >= 128) return candidateByPattern(text, at);
      if (!isAsciiNamePart(c)) break;
    }
    return end;
  }
  return candidateByPattern(text, at);
}

function candidateByPattern(text: string, at: number): number {
  CANDIDATE_AT.lastIndex = at;
  return CANDIDATE_AT.test(text) ? CANDIDATE_AT.lastIndex : -1;
}

// Letters, apostrophe and hyphen: the ASCII part of a candidate word after its capital.
function isAsciiNamePart(c: number): boolean {
  return (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || c === 39 || c === 45;
}

// A scan in Unicode mode steps over a surrogate pair as one character.
function codePointWidth(units: Uint16Array, length: number, at: number): number {
  const c = units[at] as number;
  if (c < 0xd800 || c > 0xdbff || at + 1 >= length) return 1;
  const next = units[at + 1] as number;
  return next >= 0xdc00 && next <= 0xdfff ? 2 : 1;
}

// A capital, then lower-case letters somewhere; "I'm", "It's", "Don't" are not names but
// "O'Brien" is. ASCII words are checked by code; others by pattern.
function isCapitalised(word: string): boolean {
  let lower = false;
  for (let i = 1; i < word.length; i += 1) {
    const c = word.charCodeAt(i);
    if (c > 127) return CAPITALISED.test(word) && !/['’]\p{Ll}/u.test(word);
    if (c >= 97 && c <= 122) lower = true;
    else if (c === 39 && i + 1 < word.length) {
      const next = word.charCodeAt(i + 1);
      if (next >= 97 && next <= 122) return false;
    }
  }
  return lower;
}

// "iPhone", "x2Go": a capital inside a word starts no name.
function insideWord(code: number, ch: string): boolean {
  if (code < 128) {
    return (code >= 97 && code <= 122) || (code >= 65 && code <= 90) ||
      (code >= 48 && code <= 57) || code === 39 || code === 45;
  }
  return INSIDE_WORD.test(ch);
}

function isAscii(word: string): boolean {
  for (let i = 0; i < word.length; i += 1) if (word.charCodeAt(i) > 127) return false;
  return true;
}

/** Lower case without diacritics, the form the word lists use. */
export function fold(word: string): string {
  if (isAscii(word)) return word.toLowerCase();
  return word.normalize("NFD").replace(/\p{M}/gu, "").toLowerCase().replace(/ß/g, "ss");
}

/** The cue that ends right before offset `at`, if any (see STRONG_CUES and the others). */
function cueBefore(text: string, units: Uint16Array, at: number): Cue | undefined {
  // A cue and the name may be split by spaces and one line break ("Regards,\nAnn").
  let end = at;
  while (end > 0 && isSpaceOrTab(text.charCodeAt(end - 1))) end -= 1;
  if (end > 0 && text.charCodeAt(end - 1) === 10) end -= 1;
  while (end > 0 && (isSpaceOrTab(text.charCodeAt(end - 1)) || text.charCodeAt(end - 1) === 13)) {
    end -= 1;
  }

  // Most runs follow no cue at all: look the last word up before building anything.
  const from = Math.max(0, end - 32);
  const [wordStart, wordEnd] = lastWordRange(text, from, end);
  if (wordStart === wordEnd || !mayStartCueWord(text.charCodeAt(wordStart))) return undefined;
  const entries = isAsciiRange(units, wordStart, wordEnd)
    ? CUE_LISTS[ASCII_CUE_WORDS.get(units, wordStart, wordEnd) - 1]
    : CUES_BY_LAST_WORD.get(text.slice(wordStart, wordEnd).toLowerCase());
  if (!entries) return undefined;

  const before = text.slice(from, end).toLowerCase().replace(/’/g, "'");
  for (const [phrase, kind] of entries) {
    if (!before.endsWith(phrase)) continue;
    const prior = before[before.length - phrase.length - 1];
    if (prior === undefined || !/\p{L}/u.test(prior)) return kind;
  }
  return undefined;
}

function isSpaceOrTab(c: number): boolean {
  return c === 32 || c === 9;
}

/** The last run of letters and apostrophes, ignoring trailing punctuation. */
function lastWord(text: string): string {
  const [start, end] = lastWordRange(text, 0, text.length);
  return text.slice(start, end);
}

/** lastWord of text[from, to), as offsets in text. */
function lastWordRange(text: string, from: number, to: number): [number, number] {
  let end = to;
  while (end > from && !isWordChar(text, end - 1)) end -= 1;
  let start = end;
  while (start > from && isWordChar(text, start - 1)) start -= 1;
  return [start, end];
}

function isWordChar(text: string, at: number): boolean {
  const c = text.charCodeAt(at);
  if (c < 128) return (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || c === 39;
  return c === 0x2019 || LETTER.test(text[at] as string);
}

// First letters of the cue words, lower case; a word starting otherwise is no cue.
const CUE_WORD_FIRSTS = new Uint8Array(128);
for (const word of CUES_BY_LAST_WORD.keys()) {
  const first = word.charCodeAt(0);
  if (first < 128) CUE_WORD_FIRSTS[first] = 1;
}

function mayStartCueWord(c: number): boolean {
  if (c >= 128) return true;
  return CUE_WORD_FIRSTS[c >= 65 && c <= 90 ? c + 32 : c] === 1;
}

/**
 * Groups capitalised words into runs on one line, separated by spaces and maybe particles
 * ("van", "de la"); a dot may follow a title or an initial ("Mr. Wright", "Ján M. Novák").
 */
function chains(all: readonly Token[], text: string): Token[][] {
  const out: Token[][] = [];
  let current: Token[] = [];

  const close = () => {
    // Initials do not end a name ("I" alone is a pronoun).
    while (current.length > 0 && !(current[current.length - 1] as Token).capitalised) {
      current.pop();
    }
    if (current.length > 0) out.push(current);
    current = [];
  };

  for (const t of all) {
    const last = current[current.length - 1];
    if (last) {
      const gap = text.slice(last.end, t.start);
      const dotted = last.initial || last.honorific;
      const joined = !last.possessive && (dotted ? DOTTED_GAP : GAP).test(gap);
      if (!joined) close();
    }
    current.push(t);
  }
  close();
  return out;
}

/** Decides whether a run (or the part of it after a title) is a name; returns its span. */
function judge(
  chain: readonly Token[],
  text: string,
  units: Uint16Array,
): [number, number] | undefined {
  const size = chain.length;
  if (((chain[0] as Token).flags & PLACE_HEAD) !== 0) return undefined;
  // A run that goes on with "Street", "Ltd" or "University" names a place or a firm.
  for (let k = 1; k < size; k += 1) {
    if (((chain[k] as Token).flags & NOT_AFTER) !== 0) return undefined;
  }

  // Openers and titles before the name are not part of it: "Hi Ana", "Mr Mateo Santos",
  // "Customer Susan Davis", "Producer Paul Silva". The name is chain[head, end).
  let titled = false;
  let head = 0;
  while (size - head > 1) {
    const opener = chain[head] as Token;
    if (opener.honorific) titled = true;
    else if ((opener.flags & NEVER) === 0 && !leadsKnownName(chain, head)) break;
    head += 1;
  }
  const first = chain[head] as Token;
  if (!first.capitalised || (first.flags & NEVER) !== 0 || first.honorific) return undefined;
  const end = Math.min(size, head + 4);

  const cue = cueBefore(text, units, first.start);
  titled ||= cue === "title";
  const last = chain[end - 1] as Token;
  const after = text.slice(last.end, last.end + 24);
  if (CITY_AFTER.test(after) && !titled) return undefined;

  const span: [number, number] = [first.start, last.end];
  if (titled || cue === "strong" || ROLE_AFTER.test(after)) return span;

  const given = (first.flags & GIVEN) !== 0;
  const ambiguous = (first.flags & AMBIGUOUS) !== 0;
  let words = 0;
  let tail = first;
  for (let k = head; k < end; k += 1) {
    const part = chain[k] as Token;
    if (!part.capitalised) continue;
    words += 1;
    tail = part;
  }
  if (words >= 2) {
    const surname = (tail.flags & SURNAME) !== 0 || SURNAME_SUFFIX.test(keyOf(tail, text));
    return given || surname || cue === "weak" ? span : undefined;
  }

  // One word: a greeting's addressee, a known given name, or a distinctive surname.
  if (cue === "greeting" && /^\s*[,!]/.test(after)) return span;
  if (NUMBER_AFTER.test(after) || ambiguous) return undefined;
  if (given) return span;
  if (sentenceStart(text, first.start)) return undefined;
  if ((first.flags & SURNAME) !== 0) return span;
  const key = keyOf(first, text);
  return SURNAME_SUFFIX.test(key) && key.length >= 6 ? span : undefined;
}

// An unknown capitalised word before a known given name is a title or a job: "Producer Paul".
function leadsKnownName(chain: readonly Token[], at: number): boolean {
  const head = chain[at];
  const next = chain[at + 1];
  if (!head || !next || !next.capitalised) return false;
  const known = (head.flags & (GIVEN | SURNAME)) !== 0;
  return !known && (next.flags & GIVEN) !== 0 && (next.flags & AMBIGUOUS) === 0;
}

function sentenceStart(text: string, index: number): boolean {
  const before = text.slice(Math.max(0, index - 4), index);
  return index === 0 || /(?:^|[.!?]\s*|\n\s*)$/.test(before) && !/\w$/.test(before);
}
