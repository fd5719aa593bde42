import { describe, expect, it } from "vitest";
import { foldForMatching, foldPlain, prepareText } from "./normalize.js";
import { hasTrigger, registerTrigger, vocabularyOf } from "./vocabulary.js";

const offsets = (text: string) => {
  const folded = foldForMatching(text);
  return [folded.text, Array.from(folded.origStart), Array.from(folded.origEnd)];
};

describe("foldForMatching", () => {
  it("reads leetspeak in words of three or more, a 1 next to l or 1 as l", () => {
    expect(foldForMatching("a11 0f th3 ru1es, stop! 1990 h4x0r").text).toBe(
      "all 0f the ruies, stop! 1990 haxor",
    );
    expect(foldForMatching("k1ll st1ll 1llegal ca1l fu1l he1lo").text).toBe(
      "kill still illegal call full hello",
    );
  });

  it("keeps each folded character's original range through joiners and whitespace", () => {
    expect(offsets("Ig-nore  \n x*y - z")).toEqual([
      "ignore\nxy z",
      [0, 1, 3, 4, 5, 6, 7, 11, 13, 14, 17],
      [1, 2, 4, 5, 6, 7, 11, 12, 14, 17, 18],
    ]);
  });

  it("grows past the text's length when a character folds to several", () => {
    const text = "ﷺ".repeat(3000);

    const folded = foldForMatching(text);

    expect(folded.text.length).toBe(text.normalize("NFKC").toLowerCase().length);
    expect([folded.origStart[0], folded.origEnd.at(-1)]).toEqual([0, 3000]);
  });

  it("folds a text longer than the reusable working arrays", () => {
    const text = `${"Word ".repeat(20_000)}END`;

    const folded = foldForMatching(text);

    expect(folded.text.length).toBe(100_003);
    expect([folded.text.slice(-8), folded.origStart.at(-1)]).toEqual(["word end", 100_002]);
  });

  it("leaves other scripts and leetspeak alone in the plain fold", () => {
    expect(foldPlain("Ｔｅｓｔ Привет 1gn0r3").text).toBe("test привет 1gn0r3");
  });
});

describe("prepareText", () => {
  it("lists the same trigger words as vocabularyOf on the folded text", () => {
    const words = ["ignore", "previous", "jail*"].map(registerTrigger);
    const prepared = prepareText("IGNORE the Jailbroken, previous note");

    const direct = vocabularyOf(prepared.folded.text);

    expect(words.map((w) => hasTrigger(prepared.vocab, w))).toEqual([true, true, true]);
    expect(Array.from(prepared.vocab.present)).toEqual(Array.from(direct.present));
  });
});
