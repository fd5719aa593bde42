import { createHash } from "node:crypto";
import type { PiiType } from "../policy.js";
import type { PiiMatch } from "./types.js";

// Credentials are never put back into an answer: the model has no need to hand a key to the
// caller, and an answer that asks for "<API_KEY_1>" would otherwise get the key.
const SECRET_TYPES: ReadonlySet<PiiType> = new Set<PiiType>(["API_KEY"]);

/**
 * Hands out typed placeholders (<EMAIL_1>, <PHONE_2>…) for one request: the same value gets
 * the same placeholder everywhere in that request, and the originals can be put back into
 * the model's answer. The mapping lives only as long as this object; it is never logged.
 * Values of secret types are held as digests: they keep their placeholder but are never
 * restored, so the value itself is not needed (nor sealed into the request's state).
 * Two spellings of one value ("4111 1111…" and "4111-1111…") share a placeholder, which is
 * restored as the first spelling seen: an answer's placeholder does not say which one it
 * stands for.
 */
export class Redactor {
  private readonly byValue = new Map<string, string>();
  private readonly byPlaceholder = new Map<string, string>();
  private readonly counters = new Map<PiiType, number>();
  /**
   * Placeholder-shaped texts the caller wrote itself ("<EMAIL_1>" in a template). They are
   * never handed out, and never restored: the answer's "<EMAIL_1>" may be the caller's.
   */
  private readonly literals = new Set<string>();

  /** The placeholder for a value, allocating the next free number of its type on first sight. */
  placeholder(type: PiiType, value: string): string {
    const secret = SECRET_TYPES.has(type);
    const key = valueKey(type, secret ? digest(value) : canonical(type, value));
    const existing = this.byValue.get(key);
    if (existing) return existing;

    let n = this.counters.get(type) ?? 0;
    let placeholder: string;
    do {
      n += 1;
      placeholder = `<${type}_${n}>`;
    } while (this.literals.has(placeholder));
    this.counters.set(type, n);
    this.byValue.set(key, placeholder);
    this.byPlaceholder.set(placeholder, secret ? SECRET_MARK + digest(value) : value);
    return placeholder;
  }

  /**
   * Records the placeholder-shaped texts in a text the caller wrote, before any of it is
   * replaced. One this redactor already issued is from then on ambiguous and is no longer
   * restored. Call it for every input text, with values or not, so no literal goes unseen.
   */
  noteLiterals(text: string): void {
    if (!text.includes("<")) return;
    for (const m of text.matchAll(PLACEHOLDER)) this.literals.add(m[0]);
  }

  /** How many distinct values have been replaced. */
  get size(): number {
    return this.byPlaceholder.size;
  }

  /**
   * Replaces every placeholder this redactor issued with its original value, except secrets
   * and placeholders the caller also wrote itself, which stay as they are. `escape` rewrites
   * a value before it goes in (JSON string escaping for tool arguments).
   */
  restore(text: string, escape: (value: string) => string = (v) => v): string {
    if (this.byPlaceholder.size === 0 || !text.includes("<")) return text;
    return text.replace(PLACEHOLDER, (p) => {
      const value = this.restorable(p);
      return value === undefined ? p : escape(value);
    });
  }

  /** The original value behind a placeholder when it may go back into an answer. */
  private restorable(placeholder: string): string | undefined {
    if (this.literals.has(placeholder)) return undefined;
    const value = this.byPlaceholder.get(placeholder);
    if (value === undefined || value.startsWith(SECRET_MARK)) return undefined;
    // By type too: a state sealed before secrets were kept as digests holds the raw value.
    const type = /^<([A-Z_]+)_\d+>$/.exec(placeholder)?.[1] as PiiType | undefined;
    return type !== undefined && SECRET_TYPES.has(type) ? undefined : value;
  }

  /** How many placeholders in a text this redactor can restore. */
  countRestorable(text: string): number {
    if (this.byPlaceholder.size === 0 || !text.includes("<")) return 0;
    let n = 0;
    for (const m of text.matchAll(PLACEHOLDER)) if (this.restorable(m[0]) !== undefined) n += 1;
    return n;
  }

