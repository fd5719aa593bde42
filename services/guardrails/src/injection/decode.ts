/**
 * Finds text hidden in base64, hex or URL encoding so the injection check can read it too.
 * Only decodings that come out as readable text with words are returned.
 */

import { ALNUM, asciiTable, codeUnits, memberOf } from "../runs.js";

/** A decoded payload and where its encoded form sits in the original text. */
export interface DecodedPayload {
  encoding: "base64" | "hex" | "url";
  start: number;
  end: number;
  text: string;
}

const HEX = /(?<![0-9A-Fa-f])(?:[0-9A-Fa-f]{2}[ :]?){12,}(?![0-9A-Fa-f])/g;
const URL_ENCODED = /[^\s%]*(?:%[0-9A-Fa-f]{2}[^\s%]*){4,}/g;
const MAX_PAYLOADS = 16;
const BASE64_CHARS = asciiTable(`${ALNUM}+/_-`);
const HEX_CHARS = asciiTable("0123456789abcdefABCDEF");
const HEX_SEPARATORS = asciiTable(" :");

/** Decodes the encoded runs of a text that turn out to be readable text. */
export function findEncodedPayloads(text: string): DecodedPayload[] {
  const out: DecodedPayload[] = [];
  if (text.length < 16) return out;

  const runs = scanRuns(text);
  for (const [start, end] of runs.base64) {
    if (out.length >= MAX_PAYLOADS) break;
    const raw = text.slice(start, end);
    // Plain words and hex digests match the alphabet too; real base64 mixes cases and digits.
    if (!/[A-Z]/.test(raw) || !/[a-z]/.test(raw)) continue;
    const standard = raw.replace(/-/g, "+").replace(/_/g, "/");
    const decoded = Buffer.from(standard, "base64").toString("utf8");
    if (readable(decoded)) out.push({ encoding: "base64", start, end, text: decoded });
  }

  for (const m of runs.hex ? text.matchAll(HEX) : []) {
    if (out.length >= MAX_PAYLOADS) break;
    const decoded = Buffer.from(m[0].replace(/[ :]/g, ""), "hex").toString("utf8");
    if (readable(decoded)) {
      out.push({ encoding: "hex", start: m.index, end: m.index + m[0].length, text: decoded });
    }
  }

  if (text.includes("%") && /%[0-9A-Fa-f]{2}/.test(text)) {
    for (const m of text.matchAll(URL_ENCODED)) {
      if (out.length >= MAX_PAYLOADS) break;
      const decoded = safeDecodeUri(m[0]);
      if (decoded && decoded !== m[0] && readable(decoded)) {
        out.push({ encoding: "url", start: m.index, end: m.index + m[0].length, text: decoded });
      }
    }
  }
  return out;
}

/**
 * One pass over the code units for both encodings. base64: runs as [start, end) of 16 or
 * more alphabet characters (standard or URL-safe) with up to two "=" of padding, standing
 * alone (no alphabet character or "=" on either side); a pattern with look-arounds would try
 * every position of the text. hex: whether 24 or more hex digits stand in a row, single
 * spaces or colons between them allowed ("de ad be ef"), which a hex payload needs.
 */
function scanRuns(text: string): { base64: [number, number][]; hex: boolean } {
  const base64: [number, number][] = [];
  const units = codeUnits(text);
  const length = text.length;
  let run = 0;
  let hexRun = 0;
  let lastWasSeparator = 0;
  let hex = false;
  for (let i = 0; i <= length; i += 1) {
    // Past the end, a unit that is in no table closes the last run.
    const unit = i < length ? (units[i] as number) : 0xffff;
    const member = memberOf(BASE64_CHARS, unit);
    // Only a long run ending here needs a look; testing its length first keeps this cheap.
    if (run >= 16 && member === 0) {
      const start = i - run;
      // A run right after "=" is the tail of something else.
      const afterPadding = start > 0 && units[start - 1] === EQUALS;
      let end = i;
      while (end < length && units[end] === EQUALS) end += 1;
      const next = end < length ? (units[end] as number) : 0xffff;
      const alone = !afterPadding && memberOf(BASE64_CHARS, next) === 0;
      if (alone && end - i <= 2) base64.push([start, end]);
    }
    run = (run + member) & -member;

    const digit = memberOf(HEX_CHARS, unit);
    const kept =
      memberOf(HEX_SEPARATORS, unit) & (lastWasSeparator ^ 1) & (-hexRun >>> 31) & (digit ^ 1);
    hexRun = (hexRun + digit) & -(digit | kept);
    lastWasSeparator = kept;
    if (hexRun >= 24) hex = true;
  }
  return { base64, hex };
}

const EQUALS = 61;

function safeDecodeUri(value: string): string | undefined {
  try {
    return decodeURIComponent(value.replace(/\+/g, " "));
  } catch {
    return undefined;
  }
}

/** Readable means mostly printable characters, no replacement characters, and some words. */
function readable(text: string): boolean {
  if (text.length < 8 || text.includes("\ufffd")) return false;

  let printable = 0;
  let letters = 0;
  for (let i = 0; i < text.length; i += 1) {
    const c = text.charCodeAt(i);
    if ((c >= 32 && c < 127) || c === 10 || c === 9 || c > 159) printable += 1;
    if ((c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c > 159) letters += 1;
  }
  return printable / text.length > 0.95 && letters / text.length > 0.6 && /\s/.test(text);
}
