import { describe, expect, it } from "vitest";
import { Redactor } from "./pii/redactor.js";
import { createStateCipher, parseStateKey, STATE_TTL_MS } from "./redaction-state.js";

const KEY = Buffer.alloc(32, 7);
const binding = { requestId: "req-1", tenant: "acme" };

function redactorWith(...values: [string, string][]): Redactor {
  const redactor = new Redactor();
  for (const [type, value] of values) redactor.placeholder(type as "EMAIL", value);
  return redactor;
}

describe("redaction state", () => {
  it("opens for its own request and restores its placeholders", () => {
    const cipher = createStateCipher(KEY);
    const redactor = redactorWith(["EMAIL", "a@example.com"], ["PHONE", "+1 415 555 0100"]);
    const sealed = cipher.seal(redactor, binding);

    const opened = cipher.open(sealed, binding);

    expect(opened?.restore("<EMAIL_1> / <PHONE_1> / <EMAIL_2>")).toBe(
      "a@example.com / +1 415 555 0100 / <EMAIL_2>",
    );
    expect(opened?.placeholder("EMAIL", "b@example.com")).toBe("<EMAIL_2>");
    // The sealed bytes never hold the values in clear.
    expect(Buffer.from(sealed).includes("a@example.com")).toBe(false);
  });

  it("carries nothing when nothing was redacted", () => {
    const cipher = createStateCipher(KEY);

    expect(cipher.seal(new Redactor(), binding).length).toBe(0);
    expect(cipher.open(new Uint8Array(0), binding)).toBeUndefined();
  });

  it("does not open for another request, another tenant, another key, or changed bytes", () => {
    const cipher = createStateCipher(KEY);
    const sealed = cipher.seal(redactorWith(["EMAIL", "a@example.com"]), binding);
    const changed = Uint8Array.from(sealed);
    changed[20] = (changed[20] as number) ^ 1;

    expect([
      cipher.open(sealed, { requestId: "req-2", tenant: "acme" }),
      cipher.open(sealed, { requestId: "req-1", tenant: "other" }),
      createStateCipher(Buffer.alloc(32, 8)).open(sealed, binding),
      cipher.open(changed, binding),
    ]).toEqual([undefined, undefined, undefined, undefined]);
  });

  it("expires", () => {
    const cipher = createStateCipher(KEY);
    const sealed = cipher.seal(redactorWith(["EMAIL", "a@example.com"]), binding, 1_000);

    expect(cipher.open(sealed, binding, 1_000 + STATE_TTL_MS - 1)?.size).toBe(1);
    expect(cipher.open(sealed, binding, 1_000 + STATE_TTL_MS + 1)).toBeUndefined();
  });

  it("carries a stream's placeholders apart from the request's, which alone restore", () => {
    const cipher = createStateCipher(KEY);
    const request = redactorWith(["EMAIL", "a@example.com"]);
    const answer = redactorWith(["EMAIL", "a@example.com"], ["EMAIL", "leak@example.com"]);
    const sealed = cipher.sealStream({ request, answer, expiresMs: 5_000 }, binding, 1_000);

    const opened = cipher.openStream(sealed, binding, 2_000);

    expect(opened.expiresMs).toBe(5_000);
    expect(opened.request?.restore("<EMAIL_1> <EMAIL_2>")).toBe("a@example.com <EMAIL_2>");
    expect(opened.answer?.placeholder("EMAIL", "leak@example.com")).toBe("<EMAIL_2>");
    expect(opened.answer?.placeholder("EMAIL", "new@example.com")).toBe("<EMAIL_3>");
    // The plain CheckOutput view of the same state restores only the request's value.
    expect(cipher.open(sealed, binding, 2_000)?.restore("<EMAIL_2>")).toBe("<EMAIL_2>");
    // Resealing keeps the request's expiry: a long stream cannot extend it.
    expect(cipher.openStream(sealed, binding, 5_001).answer).toBeUndefined();
    expect(Buffer.from(sealed).includes("leak")).toBe(false);
    const nothing = { request: undefined, answer: new Redactor(), expiresMs: undefined };
    expect(cipher.sealStream(nothing, binding).length).toBe(0);
  });

  it("reads a key as hex or base64 and says how to make one otherwise", () => {
    expect(parseStateKey("07".repeat(32))).toEqual(KEY);
    expect(parseStateKey(KEY.toString("base64"))).toEqual(KEY);
    expect(() => parseStateKey("short")).toThrow(
      "GUARDRAILS_STATE_KEY must be 32 bytes as 64 hex digits or base64; " +
        "make one with: openssl rand -base64 32",
    );
  });
});
