import { describe, expect, it } from "vitest";
import { codeUnits } from "../runs.js";
import { AsciiWordTable } from "./ascii-words.js";

describe("AsciiWordTable", () => {
  it("looks words up from code units in any case, and only whole words", () => {
    const table = new AsciiWordTable(new Map([["ana", 3], ["mr", 9], ["señor", 4]]));
    const text = "MR Ana Anabel an señor";
    const units = codeUnits(text);

    const value = (start: number, end: number) => table.get(units, start, end);

    expect([value(0, 2), value(3, 6), value(7, 13), value(7, 10), value(14, 16)]).toEqual([
      9, 3, 0, 3, 0,
    ]);
  });

  it("keeps entries apart that share a slot", () => {
    const words = Array.from({ length: 200 }, (_, i) => `w${i}`);
    const table = new AsciiWordTable(new Map(words.map((w, i) => [w, i + 1])));
    const text = words.join(" ");
    const units = codeUnits(text);

    const values: number[] = [];
    let start = 0;
    for (const w of words) {
      values.push(table.get(units, start, start + w.length));
      start += w.length + 1;
    }

    expect(values).toEqual(words.map((_, i) => i + 1));
  });
});
