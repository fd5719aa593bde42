import { describe, expect, it } from "vitest";
import { asciiTable, codeUnits, hasRun } from "./runs.js";

const HEX = asciiTable("0123456789abcdefABCDEF");

describe("codeUnits", () => {
  it("copies a text's UTF-16 units, lone surrogates included", () => {
    const text = "a\ud800b😀é";

    const units = codeUnits(text);

    expect(Array.from(units.subarray(0, text.length))).toEqual([
      0x61, 0xd800, 0x62, 0xd83d, 0xde00, 0xe9,
    ]);
  });

  it("grows for a text longer than the scratch array, and past it for a huge one", () => {
    const long = `${"x".repeat(9000)}yz`;
    const huge = `${"a".repeat(70_000)}b`;

    const units = codeUnits(long);
    expect([units[0], units[9000], units[9001]]).toEqual([0x78, 0x79, 0x7a]);
    const hugeUnits = codeUnits(huge);
    expect([hugeUnits.length, hugeUnits[69_999], hugeUnits[70_000]]).toEqual([70_001, 0x61, 0x62]);
    expect(codeUnits("ok").length).toBe(65_536);
  });
});

describe("hasRun", () => {
  it("needs `min` members in a row", () => {
    expect(hasRun("cafe deadbeef", HEX, 8)).toBe(true);
    expect(hasRun("cafe deadbee", HEX, 8)).toBe(false);
    // "ä" is U+00E4, whose low seven bits are "d": only ASCII units are members.
    expect(hasRun("deadbeä3f", HEX, 7)).toBe(false);
    expect(hasRun("deadbeä3f", HEX, 6)).toBe(true);
  });
});

describe("hasRun, without branches", () => {
  it("agrees with a pattern for the same run on many mixed texts", () => {
    // Members and others in every order, non-ASCII units whose low bits look like members.
    const pieces = ["a", "f", "0", "9", " ", ":", "g", "ä", "  ", "😀", "ǆ"];
    let seed = 7;
    const next = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
    let agreed = 0;
    for (let k = 0; k < 2000; k += 1) {
      let text = "";
      const length = Math.floor(next() * 40);
      for (let i = 0; i < length; i += 1) text += pieces[Math.floor(next() * pieces.length)];
      for (const min of [3, 6]) {
        const plainRun = new RegExp(`[0-9a-fA-F]{${min}}`).test(text);
        expect([text, hasRun(text, HEX, min)]).toEqual([text, plainRun]);
        agreed += 1;
      }
    }
    expect(agreed).toBe(4000);
  });
});
