import { isIPv6 } from "node:net";
import type { CountryCode } from "libphonenumber-js";
import { asciiTable, hasRun } from "../runs.js";
import { findAddresses } from "./address.js";
import { findPersons } from "./person.js";
import { findPhones } from "./phone.js";
import type { PiiMatch } from "./types.js";
import { cardValid, ibanLength, ibanValid, ssnValid } from "./validators.js";

// Every pattern is compiled once, here. Each detector returns matches; none throws.

const EMAIL = new RegExp(
  String.raw`(?<![\w.%+-])[A-Za-z0-9](?:[A-Za-z0-9._%+-]{0,63})@` +
    String.raw`(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,24}(?![\w-])`,
  "g",
);

const OCTET = String.raw`(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)`;
const IPV4 = new RegExp(String.raw`(?<![\w.])(?:${OCTET}\.){3}${OCTET}(?!\w|\.\d)`, "g");
const VERSION_BEFORE = /(?:\bv|\bversion|\bver\.?|\brelease)\s*$/i;
const IPV6 = /(?<![\w:.])[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}(?:\.\d{1,3}){0,3}(?![\w:])/g;

const CARD = /(?<![\d.+-])\d(?:[ .-]?\d){11,18}(?!\d|[.-]\d)/g;
// Printed cards group digits in fours (Amex and Diners 4-6-5 or 4-6-4); other groupings are
// phone numbers or references.
const CARD_GROUPS = /^\d{4}(?:[ .-]\d{2,6})+$/;
const CARD_CONTEXT = /(?:card|\bcc\b|credit|debit|visa|master|amex|maestro|kart|carte|tarjeta)/i;

const SSN_SEPARATED = /(?<![\d-])(\d{3})([- ])(\d{2})\2(\d{4})(?![\d-])/g;
const SSN_COMPACT = /(?<![\d-])(\d{3})(\d{2})(\d{4})(?![\d-])/g;
const SSN_CONTEXT = /(?:\bssn\b|social security|\bsocial sec)/i;

const IBAN_START = /(?<![A-Za-z0-9])[A-Za-z]{2}\d{2}(?=[ -]?[A-Za-z0-9]{2})/g;

