import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { digestText } from "./redaction.js";

describe("digestText", () => {
  it("is keyed: the same text matches under one key, not a plain hash or another key", () => {
    const key = Buffer.from("k".repeat(16));
    const plain = createHash("sha256").update("Hi").update("\u0000").digest("hex").slice(0, 12);

    const once = digestText(["Hi"], key);
    const again = digestText(["Hi"], key);
    const otherKey = digestText(["Hi"], Buffer.from("j".repeat(16)));

    expect(once).toEqual({ chars: 2, hmac: "cf937c4523c5" });
    expect(again).toEqual(once);
    expect(otherKey.hmac).not.toBe(once.hmac);
    expect(once.hmac).not.toBe(plain);
  });
});
