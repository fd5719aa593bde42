import { describe, expect, it } from "vitest";
import { findPii } from "./detectors.js";
import { cardValid, ibanValid, luhnValid } from "./validators.js";

/** Each finding as [type, start, end, the text at those offsets]. */
function found(text: string, region = "US") {
  return findPii(text, region).map((m) => [m.type, m.start, m.end, text.slice(m.start, m.end)]);
}

describe("findPii", () => {
  it("finds an email with a plus tag", () => {
    expect(found("Mail jane.doe+news@example.org today")).toEqual([
      ["EMAIL", 5, 30, "jane.doe+news@example.org"],
    ]);
  });

  it("finds a card number written with dots, spaces or as one run", () => {
    expect(found("Card 4539.1488.0343.6467 expires")).toEqual([
      ["CREDIT_CARD", 5, 24, "4539.1488.0343.6467"],
    ]);
    expect(found("Card 4539 1488 0343 6467.")).toEqual([
      ["CREDIT_CARD", 5, 24, "4539 1488 0343 6467"],
    ]);
    expect(found("Amex 3714 496353 98431 ok")).toEqual([
      ["CREDIT_CARD", 5, 22, "3714 496353 98431"],
    ]);
  });

  it("leaves Luhn-invalid card numbers alone", () => {
    expect(found("Order 4539 1488 0343 6468 shipped")).toEqual([]);
    expect(found("ref 1234567812345678")).toEqual([]);
  });

  it("finds an IBAN in lower case and with spaces", () => {
    expect(found("Pay to de89 3704 0044 0532 0130 00 now")).toEqual([
      ["IBAN", 7, 34, "de89 3704 0044 0532 0130 00"],
    ]);
  });

  it("leaves an IBAN with wrong check digits alone", () => {
    expect(found("IBAN GB82WEST12345698765432 and GB82WEST12345698765433")).toEqual([
      ["IBAN", 5, 27, "GB82WEST12345698765432"],
    ]);
  });

  it("finds a US SSN but not in the 000, 666 or 900-999 areas", () => {
    expect(found("SSN 123-45-6789, not 666-12-3456, 900-12-3456 or 000-12-3456")).toEqual([
      ["US_SSN", 4, 15, "123-45-6789"],
    ]);
  });

  it("finds international and non-US national phone numbers", () => {
    expect(found("Call +44 20 7946 0958 or 020 7946 0018 please")).toEqual([
      ["PHONE", 5, 21, "+44 20 7946 0958"],
      ["PHONE", 25, 38, "020 7946 0018"],
    ]);
    expect(found("tel: 06 12 34 56 78")).toEqual([["PHONE", 5, 19, "06 12 34 56 78"]]);
    expect(found("Ruf mich an unter 030 12345678 bitte")).toEqual([
      ["PHONE", 18, 30, "030 12345678"],
    ]);
  });

  it("does not take dates, prices or order numbers for phone numbers", () => {
    expect(found("On 2023-04-03 10 people paid $1,234,567 for order 88812345")).toEqual([]);
  });

  it("finds IPv4 and IPv6 addresses but not version numbers", () => {
    expect(found("Server 192.168.1.20 and 2001:db8::8a2e:370:7334 up; version 1.2.3.4")).toEqual([
      ["IP_ADDRESS", 7, 19, "192.168.1.20"],
      ["IP_ADDRESS", 24, 47, "2001:db8::8a2e:370:7334"],
    ]);
    expect(found("at 10:30:00 and 999.1.1.1")).toEqual([]);
  });

  it("finds provider API keys and tokens", () => {
    const text = "key sk-abcdefghijklmnopqrstuvwxyz0123456789ABCD and " +
      "ghp_abcdefghijklmnopqrstuvwxyz0123456789";
    expect(found(text)).toEqual([
      ["API_KEY", 4, 47, "sk-abcdefghijklmnopqrstuvwxyz0123456789ABCD"],
      ["API_KEY", 52, 92, "ghp_abcdefghijklmnopqrstuvwxyz0123456789"],
    ]);
    expect(found("aws AKIAIOSFODNN7EXAMPLE here")).toEqual([
      ["API_KEY", 4, 24, "AKIAIOSFODNN7EXAMPLE"],
    ]);
  });

  it("redacts only the credential of an Authorization header", () => {
    expect(found("Authorization: Bearer abc.def-ghi_jkl123456")).toEqual([
      ["API_KEY", 22, 43, "abc.def-ghi_jkl123456"],
    ]);
  });

  it("finds secrets assigned to environment variables and config keys", () => {
    const value = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
    expect(found(`aws_secret_access_key = ${value}`)).toEqual([["API_KEY", 24, 64, value]]);
    expect(found(`AWS_SECRET_ACCESS_KEY=${value}`)).toEqual([["API_KEY", 22, 62, value]]);
    expect(found("export OPENAI_API_KEY=abcd1234efgh5678ijkl")).toEqual([
      ["API_KEY", 22, 42, "abcd1234efgh5678ijkl"],
    ]);
    expect(found("ANTHROPIC_API_KEY=abcd1234efgh5678ijkl")).toEqual([
      ["API_KEY", 18, 38, "abcd1234efgh5678ijkl"],
    ]);
    expect(found('export X_API_KEY="Zx81kd0Qp2mLw9aa"')).toEqual([
      ["API_KEY", 18, 34, "Zx81kd0Qp2mLw9aa"],
    ]);
  });

  it("leaves prose, variable references and placeholder values next to key names alone", () => {
    expect(found("set your api key in the settings")).toEqual([]);
    expect(found("my access key: is in the vault")).toEqual([]);
    expect(found("API_KEY=$OPENAI_API_KEY and SECRET_KEY=${SECRET}")).toEqual([]);
    expect(found("OPENAI_API_KEY=your-api-key-here")).toEqual([]);
    expect(found("password: changeme")).toEqual([]);
  });

  it("finds Hugging Face and npm tokens and webhook URLs", () => {
    expect(found("HF hf_AbCdEfGhIjKlMnOpQrStUvWxYz01234567 ok")).toEqual([
      ["API_KEY", 3, 40, "hf_AbCdEfGhIjKlMnOpQrStUvWxYz01234567"],
    ]);
    expect(found("npm_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789")).toEqual([
      ["API_KEY", 0, 40, "npm_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789"],
    ]);
    const hook = "https://hooks.slack.com/services/T00000000/B00000000/a1B2c3D4e5F6g7H8i9J0k1L2";
    expect(found(`post to ${hook} now`)).toEqual([["API_KEY", 8, 8 + hook.length, hook]]);
    expect(found("the hf_model_directory_for_tests setting")).toEqual([]);
  });

  it("finds session values in Cookie and Set-Cookie headers, not preferences", () => {
    const cookie = "Cookie: session=eyJhbGciOiJIUzI1NiJ9abcdef; theme=dark; csrf=abcdef0123456789";
    expect(found(cookie)).toEqual([
      ["API_KEY", 16, 42, "eyJhbGciOiJIUzI1NiJ9abcdef"],
      ["API_KEY", 61, 77, "abcdef0123456789"],
    ]);
    expect(found("Set-Cookie: sid=8f7a6b5c4d3e2f1a0b9c; Path=/; Max-Age=31536000000")).toEqual([
      ["API_KEY", 16, 36, "8f7a6b5c4d3e2f1a0b9c"],
    ]);
    expect(found("Cookie: theme=dark; lang=en-US")).toEqual([]);
    expect(found("cookie: a small baked treat")).toEqual([]);
  });

  it("finds the password of a connection URL, not the user or host", () => {
    expect(found("DATABASE_URL=postgres://admin:S3cr3tPassw0rd@db.internal:5432/app")).toEqual([
      ["API_KEY", 30, 44, "S3cr3tPassw0rd"],
    ]);
    expect(found("postgres://user:${DB_PASSWORD}@db:5432/app")).toEqual([]);
  });

  it("finds long hex secrets only next to a word like secret or key", () => {
    expect(found("the secret is 0123456789abcdef0123456789abcdef ok")).toEqual([
      ["API_KEY", 14, 46, "0123456789abcdef0123456789abcdef"],
    ]);
    expect(found("commit 0123456789abcdef0123456789abcdef01234567 merged")).toEqual([]);
  });

  it("finds a whole private key block", () => {
    const text =
      "x\n-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA\n-----END RSA PRIVATE KEY-----\ny";
    expect(found(text)).toEqual([["API_KEY", 2, 80, text.slice(2, 80)]]);
    expect(text.slice(80)).toBe("\ny");
  });

  it("finds a private key header and its base64 lines when the END line is missing", () => {
    const text = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0B\nAQEFAASC\n\nthanks";
    expect(found(text)).toEqual([["API_KEY", 0, 61, text.slice(0, 61)]]);
    expect(text.slice(61)).toBe("\n\nthanks");
  });

  it("reports UTF-16 offsets next to emoji and CJK text", () => {
    expect(found("😀😀 邮件 a@b.co")).toEqual([["EMAIL", 8, 14, "a@b.co"]]);
  });
});

describe("validators", () => {
  it("checks Luhn, card prefixes and IBAN mod-97", () => {
    expect(luhnValid("79927398713")).toBe(true);
    expect(luhnValid("79927398710")).toBe(false);
    expect(cardValid("4539148803436467", false)).toBe(true);
    expect(cardValid("0000000000000000", false)).toBe(false);
    expect(cardValid("503890547220", false)).toBe(false);
    expect(ibanValid("DE89370400440532013000")).toBe(true);
    expect(ibanValid("DE89370400440532013001")).toBe(false);
    expect(ibanValid("NO9386011117947")).toBe(true);
  });
});
