/**
 * Postal addresses by rule, in the formats of the US, the UK, Germany and France plus the
 * common shapes elsewhere: a house number and a street with a street-type word ("12 Oak
 * Street", "36 rue des Lilas", "Birkenstraße 100", "Via Roma 10"), then optionally a unit
 * ("Apt 4B"), a town with a state and ZIP code, a UK postcode, a postcode before the town or
 * a country, on the same line or the next ones. US military addresses (PSC/APO/FPO) too.
 * A street alone is an address; a town alone is not.
 */

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

/** A pattern and a cheap test (ASCII, no Unicode mode) that must pass before it runs. */
interface AddressPattern {
  gate: { test(text: string): boolean };
  re: RegExp;
}

// A word ending like a street ("…straße", "…gata", "Weg") right before a number.
const ENDS_LIKE_STREET = new RegExp(`(?:${STREET_ENDINGS})$`, "i");

// Letters of the street endings (ASCII, ß, ä, ö, å), a dot ("Str.") or a hyphen.
function streetChar(c: number): boolean {
  return (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || c === 46 || c === 45 ||
    c === 0xdf || c === 0xe4 || c === 0xf6 || c === 0xfc || c === 0xe5;
}

function hasSuffixStreet(text: string): boolean {
  for (let i = 1; i < text.length; i += 1) {
    const c = text.charCodeAt(i);
    if (c < 48 || c > 57) continue;
    const before = text.charCodeAt(i - 1);
    if (before !== 32 && before !== 9) continue;
    let end = i;
    while (end > 0 && (text[end - 1] === " " || text[end - 1] === "\t")) end -= 1;
    if (end === i) continue;

    let start = end;
    while (start > 0 && streetChar(text.charCodeAt(start - 1))) start -= 1;
    if (end - start >= 3 && ENDS_LIKE_STREET.test(text.slice(start, end))) return true;
  }
  return false;
}

const PATTERNS: readonly AddressPattern[] = [
  {
    // "6210 Lakeview Boulevard", "9543 1819 St. John Street Suite 056": number, name, type.
    gate: new RegExp(`\\b(?:${STREET_TYPES})\\b`),
    re: new RegExp(
      `(?<![\\w-])${NUM}(?:[ \\t]+${NUM})?[ \\t]+(?:${LINK}[ \\t]+)?${NAME_RUN}[ \\t]+` +
        `(?:${STREET_TYPES})\\.?(?![\\p{L}\\d])${TAIL}`,
      "gu",
    ),
  },
  {
    // "36 rue des Lilas", "010 63 Avenue du Golf Arabe": number, type, name.
    gate: new RegExp(`\\d(?:[ \\t]?(?:bis|ter))?,?[ \\t]+(?:${TYPE_FIRST})[ \\t]`),
    re: new RegExp(
      `(?<![\\w-])${NUM}(?:[ \\t]?(?:bis|ter))?(?:[ \\t]+${NUM})?,?[ \\t]+(?:${TYPE_FIRST})` +
        `[ \\t]+(?:${LINK}[ \\t]+|d'|l')?${NAME_RUN}${TAIL}`,
      "gu",
    ),
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
  },
  {
    // "19902 Dobrovského 1394 Apt. 066": number, name, number and a unit, no type word.
    gate: /\b(?:Apt|Apartment|Suite|Ste|Unit|Flat|Floor|Room|Bldg|Building|Wohnung|Whg|Appt)\b|#/,
    re: new RegExp(
      `(?<![\\w-])${NUM}[ \\t]+${NAME_WORD}(?:[ \\t]+${NAME_WORD}){0,2}[ \\t]+${NUM}[ \\t]+` +
        `${UNIT}${TAIL}(?:[ \\t]+[A-Z]{3,}(?:[ \\t]+[A-Z]{2})?(?![\\w]))?`,
      "gu",
    ),
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
    gate: /\b(?:P\.?[ \t]?O\.?[ \t]?Box|Post Office Box|Postfach|BP|Apartado)[ \t]+\d/i,
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

/** Finds postal addresses; overlapping matches are settled by the caller (longest wins). */
export function findAddresses(text: string): PiiMatch[] {
  const out: PiiMatch[] = [];
  // Every address shape has a digit: a house number, a postcode or a box number.
  if (!/\d/.test(text)) return out;

  for (const { gate, re } of PATTERNS) {
    if (!gate.test(text)) continue;
    for (const m of text.matchAll(re)) {
      const end = m.index + trimmedLength(m[0]);
      out.push({ type: "ADDRESS", start: leadingWords(text, m.index), end, priority: PRIORITY });
    }
  }
  return out;
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