  /** The mapping as plain data, to be sealed into a request's redaction state. */
  snapshot(): RedactorSnapshot {
    return {
      entries: [...this.byPlaceholder].map(([placeholder, value]) => [placeholder, value]),
      counters: Object.fromEntries(this.counters),
      ...(this.literals.size > 0 ? { literals: [...this.literals] } : {}),
    };
  }

  /** A redactor holding a snapshot's mapping, numbering new values after its counters. */
  static fromSnapshot(snapshot: RedactorSnapshot): Redactor {
    const redactor = new Redactor();
    for (const [placeholder, value] of snapshot.entries) {
      const type = /^<([A-Z_]+)_\d+>$/.exec(placeholder)?.[1] as PiiType | undefined;
      if (!type) continue;
      redactor.byPlaceholder.set(placeholder, value);
      const secret = value.startsWith(SECRET_MARK);
      const key = secret ? value.slice(SECRET_MARK.length) : canonical(type, value);
      redactor.byValue.set(valueKey(type, key), placeholder);
    }
    for (const [type, n] of Object.entries(snapshot.counters)) {
      redactor.counters.set(type as PiiType, n);
    }
    for (const literal of snapshot.literals ?? []) redactor.literals.add(literal);
    return redactor;
  }
}

/** A redactor's mapping as plain data: [placeholder, original value] pairs and counters. */
export interface RedactorSnapshot {
  entries: [string, string][];
  counters: Record<string, number>;
  /** Placeholder-shaped texts the caller wrote; absent in states sealed before they were. */
  literals?: string[];
}

const PLACEHOLDER = /<[A-Z_]+_\d+>/g;
// Starts a secret's stored digest. No detected value starts with a NUL.
const SECRET_MARK = "\u0000sha256:";

function valueKey(type: PiiType, canonicalValue: string): string {
  return `${type}\u0000${canonicalValue}`;
}

function digest(value: string): string {
  return createHash("sha256").update(value).digest("base64url");
}

// Spacing and case do not make a different value: "4111 1111…" and "4111-1111…" are one card.
function canonical(type: PiiType, value: string): string {
  switch (type) {
    case "CREDIT_CARD":
    case "PHONE":
    case "US_SSN":
      return value.replace(/\D/g, "");
    case "IBAN":
      return value.replace(/[^A-Za-z0-9]/g, "").toUpperCase();
    case "EMAIL":
    case "IP_ADDRESS":
      return value.toLowerCase();
    default:
      return value;
  }
}

/**
 * Rebuilds a text with the chosen matches replaced by placeholders. Matches must be sorted and
 * must not overlap; each is replaced where it stands, so no other character moves relative to
 * its neighbours and no surrogate pair is ever split.
 */
export function applyRedactions(
  text: string,
  matches: readonly PiiMatch[],
  redactor: Redactor,
): string {
  // Before any placeholder is handed out for this text, so none takes a number it uses.
  redactor.noteLiterals(text);
  if (matches.length === 0) return text;

  const parts: string[] = [];
  let cursor = 0;
  for (const m of matches) {
    const start = safeBoundary(text, m.start);
    const end = safeBoundary(text, m.end);
    if (start < cursor || end <= start) continue;

    parts.push(text.slice(cursor, start), redactor.placeholder(m.type, text.slice(start, end)));
    cursor = end;
  }
  parts.push(text.slice(cursor));
  return parts.join("");
}

/** Moves an offset that falls inside a surrogate pair to the pair's start. */
export function safeBoundary(text: string, offset: number): number {
  if (offset <= 0 || offset >= text.length) return Math.max(0, Math.min(offset, text.length));

  const before = text.charCodeAt(offset - 1);
  const at = text.charCodeAt(offset);
  const splits = before >= 0xd800 && before <= 0xdbff && at >= 0xdc00 && at <= 0xdfff;
  return splits ? offset - 1 : offset;
}
