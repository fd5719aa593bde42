import type { PiiType } from "../policy.js";
import type { PiiMatch } from "./types.js";

/**
 * Hands out typed placeholders (<EMAIL_1>, <PHONE_2>…) for one request: the same value gets
 * the same placeholder everywhere in that request, and the originals can be put back into
 * the model's answer. The mapping lives only as long as this object; it is never logged.
 */
export class Redactor {
  private readonly byValue = new Map<string, string>();
  private readonly byPlaceholder = new Map<string, string>();
  private readonly counters = new Map<PiiType, number>();

  /** The placeholder for a value, allocating the next number of its type on first sight. */
  placeholder(type: PiiType, value: string): string {
    const key = `${type}\u0000${canonical(type, value)}`;
    const existing = this.byValue.get(key);
    if (existing) return existing;

    const n = (this.counters.get(type) ?? 0) + 1;
    this.counters.set(type, n);
    const placeholder = `<${type}_${n}>`;
    this.byValue.set(key, placeholder);
    this.byPlaceholder.set(placeholder, value);
    return placeholder;
  }

  /** How many distinct values have been replaced. */
  get size(): number {
    return this.byPlaceholder.size;
  }

  /**
   * Replaces every placeholder this redactor issued with its original value. `escape`
   * rewrites a value before it goes in (JSON string escaping for tool arguments).
   */
  restore(text: string, escape: (value: string) => string = (v) => v): string {
    if (this.byPlaceholder.size === 0 || !text.includes("<")) return text;
    return text.replace(PLACEHOLDER, (p) => {
      const value = this.byPlaceholder.get(p);
      return value === undefined ? p : escape(value);
    });
  }

  /** How many placeholders in a text this redactor can restore. */
  countRestorable(text: string): number {
    if (this.byPlaceholder.size === 0 || !text.includes("<")) return 0;
    let n = 0;
    for (const m of text.matchAll(PLACEHOLDER)) if (this.byPlaceholder.has(m[0])) n += 1;
    return n;
  }

  /** The mapping as plain data, to be sealed into a request's redaction state. */
  snapshot(): RedactorSnapshot {
    return {
      entries: [...this.byPlaceholder].map(([placeholder, value]) => [placeholder, value]),
      counters: Object.fromEntries(this.counters),
    };
  }

  /** A redactor holding a snapshot's mapping, numbering new values after its counters. */
  static fromSnapshot(snapshot: RedactorSnapshot): Redactor {
    const redactor = new Redactor();
    for (const [placeholder, value] of snapshot.entries) {
      const type = /^<([A-Z_]+)_\d+>$/.exec(placeholder)?.[1] as PiiType | undefined;
      if (!type) continue;
      redactor.byPlaceholder.set(placeholder, value);
      redactor.byValue.set(`${type}\u0000${canonical(type, value)}`, placeholder);
    }
    for (const [type, n] of Object.entries(snapshot.counters)) {
      redactor.counters.set(type as PiiType, n);
    }
    return redactor;
  }
}

/** A redactor's mapping as plain data: [placeholder, original value] pairs and counters. */
export interface RedactorSnapshot {
  entries: [string, string][];
  counters: Record<string, number>;
}

const PLACEHOLDER = /<[A-Z_]+_\d+>/g;

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
