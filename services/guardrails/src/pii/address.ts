/**
 * Postal addresses by rule, in the formats of the US, the UK, Germany and France plus the
 * common shapes elsewhere: a house number and a street with a street-type word ("12 Oak
 * Street", "36 rue des Lilas", "Birkenstraße 100", "Via Roma 10"), then optionally a unit
 * ("Apt 4B"), a town with a state and ZIP code, a UK postcode, a postcode before the town or
 * a country, on the same line or the next ones. US military addresses (PSC/APO/FPO) too.
 * A street alone is an address; a town alone is not.
 */

import { codeUnits } from "../runs.js";
import type { PiiMatch } from "./types.js";

/** Match priority: above phone numbers and names, below card numbers and secrets. */
const PRIORITY = 3.5;

// Street-type words: the USPS suffix list's common entries, UK and Irish ones, abbreviations.
const STREET_TYPES =
  "Street|St|Avenue|Ave|Av|Road|Rd|Boulevard|Blvd|Drive|Dr|Lane|Ln|Way|Court|Ct|Close|" +
  "Place|Pl|Terrace|Ter|Crescent|Cres|Square|Sq|Parkway|Pkwy|Highway|Hwy|Circle|Cir|Trail|" +
  "Trl|Alley|Aly|Loop|Path|Pike|Plaza|Plz|Point|Pt|Ridge|Run|Row|Walk|Mews|Gardens|Grove|" +
  "Hill|Heights|Hts|Park|Pass|Rapids|Summit|Turnpike|Expressway|Freeway|Causeway|Crossing|" +
  "Xing|Commons|Cove|Creek|Glen|Green|Harbor|Harbour|Hollow|Junction|Landing|Manor|Meadow|" +
  "Meadows|Mill|Orchard|Oval|Parade|Quay|Spur|Station|Track|Vale|View|Villas|Vista|Wharf|" +
  "Wynd|Broadway";
// Romance-language street types stand before the name: "rue des Lilas", "Via Roma".
const TYPE_FIRST =
  "rue|Rue|avenue|Avenue|av\\.|Av\\.|boulevard|Boulevard|bd|Bd|place|Place|chemin|Chemin|" +
  "allée|Allée|allee|impasse|Impasse|quai|Quai|route|Route|cours|Cours|passage|Passage|" +
  "Calle|calle|Avenida|avenida|Paseo|paseo|Plaza|Carrer|Camino|Via|via|Viale|viale|Piazza|" +
  "piazza|Corso|corso|Strada|strada|Vicolo|Rua|rua|Travessa|travessa|Largo|largo|Praça|" +
  "praça|Alameda|Rodovia|Estrada";
// German, Dutch and Nordic street names are one word ending in the type, number after.
const STREET_ENDINGS =
  "straße|strasse|str\\.|weg|allee|platz|gasse|ring|damm|ufer|steig|pfad|chaussee|markt|gata|" +
  "gatan|gaten|vej|vei|veien|vägen|vagen|katu|tie|laan|straat|gracht|plein|kade|dreef|singel";
const SUFFIX_STREET = `[\\p{Lu}][\\p{L}\\p{M}-]*(?:${STREET_ENDINGS})`;

const NUM = "\\d{1,6}[A-Za-z]?(?:[-/]\\d{1,5}[A-Za-z]?)?";
// A unit word ("Suite 910") starts the unit, not more of the street's name.
// Title-case headlines ("5 Ways To Park Cheaply") are not street names either.
const NAME_WORD =
  "(?!(?:Apt|Apartment|Suite|Ste|Unit|Flat|Floor|Room|Building|Box|To|Of|And|For|In|On|" +
  "With|Your|My|A|An|How|Why|What|Is|Are|Best|Top|Ways|Tips|Steps|Things|Reasons|Days|" +
  "Years|Minutes|Hours|Times|Easy|Simple|Great|Good|New)\\b)" +
  "(?:[\\p{Lu}][\\p{L}\\p{M}'’.-]*|[\\p{Lu}]\\.)";
const LINK = "(?:de|du|des|de la|d'|la|le|les|del|della|delle|dei|di|da|do|dos|das|van|von|" +
  "der|den|of|the|y|e)";
const NAME_RUN = `${NAME_WORD}(?:[ \\t]+(?:${LINK}[ \\t]+)?${NAME_WORD}){0,4}`;
const UNIT =
  "(?:Apt\\.?|Apartment|Suite|Ste\\.?|Unit|Flat|Floor|Fl\\.?|Room|Rm\\.?|Bldg\\.?|Building|" +
  "#|Wohnung|Whg\\.?|Appt\\.?|Bât\\.?|Piso|Interno|Int\\.)[ \\t]*#?[ \\t]*[\\dA-Za-z][\\w-]*";
