import { parsePhoneNumberFromString, type CountryCode } from "libphonenumber-js";
import type { PiiMatch } from "./types.js";

// A phone-shaped run: optional +country code, optional (area code), digit groups split by
// single spaces, dots or dashes. Digit counts are checked after the match.
const CANDIDATE = new RegExp(
  String.raw`(?<![\w+@/.:-])(?:\+\d{1,3}[ .-]?)?(?:\(\d{1,5}\)[ .-]?)?` +
    String.raw`\d{1,10}(?:[ .-]\d{1,10}){0,6}(?![\w@]|[.-]\d)`,
  "g",
);

// Words that say a number nearby is a phone number, in the languages of the default regions.
const CONTEXT_BEFORE = new RegExp(
  String.raw`(?:` +
    String.raw`phone|telephone|\btel\b|mobile|\bcell|\bfax\b|\bcall|\breach\b|\bring\b|\bdial|` +
    String.raw`\btext\b|\bsms\b|whatsapp|contact|number|\bno\.|hotline|helpline|\bdesk\b|` +
    String.raw`office|landline|answering|messages?|voicemail|joindre|erreichen|anrufen|\bruf\b|` +
    String.raw`appele[rz]|llamar|chiamare|ligar|t[ée]l[ée]phone|telefon|\bhandy\b|tel[ée]fono|` +
    String.raw`celular|m[óo]vil|num[ée]ro|portable` +
    String.raw`)[^\d\n]{0,30}$`,
  "i",
);
const CONTEXT_AFTER = /^[ ,]*\(?(?:mobile|cell|office|fax|home|work|tel|phone|landline)\b/i;
// "9543 1819 St. John Street": numbers followed by a street word are a house number.
const STREET_AFTER =
  /^,? (?:st\.?|street|ave\.?|avenue|road|rd\.?|blvd|lane|ln\.?|drive|dr\.?|way|court|ct\.?)\b/i;
const SINGLE_DIGIT_GROUP = /(?<!\d)\d(?!\d)/g;
const LIST_JOIN = /^(?:,? ?(?:or|and|oder|und|ou|et|o|y)? ?|\s*[,/;|]\s*)$/i;
const DATE = /^(?:\d{4}[-./]\d{1,2}[-./]\d{1,2}|\d{1,2}[-./]\d{1,2}[-./]\d{2,4})(?!\d)/;
const TIME_OR_DECIMAL = /^\d+\.\d+$/;

// Regions tried for national formats when context says the number is a phone number.
const CONTEXT_REGIONS: readonly CountryCode[] = [
  "US", "GB", "DE", "FR", "IN", "AU", "JP", "BR", "ES", "IT", "NL", "CA", "MX", "CH",
];

/**
 * Finds phone numbers: international numbers (+ country code) that libphonenumber deems
 * possible, national numbers valid in the default region, and other national formats when a
 * word like "phone" or "call" stands close by.
 */
export function findPhones(text: string, region: CountryCode): PiiMatch[] {
  const found: PiiMatch[] = [];
  let previousEnd = -1;
  for (const m of text.matchAll(CANDIDATE)) {
    const raw = m[0];
    const digits = raw.replace(/\D/g, "");
    if (digits.length < 7 || digits.length > 15) continue;
    if (DATE.test(raw) || TIME_OR_DECIMAL.test(raw)) continue;
    // Phone numbers group digits in twos to fours; "1 2 3 4 5 6 7" is a list, not a number.
    if ((raw.replace(/^\+\d{1,3}/, "").match(SINGLE_DIGIT_GROUP) ?? []).length >= 3) continue;

    // "call +44 20 7946 0958 or 020 7946 0018": a number listed after a phone number is one.
    const start = m.index;
    const end = start + raw.length;
    const listed = previousEnd >= 0 && LIST_JOIN.test(text.slice(previousEnd, start));
    if (accept(text, raw, digits, start, end, region, listed)) {
      found.push({ type: "PHONE", start, end, priority: 1 });
      previousEnd = end;
    }
  }
  return found;
}

function accept(
  text: string,
  raw: string,
  digits: string,
  start: number,
  end: number,
  region: CountryCode,
  listed: boolean,
): boolean {
  if (raw.startsWith("+")) return parsePhoneNumberFromString(raw)?.isPossible() ?? false;

  if (STREET_AFTER.test(text.slice(end, end + 12))) return false;
  const separated = raw.length > digits.length;
  const context = listed || CONTEXT_BEFORE.test(text.slice(Math.max(0, start - 40), start)) ||
    CONTEXT_AFTER.test(text.slice(end, end + 16));

  // A bare run of digits is an order number or an id unless context says otherwise.
  if (!separated && !context) return false;
  if (parsePhoneNumberFromString(raw, region)?.isValid()) return true;
  if (!context) return false;

  if (digits.length > 13) return false;
  if (separated) return true;
  return CONTEXT_REGIONS.some((r) => parsePhoneNumberFromString(raw, r)?.isPossible());
}
