/**
 * Where a streamed block's held-back text may be cut for release. A chunk is checked on its
 * own, so a cut must never fall where the detectors, given the text that follows, would find
 * a value reaching back before the cut: that part would already be gone, unredacted. The
 * cases are kinds, not strings: an armored block (PEM) still open, a credential label whose
 * value has not come yet, and a value that runs up to the cut (or past it) and may go on.
 * Holding too long only delays text; releasing too early leaks it, so every rule errs long.
 */

import { findPii } from "../pii/detectors.js";
import type { PiiMatch } from "../pii/types.js";
import { sentenceEnds } from "./groundedness.js";

// Armor that holds a secret: private keys of every kind (RSA, EC, OPENSSH, ENCRYPTED, PGP
// PRIVATE KEY BLOCK) and anything labelled secret. Certificates, public keys and signed
// messages are public, and holding them costs much: a BEGIN line quoted in prose, or a PGP
// signed message (whose END line has another label), would hold the whole rest of the answer.
const ARMOR_BEGIN = /-----BEGIN ((?:[A-Z0-9 ]{0,40} )?(?:PRIVATE|SECRET)[A-Z0-9 ]{0,40})-----/g;
// The detectors stop looking for an END line 16 KB after a BEGIN line and take the base64
// lines that follow instead; past that bound a block no longer needs holding as a whole
// (a value still running to the cut is held by the match rule). Twice the bound, so a
// detector that looks further than today is still covered.
const MAX_ARMOR_CHARS = 32_768;

// A label that announces a credential, with nothing but its assignment, an opening quote
// or a scheme after it: the value comes in the next line or delta. The keywords are those
// of the detectors' keyword patterns plus bare schemes and "token", which a value may
// follow on the next line ("Authorization: Bearer\n<token>").
const PENDING_LABEL = new RegExp(
  String.raw`(?:\b(?:proxy-)?authorization|\b(?:bearer|basic|digest|token|apikey)|` +
    String.raw`\b(?:x-api-key|api[_-]?key|api[_-]?secret|secret(?:[_-]?key)?|` +
    String.raw`access[_-]?token|auth[_-]?token|refresh[_-]?token|client[_-]?secret|` +
    String.raw`private[_-]?key|password|passwd|pwd))\b` +
    String.raw`(?:\s*["']?\s*[:=]\s*["']?(?:\s*(?:bearer|basic|token|digest|apikey)\b)?)?` +
    String.raw`\s*$`,
  "i",
);
// The longest label with its assignment and whitespace that PENDING_LABEL needs to see.
const LABEL_WINDOW = 96;

// Words the detectors take as context for a bare number ("SSN", "card number"), ending the
// line before the cut: the number may be the next line, and checked alone, without the words
// already released, it would not be found ("My SSN is below.\n123456789").
const PENDING_CONTEXT = new RegExp(
  String.raw`\b(?:ssn|social security(?: number)?|card(?: number)?|credit card|iban|` +
    String.raw`account(?: number)?|routing(?: number)?|phone(?: number)?|passport(?: number)?|` +
    String.raw`date of birth|dob)\b[^\n]{0,24}\s*$`,
  "i",
);
const CONTEXT_WINDOW = 64;

/**
 * The end of the longest prefix of held text that is complete sentences and safe to check
 * and release now; 0 when nothing is. Steps back from the last sentence end past every end
 * where an armored block is open, a credential label (or the words that make a bare number
 * personal data) waits for its value, or a value found in the held text reaches or crosses
 * the cut with only whitespace between.
 */
export function releasableEnd(held: string, phoneRegion: string): number {
  const ends = sentenceEnds(held);
  if (ends.length === 0) return 0;

  const armor = armorSpans(held);
  // Over all of the held text: a value the cut would split is found whole here.
  const matches = findPii(held, phoneRegion);
  let last = matches.length - 1;
  for (let i = ends.length - 1; i >= 0; i -= 1) {
    const cut = ends[i] as number;
    // Matches do not overlap and come sorted, so only the last one starting before the cut
    // can reach it; the index only moves back as the cut does.
    while (last >= 0 && (matches[last] as PiiMatch).start >= cut) last -= 1;
    if (armor.some((a) => a.start < cut && cut < a.end)) continue;
    if (PENDING_LABEL.test(held.slice(Math.max(0, cut - LABEL_WINDOW), cut))) continue;
    if (PENDING_CONTEXT.test(held.slice(Math.max(0, cut - CONTEXT_WINDOW), cut))) continue;
    if (last >= 0 && reaches(held, matches[last] as PiiMatch, cut)) continue;
    return cut;
  }
  return 0;
}

/** Armored blocks from BEGIN line to the end of the END line, or open-ended when unclosed. */
function armorSpans(held: string): { start: number; end: number }[] {
  if (!held.includes("-----BEGIN ")) return [];

  const spans: { start: number; end: number }[] = [];
  let from = 0;
  for (const m of held.matchAll(ARMOR_BEGIN)) {
    if (m.index < from) continue;
    const bodyStart = m.index + m[0].length;
    const endLine = `-----END ${m[1] ?? ""}-----`;
    const endAt = held.indexOf(endLine, bodyStart);
    if (endAt >= 0) {
      from = endAt + endLine.length;
      spans.push({ start: m.index, end: from });
      continue;
    }
    // Unclosed: open to the end of the stream, unless it is already past any END search.
    if (held.length - bodyStart <= MAX_ARMOR_CHARS) spans.push({ start: m.index, end: Infinity });
    break;
  }
  return spans;
}

// A value ending at the cut may go on past it ("221B Baker Street\nLondon…", a key's next
// base64 line); one crossing the cut is split by it.
function reaches(held: string, match: PiiMatch, cut: number): boolean {
  if (match.end > cut) return true;
  for (let i = match.end; i < cut; i += 1) {
    if (!/\s/.test(held[i] as string)) return false;
  }
  return true;
}