// Secrets. Provider formats first; the generic ones need a keyword next to the value. Each
// format comes with marks, one of which every match contains: a text with none of them is
// not searched, since includes() costs a fraction of a pattern's pass over a whole text.
// Marks start with a rare character where they can ("k-" for "sk-"): includes() stops at
// every occurrence of a mark's first character.
const SECRET_FORMATS: readonly { marks: readonly string[]; re: RegExp }[] = [
  { marks: ["k-"], re: /(?<![\w-])sk-(?:ant-|proj-|live-|test-|svcacct-)?[A-Za-z0-9_-]{20,}/g },
  {
    marks: ["_"],
    re: /(?<!\w)(?:gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{30,})/g,
  },
  {
    marks: ["KIA", "SIA", "BIA", "CCA"],
    re: /(?<![A-Za-z0-9])(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}(?![A-Za-z0-9])/g,
  },
  { marks: ["za"], re: /(?<![\w-])AIza[0-9A-Za-z_-]{35}(?![\w-])/g },
  { marks: ["xox"], re: /(?<![\w-])xox[abposr]-[A-Za-z0-9-]{10,}/g },
  { marks: ["_"], re: /(?<!\w)(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{16,}/g },
  {
    marks: ["yJ"],
    re: /(?<![\w-])eyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}/g,
  },
  { marks: ["glpat-"], re: /(?<![\w-])glpat-[A-Za-z0-9_-]{20,}/g },
  // Hugging Face and npm access tokens: a fixed prefix, then one unbroken alphanumeric run
  // (identifiers such as "hf_model_dir" have more underscores and stay unmatched).
  { marks: ["hf_"], re: /(?<![\w-])hf_[A-Za-z0-9]{30,}(?![\w-])/g },
  { marks: ["npm_"], re: /(?<![\w-])npm_[A-Za-z0-9]{36}(?![\w-])/g },
  // A webhook URL is its own credential: whoever holds it can post to the channel.
  {
    marks: ["hooks.slack.com"],
    re: /\bhttps?:\/\/hooks\.slack\.com\/(?:services|workflows|triggers)\/[A-Za-z0-9/_-]{20,}/g,
  },
  {
    marks: ["/api/webhooks/"],
    re: /\bhttps?:\/\/(?:\w+\.)?discord(?:app)?\.com\/api\/webhooks\/\d+\/[\w-]{20,}/g,
  },
];
// A private key runs from its BEGIN line to the matching END line; without an END line, the
// BEGIN line and the base64 lines after it. PEM keys are a few KB; 16 KB bounds the search.
const PRIVATE_KEY_BEGIN = /-----BEGIN ((?:[A-Z0-9]+ )*)PRIVATE KEY-----/g;
const PRIVATE_KEY_BODY = /(?:\s*[A-Za-z0-9+/=:,-]{8,}){0,400}/y;
const MAX_KEY_CHARS = 16_384;
// Only the credential is a secret, not the header name or the scheme.
const AUTH_HEADER = new RegExp(
  String.raw`\b(?:proxy-)?authorization\s*["']?\s*[:=]\s*["']?` +
    String.raw`(?:(?:bearer|basic|token|digest|apikey)\s+)?([A-Za-z0-9._~+/=-]{8,})`,
  "dgi",
);
const BEARER = /\bbearer\s+([A-Za-z0-9._~+/-]{16,}=*)/dgi;
// Not "\b" before the keyword: in OPENAI_API_KEY or aws_secret_access_key the keyword follows
// an underscore, which is a word character, and "\b" would never see it start.
const KEY_VALUE = new RegExp(
  String.raw`(?<![A-Za-z0-9])(?:x-api-key|api[_-]?key|apikey|api[_-]?secret|` +
    String.raw`secret(?:[_-]?key)?|access[_-]?key|access[_-]?token|auth[_-]?token|` +
    String.raw`refresh[_-]?token|session[_-]?token|client[_-]?secret|private[_-]?key|` +
    String.raw`password|passwd|pwd)\b["']?\s*[:=]\s*["']?` +
    String.raw`([A-Za-z0-9._~+/!@#$%^&*=-]{8,})`,
  "dgi",
);
// A cookie header line; its values are read pair by pair (see findCookies).
const COOKIE_HEADER = /(?<![A-Za-z0-9-])(set-)?cookie["']?\s*:[ \t]*([^\r\n]{1,4096})/gi;
const COOKIE_PAIR = /(?:^|;)\s*[!#$%&'*+.^_`|~0-9A-Za-z-]{1,64}=("?)([^;\s",]{1,4096})\1/dg;
// The password of a URL's user info: "postgres://admin:S3cret@db:5432/app".
const URL_PASSWORD = /\b[a-z][a-z0-9+.-]{1,15}:\/\/[^\s/:@]{1,64}:([^\s/@]{6,128})@/dgi;
// What the keyword patterns always contain, in lower case (they ignore case), and whether
// they need an assignment (":" or "=").
const KEYWORD_PATTERNS: readonly { marks: readonly string[]; assigns: boolean; re: RegExp }[] = [
  { marks: ["zation"], assigns: true, re: AUTH_HEADER },
  { marks: ["bearer"], assigns: false, re: BEARER },
  { marks: ["key", "cret", "ken", "passw", "pwd"], assigns: true, re: KEY_VALUE },
];
const HEX_SECRET = /(?<![0-9A-Za-z])[0-9a-fA-F]{32,128}(?![0-9A-Za-z])/g;
const HEX_CHARS = asciiTable("0123456789abcdefABCDEF");
// Two colons between hex digits: "fe80::1", "2001:db8:…"; most texts have neither.
const IPV6_GATE = /[0-9A-Fa-f]?:[0-9A-Fa-f]{0,4}:/;
const SECRET_CONTEXT =
  /(?:key|token|secret|passw|credential|signature|signing|hmac|bearer|auth|api)[^\n]{0,40}$/i;

/** Finds every supported kind of PII in a text; overlaps are settled, matches are sorted. */
export function findPii(text: string, phoneRegion: string): PiiMatch[] {
  const all: PiiMatch[] = [];
  // Cheap gates: no digit and no @ means none of the numeric or email detectors can match.
  const hasDigit = /\d/.test(text);
  // For the marks of the patterns that ignore case.
  const lower = text.toLowerCase();

  findSecrets(text, lower, all);
  if (text.includes("@")) collect(text, EMAIL, "EMAIL", 6, all);
  if (hasDigit) {
    findIbans(text, all);
    findCards(text, all);
    findSsns(text, lower, all);
    findIps(text, all);
    all.push(...findPhones(text, phoneRegion as CountryCode));
    all.push(...findAddresses(text, lower));
  }
  all.push(...findPersons(text));
  return resolveOverlaps(all);
}

function collect(
  text: string,
  re: RegExp,
  type: PiiMatch["type"],
  priority: number,
  out: PiiMatch[],
): void {
  for (const m of text.matchAll(re)) {
    out.push({ type, start: m.index, end: m.index + m[0].length, priority });
  }
}

function findSecrets(text: string, lower: string, out: PiiMatch[]): void {
  for (const { marks, re } of SECRET_FORMATS) {
    if (includesAny(text, marks)) collect(text, re, "API_KEY", 8, out);
  }

  if (text.includes("PRIVATE KEY-----")) findPrivateKeys(text, out);

  const assigns = text.includes(":") || text.includes("=");
  for (const { marks, assigns: needsAssign, re } of KEYWORD_PATTERNS) {
    if ((needsAssign && !assigns) || !includesAny(lower, marks)) continue;
    for (const m of text.matchAll(re)) {
      const [start, end] = m.indices?.[1] ?? [m.index, m.index + m[0].length];
      const value = text.slice(start, end);
      if (re === KEY_VALUE && !looksSecret(value)) continue;
      out.push({ type: "API_KEY", start, end, priority: 7 });
    }
  }

  if (lower.includes("cookie")) findCookies(text, out);
  if (text.includes("://") && text.includes("@")) {
    for (const m of text.matchAll(URL_PASSWORD)) {
      const [start, end] = m.indices?.[1] ?? [m.index, m.index + m[0].length];
      if (!isReference(text.slice(start, end))) {
        // Above EMAIL: "S3cret@db.internal" also reads as an address.
        out.push({ type: "API_KEY", start, end, priority: 7 });
      }
    }
  }

  for (const m of hasRun(text, HEX_CHARS, 32) ? text.matchAll(HEX_SECRET) : []) {
    const value = m[0];
    if (!/[a-fA-F]/.test(value) || !/\d/.test(value)) continue;
    if (!SECRET_CONTEXT.test(text.slice(Math.max(0, m.index - 60), m.index))) continue;
    out.push({ type: "API_KEY", start: m.index, end: m.index + value.length, priority: 7 });
  }
}

/**
 * Whether a value assigned to a secret's name is a credential rather than prose or a
 * placeholder: "password: changeme", "API_KEY=$OPENAI_KEY", "api_key: your-api-key-here".
 */
function looksSecret(value: string): boolean {
  if (isReference(value)) return false;
  // Plain words are prose unless long; a digit makes a short value a credential.
  if (!/\d/.test(value) && value.length < 16) return false;
  // "your-api-key-here", "xxxxxxxxxxxxxxxx": words joined by dashes, or one letter repeated.
  if (/^[a-z]+(?:[-_.][a-z]+)+$/i.test(value) && !/\d/.test(value)) return false;
  return !/^(.)\1*$/.test(value);
}

/** A variable reference or a mask rather than a value: "$TOKEN", "${KEY}", "****". */
function isReference(value: string): boolean {
  return /^(?:\$\{?[A-Za-z_]\w*\}?|\*+|x+|<[^>]*>?|\.+)$/i.test(value);
}

/**
 * The values of a Cookie header's pairs, or of the first pair of a Set-Cookie header (what
 * follows are attributes: Path, Expires...). Short values ("theme=dark") are preferences,
 * not sessions.
 */
function findCookies(text: string, out: PiiMatch[]): void {
  for (const header of text.matchAll(COOKIE_HEADER)) {
    const line = header[2] as string;
    const lineStart = header.index + header[0].length - line.length;
    for (const pair of line.matchAll(COOKIE_PAIR)) {
      const [start, end] = pair.indices?.[2] ?? [0, 0];
      const value = line.slice(start, end);
      if (value.length >= 12 && /\d/.test(value) && !isReference(value)) {
        out.push({ type: "API_KEY", start: lineStart + start, end: lineStart + end, priority: 7 });
      }
      if (header[1] !== undefined) break;
    }
  }
}

function includesAny(text: string, marks: readonly string[]): boolean {
  for (const mark of marks) if (text.includes(mark)) return true;
  return false;
}

function findPrivateKeys(text: string, out: PiiMatch[]): void {
  let searchedTo = 0;
  // Next END line per key kind, so many BEGIN lines never rescan the text.
  const nextEnd = new Map<string, number>();
  for (const m of text.matchAll(PRIVATE_KEY_BEGIN)) {
    if (m.index < searchedTo) continue;
    const bodyStart = m.index + m[0].length;
    const endLine = `-----END ${m[1] ?? ""}PRIVATE KEY-----`;
    let endAt = nextEnd.get(endLine) ?? -2;
    if (endAt !== -1 && endAt < bodyStart) {
      endAt = text.indexOf(endLine, bodyStart);
      nextEnd.set(endLine, endAt);
    }

    let end: number;
    if (endAt >= 0 && endAt - bodyStart <= MAX_KEY_CHARS) {
      end = endAt + endLine.length;
    } else {
      PRIVATE_KEY_BODY.lastIndex = bodyStart;
      end = bodyStart + (PRIVATE_KEY_BODY.exec(text)?.[0].length ?? 0);
    }
    out.push({ type: "API_KEY", start: m.index, end, priority: 9 });
    searchedTo = end;
  }
}

function findIps(text: string, out: PiiMatch[]): void {
  for (const m of text.matchAll(IPV4)) {
    if (VERSION_BEFORE.test(text.slice(Math.max(0, m.index - 12), m.index))) continue;
    out.push({ type: "IP_ADDRESS", start: m.index, end: m.index + m[0].length, priority: 2 });
  }

  const colon = text.indexOf(":");
  if (colon < 0 || text.indexOf(":", colon + 1) < 0 || !IPV6_GATE.test(text)) return;
  for (const m of text.matchAll(IPV6)) {
    const value = m[0];
    // "12:30:00" and "a::b" parse as IPv6 but are times and code; real ones have more hex.
    if (value.replace(/[^0-9A-Fa-f]/g, "").length < 4 || !/\d/.test(value)) continue;
    if (!value.includes("::") && value.split(":").length < 8) continue;
    if (!isIPv6(value)) continue;
    out.push({ type: "IP_ADDRESS", start: m.index, end: m.index + value.length, priority: 2 });
  }
}

function findCards(text: string, out: PiiMatch[]): void {
  for (const m of text.matchAll(CARD)) {
    const raw = m[0];
    const separators = new Set(raw.replace(/\d/g, ""));
    if (separators.size > 1) continue;
    if (separators.size === 1 && !CARD_GROUPS.test(raw)) continue;

    const shortOk = CARD_CONTEXT.test(text.slice(Math.max(0, m.index - 30), m.index));
    const end = longestValidCard(raw, shortOk);
    if (end > 0) out.push({ type: "CREDIT_CARD", start: m.index, end: m.index + end, priority: 4 });
  }
}

/** Length of the longest prefix of whole digit groups that is a valid card, or 0. */
function longestValidCard(raw: string, shortOk: boolean): number {
  if (cardValid(raw.replace(/\D/g, ""), shortOk)) return raw.length;

  // "4111 1111 1111 1111 2030": a trailing group may belong to the next number.
  const groups = raw.split(/[ .-]/);
  if (groups.length < 3) return 0;
  for (let n = groups.length - 1; n >= 2; n -= 1) {
    const prefix = groups.slice(0, n).join("");
    if (cardValid(prefix, shortOk)) return groups.slice(0, n).join(" ").length;
  }
  return 0;
}

function findSsns(text: string, lower: string, out: PiiMatch[]): void {
  for (const m of text.matchAll(SSN_SEPARATED)) {
    if (!ssnValid(m[1] as string, m[3] as string, m[4] as string)) continue;
    out.push({ type: "US_SSN", start: m.index, end: m.index + m[0].length, priority: 3 });
  }

  if (!lower.includes("ssn") && !lower.includes("social sec")) return;
  if (!SSN_CONTEXT.test(text)) return;
  for (const m of text.matchAll(SSN_COMPACT)) {
    if (!ssnValid(m[1] as string, m[2] as string, m[3] as string)) continue;
    if (!SSN_CONTEXT.test(text.slice(Math.max(0, m.index - 40), m.index))) continue;
    out.push({ type: "US_SSN", start: m.index, end: m.index + m[0].length, priority: 3 });
  }
}

function findIbans(text: string, out: PiiMatch[]): void {
  for (const m of text.matchAll(IBAN_START)) {
    const country = m[0].slice(0, 2).toUpperCase();
    const known = ibanLength(country);
    const { chars, ends } = readIbanChars(text, m.index, known ?? 34);

    // With a registered length the value is exactly that long; otherwise the longest valid.
    const lengths = known !== undefined ? [known] : range(chars.length, 15);
    for (const length of lengths) {
      if (chars.length < length) continue;
      const compact = chars.slice(0, length).join("").toUpperCase();
      const end = ends[length - 1] as number;
      if (/[A-Za-z0-9]/.test(text[end] ?? "")) continue;
      if (!ibanValid(compact)) continue;
      out.push({ type: "IBAN", start: m.index, end, priority: 5 });
      break;
    }
  }
}

/** Reads IBAN characters from start, allowing one space or dash between groups of four. */
function readIbanChars(text: string, start: number, max: number) {
  const chars: string[] = [];
  const ends: number[] = [];
  let i = start;
  while (i < text.length && chars.length < max) {
    const c = text[i] as string;
    if (/[A-Za-z0-9]/.test(c)) {
      chars.push(c);
      ends.push(i + 1);
      i += 1;
    } else if (
      (c === " " || c === "-") &&
      chars.length % 4 === 0 &&
      /[A-Za-z0-9]/.test(text[i + 1] ?? "")
    ) {
      i += 1;
    } else {
      break;
    }
  }
  return { chars, ends };
}

function range(from: number, downTo: number): number[] {
  const out: number[] = [];
  for (let n = from; n >= downTo; n -= 1) out.push(n);
  return out;
}

/** Keeps the higher-priority (then longer) match where two overlap; returns them by offset. */
export function resolveOverlaps(matches: PiiMatch[]): PiiMatch[] {
  if (matches.length < 2) return matches;

  const ranked = [...matches].sort(
    (a, b) => b.priority - a.priority || b.end - b.start - (a.end - a.start) || a.start - b.start,
  );
  const kept: PiiMatch[] = [];
  for (const m of ranked) {
    if (kept.some((k) => m.start < k.end && k.start < m.end)) continue;
    kept.push(m);
  }
  return kept.sort((a, b) => a.start - b.start);
}
