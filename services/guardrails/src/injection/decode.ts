/**
 * Finds text hidden in base64, hex or URL encoding so the injection check can read it too.
 * Only decodings that come out as readable text with words are returned.
 */

import { ALNUM, asciiTable, hasRun, hasSeparatedRun } from "../runs.js";

/** A decoded payload and where its encoded form sits in the original text. */
export interface DecodedPayload {
  encoding: "base64" | "hex" | "url";
  start: number;
  end: number;
  text: string;
}

const BASE64 = /(?<![A-Za-z0-9+/=_-])[A-Za-z0-9+/_-]{16,}={0,2}(?![A-Za-z0-9+/=_-])/g;
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

  // The scans below cost more than one pass that looks for long enough runs.
  const base64 = hasRun(text, BASE64_CHARS, 16);
  for (const m of base64 ? text.matchAll(BASE64) : []) {
    if (out.length >= MAX_PAYLOADS) break;
    const raw = m[0];
    // Plain words and hex digests match the alphabet too; real base64 mixes cases and digits.
    if (!/[A-Z]/.test(raw) || !/[a-z]/.test(raw)) continue;
    const standard = raw.replace(/-/g, "+").replace(/_/g, "/");
    const decoded = Buffer.from(standard, "base64").toString("utf8");
    if (readable(decoded)) {
      out.push({ encoding: "base64", start: m.index, end: m.index + raw.length, text: decoded });
    }
  }

  const hex = hasSeparatedRun(text, HEX_CHARS, HEX_SEPARATORS, 24);
  for (const m of hex ? text.matchAll(HEX) : []) {
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