// Between the parts of an address: a comma, a line break or both.
const SEP = "(?:[ \\t]*,[ \\t]*\\n?[ \\t]*|[ \\t]*\\n[ \\t]*,?[ \\t]*)";
const TOWN_WORD = "[\\p{Lu}][\\p{L}\\p{M}'’.-]+";
const TOWN = `(?:${TOWN_WORD}(?:[ \\t-]+(?:${LINK}[ \\t]+)?${TOWN_WORD}){0,3})`;
const US_STATE_ZIP = "[A-Z]{2}[ \\t]+\\d{5}(?:-\\d{4})?";
const UK_POSTCODE = "[A-Z]{1,2}\\d[A-Z\\d]?[ \\t]?\\d[A-Z]{2}";
const COUNTRIES =
  "United States|USA|U\\.S\\.A\\.|United Kingdom|UK|England|Scotland|Wales|Ireland|Germany|" +
  "Deutschland|France|Spain|España|Italy|Italia|Portugal|Netherlands|Belgium|Belgique|" +
  "Switzerland|Schweiz|Suisse|Austria|Österreich|Sweden|Norway|Denmark|Finland|Iceland|" +
  "Poland|Czechia|Czech Republic|Slovakia|Hungary|Estonia|Latvia|Lithuania|Greece|Canada|" +
  "Australia|New Zealand|Brazil|Brasil|Mexico|México|Argentina|Chile|India|Japan|China";

// What may follow the street: a unit, then a town with its code, or a country.
const TAIL =
  `(?:(?:[ \\t]*,?[ \\t]*|${SEP})${UNIT})?` +
  `(?:${SEP}(?:` +
  // "Springfield, IL 62704", "Caxias do Sul, RS 24893"
  `${TOWN}[ \\t]*,[ \\t]*${US_STATE_ZIP}` +
  // "Bath BA1 1AA"
  `|${TOWN}[ \\t]+${UK_POSTCODE}` +
  // "10115 Berlin", "75001 Paris", "1000-001 Lisboa"
  `|\\d{4,5}(?:-\\d{3})?[ \\t]+${TOWN}` +
  // "Tubize, Belgium", "MARIEHOLM, Sweden", "Town, Country 12345"
  `|${TOWN}${SEP}(?:${COUNTRIES})(?:[ \\t]+\\d{4,6})?` +
  // "Town\nUnited Kingdom" (multi-line, no commas)
  `|${TOWN}[ \\t]*\\n[ \\t]*(?:${COUNTRIES})` +
  `|(?:${COUNTRIES})(?:[ \\t]+\\d{4,6})?` +
  "))?";

// Romance street types written with a capital, as they stand at an address's start.
const TYPE_FIRST_CAPITAL = TYPE_FIRST.split("|")
  .filter((t) => /^[A-ZÀ-Þ]/.test(t))
  .join("|");

/**
 * A pattern and a cheap test (ASCII, no Unicode mode) that must pass before it runs.
 * `starts` says where a match can begin, for patterns whose first character is a digit
 * ("digit") or a digit or capital ("digitOrCapital") after no word character or "-": they
 * are tried there alone instead of at every position of the text (see matchesAt).
 */
interface AddressPattern {
  /** `lower` is the text in lower case, for gates that ignore case. */
  gate: { test(text: string, lower: string): boolean };
  re: RegExp;
  starts?: "digit" | "digitOrCapital";
}

// A word ending like a street ("…straße", "…gata", "Weg") right before a number.
const ENDS_LIKE_STREET = new RegExp(`(?:${STREET_ENDINGS})$`, "i");

