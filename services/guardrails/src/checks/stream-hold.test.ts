import { describe, expect, it } from "vitest";
import { releasableEnd } from "./stream-hold.js";

const cut = (held: string) => releasableEnd(held, "US");

describe("releasableEnd", () => {
  it("cuts at the last sentence end when nothing can still change", () => {
    expect(cut("Write to ann@example.com for access.\nMore")).toBe(37);
    expect(cut("No sentence ends here")).toBe(0);
  });

  it("holds an armored block from its BEGIN line until its END line is in", () => {
    const open = "Fine.\n-----BEGIN PRIVATE KEY-----\nMIIEowIBAAKCAQEAu1SU1LfVLPHC\n";
    const closed = "-----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----\nok. ";

    expect(cut(open)).toBe(6);
    expect(cut(closed)).toBe(closed.length - 1);
  });

  it("does not hold public armor: a quoted BEGIN line or a signed message", () => {
    const quoted = "A PEM file starts with -----BEGIN CERTIFICATE----- on its own line.\nNext ";
    const signed = "-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\nHello.\nMore";

    expect(cut(quoted)).toBe(quoted.length - 5);
    expect(cut(signed)).toBe(signed.length - 4);
  });

  it("holds a credential label whose value has not come yet", () => {
    expect(cut("Use this.\nAuthorization: Bearer\n")).toBe(10);
    expect(cut('{"api_key": "\n')).toBe(0);
    expect(cut("Token:\n\n")).toBe(0);
  });

  it("holds the words that make the next line's number personal data", () => {
    expect(cut("Fine.\nMy SSN is below.\n")).toBe(6);
    expect(cut("Card number:\n")).toBe(0);
    expect(cut("We talked about cards. Then lunch.\n")).toBe(35);
  });

  it("holds a value that runs up to the cut, as it may go on in the next line", () => {
    expect(cut("Ship to:\n221B Baker Street\n")).toBe(9);
    expect(cut("Mail ann@example.com\n")).toBe(0);
  });
});
