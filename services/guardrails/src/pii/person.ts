/**
 * Person names by rule: runs of capitalised words ("Ana María de la Cruz", "Ján M. Novák")
 * accepted when a cue says they are a name (a title, "my name is", a greeting, a closing, a
 * "Name:" label) or when their words are known given names or surnames. A name that is
 * really a street, a firm or a town ("George Street", "Madison, WI") is left alone. The span
 * covers the name only: not the title, not a possessive "'s".
 */

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
// No lookbehind: V8 would try it at every position. The character before is checked in code.
const CANDIDATE = /\p{Lu}[\p{L}\p{M}'’-]*/gu;
const INSIDE_WORD = /[\p{L}\p{M}\d'’-]/u;
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
  text: string;
  /** Lower case, diacritics removed, possessive dropped. */
  key: string;
  capitalised: boolean;
  initial: boolean;
  possessive: boolean;
}

/** Finds person names in a text; see the module comment for the rules. */
export function findPersons(text: string): PiiMatch[] {
  const out: PiiMatch[] = [];
  const candidates = tokens(text);
  if (candidates.length === 0) return out;

  for (const chain of chains(candidates, text)) {
    const name = judge(chain, text);
    if (name) out.push({ type: "PERSON", start: name[0], end: name[1], priority: PRIORITY });
  }
  return out;
}

function tokens(text: string): Token[] {
  const out: Token[] = [];
  // exec in a loop: matchAll's iterator costs more than the matching on short texts.
  CANDIDATE.lastIndex = 0;
  for (let m = CANDIDATE.exec(text); m !== null; m = CANDIDATE.exec(text)) {
    if (m.index > 0 && insideWord(text.charCodeAt(m.index - 1), text[m.index - 1] as string)) {
      continue;
    }
    let raw = m[0];
    // "Kevin's", "Jones’": the possessive is not part of the name.
    let owned = false;
    const lastCode = raw.charCodeAt(raw.length - 1);
    if (raw.length > 2 && (lastCode === 115 || lastCode === 39 || lastCode === 0x2019)) {
      const cut = lastCode === 115 ? raw.length - 2 : raw.length - 1;
      const mark = raw.charCodeAt(cut);
      if (mark === 39 || mark === 0x2019) {
        raw = raw.slice(0, cut);
        owned = true;
      }
    }
    while (raw.endsWith("-")) raw = raw.slice(0, -1);

    out.push({
      start: m.index,
      end: m.index + raw.length,
      text: raw,
      key: fold(raw),
      capitalised: raw.length > 1 && isCapitalised(raw),
      initial: raw.length === 1,
      possessive: owned,
    });
  }
  return out;
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
function cueBefore(text: string, at: number): Cue | undefined {
  // A cue and the name may be split by spaces and one line break ("Regards,\nAnn").
  let end = at;
  while (end > 0 && /[ \t]/.test(text[end - 1] as string)) end -= 1;
  if (end > 0 && text[end - 1] === "\n") end -= 1;
  while (end > 0 && /[ \t\r]/.test(text[end - 1] as string)) end -= 1;

  // Most runs follow no cue at all: look the last word up before building anything.
  const raw = text.slice(Math.max(0, end - 32), end);
  const entries = CUES_BY_LAST_WORD.get(lastWord(raw).toLowerCase());
  if (!entries) return undefined;

  const before = raw.toLowerCase().replace(/’/g, "'");
  for (const [phrase, kind] of entries) {
    if (!before.endsWith(phrase)) continue;
    const prior = before[before.length - phrase.length - 1];
    if (prior === undefined || !/\p{L}/u.test(prior)) return kind;
  }
  return undefined;
}

/** The last run of letters and apostrophes, ignoring trailing punctuation. */
function lastWord(text: string): string {
  let end = text.length;
  while (end > 0 && !isWordChar(text[end - 1] as string)) end -= 1;
  let start = end;
  while (start > 0 && isWordChar(text[start - 1] as string)) start -= 1;
  return text.slice(start, end);
}

function isWordChar(ch: string): boolean {
  const c = ch.charCodeAt(0);
  if (c < 128) return (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || c === 39;
  return c === 0x2019 || /\p{L}/u.test(ch);
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
      const dotted = last.initial || HONORIFIC.test(last.text);
      const joined = !last.possessive && (dotted ? DOTTED_GAP : GAP).test(gap);
      if (!joined) close();
    }
    current.push(t);
  }
  close();
  return out;
}

/** Decides whether a run (or the part of it after a title) is a name; returns its span. */
function judge(chain: readonly Token[], text: string): [number, number] | undefined {
  let parts = [...chain];
  if (PLACE_HEADS.has((parts[0] as Token).key)) return undefined;
  // A run that goes on with "Street", "Ltd" or "University" names a place or a firm.
  if (parts.some((p, i) => i > 0 && NOT_AFTER_NAME.has(p.key))) return undefined;

  // Openers and titles before the name are not part of it: "Hi Ana", "Mr Mateo Santos",
  // "Customer Susan Davis", "Producer Paul Silva".
  let titled = false;
  while (parts.length > 1) {
    const head = parts[0] as Token;
    if (HONORIFIC.test(head.text)) titled = true;
    else if (!NEVER_NAMES.has(head.key) && !leadsKnownName(parts)) break;
    parts.shift();
  }
  const first = parts[0] as Token;
  if (!first.capitalised || NEVER_NAMES.has(first.key) || HONORIFIC.test(first.text)) {
    return undefined;
  }
  parts = parts.slice(0, 4);

  const cue = cueBefore(text, first.start);
  titled ||= cue === "title";
  const last = parts[parts.length - 1] as Token;
  const after = text.slice(last.end, last.end + 24);
  if (CITY_AFTER.test(after) && !titled) return undefined;

  const span: [number, number] = [first.start, last.end];
  if (titled || cue === "strong" || ROLE_AFTER.test(after)) return span;

  const given = GIVEN_NAMES.has(first.key);
  const ambiguous = AMBIGUOUS_NAMES.has(first.key);
  const words = parts.filter((p) => p.capitalised);
  if (words.length >= 2) {
    const tail = words[words.length - 1] as Token;
    const surname = SURNAMES.has(tail.key) || SURNAME_SUFFIX.test(tail.key);
    return given || surname || cue === "weak" ? span : undefined;
  }

  // One word: a greeting's addressee, a known given name, or a distinctive surname.
  if (cue === "greeting" && /^\s*[,!]/.test(after)) return span;
  if (NUMBER_AFTER.test(after) || ambiguous) return undefined;
  if (given) return span;
  if (sentenceStart(text, first.start)) return undefined;
  if (SURNAMES.has(first.key)) return span;
  return SURNAME_SUFFIX.test(first.key) && first.key.length >= 6 ? span : undefined;
}

// An unknown capitalised word before a known given name is a title or a job: "Producer Paul".
function leadsKnownName(parts: readonly Token[]): boolean {
  const [head, next] = parts;
  if (!head || !next || !next.capitalised) return false;
  const known = (t: Token) => GIVEN_NAMES.has(t.key) || SURNAMES.has(t.key);
  return !known(head) && GIVEN_NAMES.has(next.key) && !AMBIGUOUS_NAMES.has(next.key);
}

function sentenceStart(text: string, index: number): boolean {
  const before = text.slice(Math.max(0, index - 4), index);
  return index === 0 || /(?:^|[.!?]\s*|\n\s*)$/.test(before) && !/\w$/.test(before);
}