// Letters of the street endings (ASCII, ß, ä, ö, å), a dot ("Str.") or a hyphen.
function streetChar(c: number): boolean {
  return (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || c === 46 || c === 45 ||
    c === 0xdf || c === 0xe4 || c === 0xf6 || c === 0xfc || c === 0xe5;
}

function hasSuffixStreet(text: string): boolean {
  const units = codeUnits(text);
  for (let i = 1; i < text.length; i += 1) {
    const c = units[i] as number;
    if (c < 48 || c > 57) continue;
    const before = units[i - 1] as number;
    if (before !== 32 && before !== 9) continue;
    let end = i;
    while (end > 0 && (units[end - 1] === 32 || units[end - 1] === 9)) end -= 1;
    if (end === i) continue;

    let start = end;
    while (start > 0 && streetChar(units[start - 1] as number)) start -= 1;
    if (end - start >= 3 && ENDS_LIKE_STREET.test(text.slice(start, end))) return true;
  }
  return false;
}

const BOX_MARKS = ["box", "bp", "fach", "apartado"];
const BOX = /\b(?:P\.?[ \t]?O\.?[ \t]?Box|Post Office Box|Postfach|BP|Apartado)[ \t]+\d/i;

const PATTERNS: readonly AddressPattern[] = [
  {
    // "6210 Lakeview Boulevard", "9543 1819 St. John Street Suite 056": number, name, type.
    gate: new RegExp(`\\b(?:${STREET_TYPES})\\b`),
    re: new RegExp(
      `(?<![\\w-])${NUM}(?:[ \\t]+${NUM})?[ \\t]+(?:${LINK}[ \\t]+)?${NAME_RUN}[ \\t]+` +
        `(?:${STREET_TYPES})\\.?(?![\\p{L}\\d])${TAIL}`,
      "gu",
    ),
    starts: "digit",
  },
  {
    // "36 rue des Lilas", "010 63 Avenue du Golf Arabe": number, type, name.
    gate: new RegExp(`\\d(?:[ \\t]?(?:bis|ter))?,?[ \\t]+(?:${TYPE_FIRST})[ \\t]`),
    re: new RegExp(
      `(?<![\\w-])${NUM}(?:[ \\t]?(?:bis|ter))?(?:[ \\t]+${NUM})?,?[ \\t]+(?:${TYPE_FIRST})` +
        `[ \\t]+(?:${LINK}[ \\t]+|d'|l')?${NAME_RUN}${TAIL}`,
      "gu",
    ),
    starts: "digit",
  },
  {
    // "Via Roma 10", "Rua Augusta, 123": type, name, number.
    gate: new RegExp(`(?:${TYPE_FIRST_CAPITAL})[ \\t]+[A-ZÀ-Þ]`),
    re: new RegExp(
      `(?<![\\p{L}])(?:${TYPE_FIRST_CAPITAL})[ \\t]+(?:${LINK}[ \\t]+)?${NAME_RUN},?[ \\t]+` +
        `${NUM}(?![\\w])${TAIL}`,
      "gu",
    ),
  },
  {
    // "Birkenstraße 100", "Berliner Straße 5", "41377 Schachterlweg 62 Apt. 501 POLSING OO".
    gate: { test: hasSuffixStreet },
    re: new RegExp(
      `(?<![\\w-])(?:${NUM}[ \\t]+)?(?:${SUFFIX_STREET}|${NAME_WORD}[ \\t]+(?:Straße|Strasse|` +
        `Weg|Allee|Platz|Gasse|Ring|Damm|Ufer|Markt))[ \\t]+${NUM}(?![\\w])${TAIL}` +
        "(?:[ \\t]+[A-Z]{3,}(?:[ \\t]+[A-Z]{2})?(?![\\w]))?",
      "gu",
    ),
    starts: "digitOrCapital",
  },
  {
    // "19902 Dobrovského 1394 Apt. 066": number, name, number and a unit, no type word.
    gate: /\b(?:Apt|Apartment|Suite|Ste|Unit|Flat|Floor|Room|Bldg|Building|Wohnung|Whg|Appt)\b|#/,
    re: new RegExp(
      `(?<![\\w-])${NUM}[ \\t]+${NAME_WORD}(?:[ \\t]+${NAME_WORD}){0,2}[ \\t]+${NUM}[ \\t]+` +
        `${UNIT}${TAIL}(?:[ \\t]+[A-Z]{3,}(?:[ \\t]+[A-Z]{2})?(?![\\w]))?`,
      "gu",
    ),
    starts: "digit",
  },
  {
    // US military mail: "PSC 1234, Box 5678\nAPO AE 09876", "USNS Comfort\nFPO AA 34001".
    gate: /\b(?:APO|FPO|DPO)\b/,
    re: new RegExp(
      "\\b(?:(?:PSC|CMR|Unit)[ \\t]+\\d{3,5},?[ \\t]+Box[ \\t]+\\d{1,5}|(?:USNS|USNV|USS|USCGC)" +
        "[ \\t]+[\\p{Lu}][\\p{L}]+(?:[ \\t]+[\\p{Lu}][\\p{L}]+)?)(?:[ \\t]*,?[ \\t]*\\n?[ \\t]*)" +
        "(?:APO|FPO|DPO)[ \\t]+(?:AA|AE|AP)[ \\t]+\\d{5}(?:-\\d{4})?",
      "gu",
    ),
  },
  {
    // "P.O. Box 123, Springfield, IL 62704"
    gate: {
      // Every box word holds a mark; includes() is cheaper than a scan that ignores case.
      test: (text, lower) => BOX_MARKS.some((mark) => lower.includes(mark)) && BOX.test(text),
    },
    re: new RegExp(
      `\\b(?:P\\.?[ \\t]?O\\.?[ \\t]?Box|Post Office Box|Postfach|BP|Apartado)[ \\t]+\\d{1,6}` +
        `${TAIL}`,
      "giu",
    ),
  },
];

// "My address is", "ship to", "Adresse :": what follows up to the street is address too.
const CUE_BEFORE = new RegExp(
  String.raw`(?:\b[Aa]ddress(?:es)?(?:\s+(?:is|was|to|with|as|now))?(?:\s+the\s+same)?|` +
    String.raw`\b[Ss]hip(?:ped)?\s+to|\b[Ss]end\s+(?:it\s+)?to|\b[Dd]eliver(?:ed)?\s+to|` +
    String.raw`\b[Aa]dresse|\b[Aa]nschrift|\b[Dd]irecci[oó]n|\b[Ii]ndirizzo|\b[Ee]ndere[cç]o)` +
    String.raw`\s*:?\s*` +
    // A building or estate name: capitalised first word, at most four words.
    String.raw`(\p{Lu}[\p{L}\p{M}'’-]*[ \t]+(?:[\p{L}\p{M}'’-]+[ \t]+){0,3})$`,
  "u",
);

/**
 * Finds postal addresses; overlapping matches are settled by the caller (longest wins).
 * `lower` is the text in lower case, when the caller has it already.
 */
export function findAddresses(text: string, lower?: string): PiiMatch[] {
  const out: PiiMatch[] = [];
  // Every address shape has a digit: a house number, a postcode or a box number.
  if (!/\d/.test(text)) return out;

  const lowerText = lower ?? text.toLowerCase();
  for (const pattern of PATTERNS) {
    if (!pattern.gate.test(text, lowerText)) continue;
    const matches = pattern.starts ? matchesAt(text, pattern) : text.matchAll(pattern.re);
    for (const m of matches) {
      const end = m.index + trimmedLength(m[0]);
      out.push({ type: "ADDRESS", start: leadingWords(text, m.index), end, priority: PRIORITY });
    }
  }
  return out;
}

// The patterns with `starts`, sticky: tried at one position only.
const STICKY = new Map(
  PATTERNS.filter((p) => p.starts).map((p) => [p, new RegExp(p.re.source, "uy")]),
);

/**
 * What text.matchAll(pattern.re) finds, trying the pattern only where a match can begin: at
 * each such position from the end of the last match on, the first that matches is the
 * leftmost match, as a scan would find it. A scan in Unicode mode with a look-behind first
 * spends most of its time at positions where nothing can start.
 */
function matchesAt(text: string, pattern: AddressPattern): RegExpExecArray[] {
  const sticky = STICKY.get(pattern) as RegExp;
  const out: RegExpExecArray[] = [];
  let from = 0;
  for (const at of startPositions(text, pattern.starts === "digitOrCapital")) {
    if (at < from) continue;
    sticky.lastIndex = at;
    const m = sticky.exec(text);
    if (!m) continue;
    out.push(m);
    from = at + m[0].length;
  }
  return out;
}

/**
 * Digits (and capitals, or any non-ASCII character) with no word character or "-" before
 * them. The second half of a surrogate pair is no position: a Unicode-mode scan steps over
 * the pair.
 */
function startPositions(text: string, capitals: boolean): number[] {
  const out: number[] = [];
  const units = codeUnits(text);
  for (let i = 0; i < text.length; i += 1) {
    const c = units[i] as number;
    const digit = c >= 48 && c <= 57;
    if (!digit && !(capitals && ((c >= 65 && c <= 90) || c >= 128))) continue;
    const before = i > 0 ? (units[i - 1] as number) : 0;
    if (isWordOrHyphen(before) || (isTrail(c) && isLead(before))) continue;
    out.push(i);
  }
  return out;
}

function isLead(c: number): boolean {
  return c >= 0xd800 && c <= 0xdbff;
}

function isTrail(c: number): boolean {
  return c >= 0xdc00 && c <= 0xdfff;
}

// \w in Unicode mode without the i flag is ASCII only, as in the patterns' (?<![\w-]).
function isWordOrHyphen(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95 ||
    c === 45;
}

/** Where an address starts when a cue names it and a building name precedes the street. */
function leadingWords(text: string, start: number): number {
  const cue = CUE_BEFORE.exec(text.slice(Math.max(0, start - 80), start));
  return cue ? start - (cue[1] as string).length : start;
}

// Trailing spaces and commas are not part of an address; a final dot only after "St.".
function trimmedLength(value: string): number {
  let end = value.length;
  while (end > 0 && /[\s,]/.test(value[end - 1] as string)) end -= 1;
  const abbreviation = /\b(?:St|Ave|Av|Rd|Blvd|Dr|Ln|Ct|Pl|Apt|Ste)\.$/;
  if (value[end - 1] === "." && !abbreviation.test(value.slice(0, end))) end -= 1;
  return end;
}
