import { describe, expect, it } from "vitest";
import { findPii } from "./detectors.js";
import { applyRedactions, Redactor } from "./redactor.js";

/** Redacts a text the way the PII check does, with every value found. */
function redact(text: string, redactor: Redactor): string {
  return applyRedactions(text, findPii(text, "US"), redactor);
}

describe("Redactor", () => {
  it("never restores a secret, but restores the other values of the same text", () => {
    const redactor = new Redactor();
    const text = "key sk-proj-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789 owner cfo@corp.example";

    expect(redact(text, redactor)).toBe("key <API_KEY_1> owner <EMAIL_1>");
    expect(redactor.restore("<API_KEY_1> <EMAIL_1>")).toBe("<API_KEY_1> cfo@corp.example");
    expect(redactor.countRestorable("<API_KEY_1> <EMAIL_1>")).toBe(1);
  });

  it("keeps a secret's placeholder stable without holding the secret itself", () => {
    const redactor = new Redactor();
    const key = "sk-proj-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789";
    redact(`use ${key}`, redactor);

    const snapshot = redactor.snapshot();
    expect(JSON.stringify(snapshot)).not.toContain(key);
    // The same key leaked again, after the state travelled, gets the same placeholder.
    expect(redact(`answer: ${key}`, Redactor.fromSnapshot(snapshot))).toBe("answer: <API_KEY_1>");
  });

  it("does not restore a raw secret from a state sealed before secrets were digests", () => {
    const old = Redactor.fromSnapshot({
      entries: [["<API_KEY_1>", "sk-proj-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789"]],
      counters: { API_KEY: 1 },
    });
    expect(old.restore("key <API_KEY_1>")).toBe("key <API_KEY_1>");
    expect(old.countRestorable("key <API_KEY_1>")).toBe(0);
  });

  it("numbers new placeholders past ones the caller typed, and never restores those", () => {
    const redactor = new Redactor();
    const text = "Template var <EMAIL_1> stays literal; my mail is bob@example.com";

    expect(redact(text, redactor)).toBe(
      "Template var <EMAIL_1> stays literal; my mail is <EMAIL_2>",
    );
    expect(redactor.restore("Keep <EMAIL_1>; yours is <EMAIL_2>")).toBe(
      "Keep <EMAIL_1>; yours is bob@example.com",
    );
  });

  it("stops restoring a placeholder once the caller is seen typing it in a later text", () => {
    const redactor = new Redactor();
    expect(redact("mail ann@example.com", redactor)).toBe("mail <EMAIL_1>");
    expect(redact("echo <EMAIL_1> for 415-555-0132", redactor)).toBe(
      "echo <EMAIL_1> for <PHONE_1>",
    );

    expect(redactor.restore("<EMAIL_1> / <PHONE_1>")).toBe("<EMAIL_1> / 415-555-0132");
  });

  it("keeps the caller's literals through a snapshot", () => {
    const redactor = new Redactor();
    redactor.noteLiterals("a text with <PHONE_1> in it");
    redact("call 415-555-0132", redactor);

    const opened = Redactor.fromSnapshot(redactor.snapshot());
    expect(opened.restore("<PHONE_1> <PHONE_2>")).toBe("<PHONE_1> 415-555-0132");
    expect(Redactor.fromSnapshot({ entries: [], counters: {} }).restore("<PHONE_1>")).toBe(
      "<PHONE_1>",
    );
  });

  it("shares one placeholder between spellings of a value and restores the first", () => {
    const redactor = new Redactor();
    const text = "card 4111 1111 1111 1111 and 4111-1111-1111-1111, ANN@EXAMPLE.COM or " +
      "ann@example.com";

    expect(redact(text, redactor)).toBe(
      "card <CREDIT_CARD_1> and <CREDIT_CARD_1>, <EMAIL_1> or <EMAIL_1>",
    );
    expect(redactor.restore("<CREDIT_CARD_1> <EMAIL_1>")).toBe(
      "4111 1111 1111 1111 ANN@EXAMPLE.COM",
    );
  });
});
