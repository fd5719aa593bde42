import { describe, expect, it } from "vitest";
import { findPii } from "./detectors.js";

/** Each PERSON or ADDRESS finding as [type, the text at its offsets]. */
function found(text: string) {
  return findPii(text, "US")
    .filter((m) => m.type === "PERSON" || m.type === "ADDRESS")
    .map((m) => [m.type, text.slice(m.start, m.end)]);
}

describe("person names", () => {
  it("takes the name after a title, without the title", () => {
    expect(found("Please ask Dr. Ingrid Halvorsen and mrs Okafor to join.")).toEqual([
      ["PERSON", "Ingrid Halvorsen"],
      ["PERSON", "Okafor"],
    ]);
  });

  it("takes any capitalised name after 'my name is', a name label or a closing", () => {
    expect(found("Hello, my name is Tavita Faleolo and I need help.")).toEqual([
      ["PERSON", "Tavita Faleolo"],
    ]);
    expect(found("Name: Quirin Oberhauser\nRole: tester")).toEqual([
      ["PERSON", "Quirin Oberhauser"],
    ]);
    expect(found("Thanks for the quick reply.\n\nKind regards,\nElodie Marchetti")).toEqual([
      ["PERSON", "Elodie Marchetti"],
    ]);
  });

  it("knows common given names, lists of names and possessives", () => {
    expect(found("Invite Pedro, Yuki and Fatima; Olivia's slides come first.")).toEqual([
      ["PERSON", "Pedro"],
      ["PERSON", "Yuki"],
      ["PERSON", "Fatima"],
      ["PERSON", "Olivia"],
    ]);
    expect(found("The report by Henrik Lindqvist was late.")).toEqual([
      ["PERSON", "Henrik Lindqvist"],
    ]);
  });

  it("reads names with accents or curly apostrophes like plain ones", () => {
    expect(found("ich heiße Jürgen Groß. Regards,\nBjörn")).toEqual([
      ["PERSON", "Jürgen Groß"],
      ["PERSON", "Björn"],
    ]);
    expect(found("Kevin’s notes and Jones’ slides; MR SMITH is away.")).toEqual([
      ["PERSON", "Kevin"],
      ["PERSON", "Jones"],
    ]);
  });

  it("leaves streets, firms, places, months and title-case headings alone", () => {
    expect(
      found(
        "Will the George Street office of Jordan Holdings open in May? " +
          "Read Ten Ways To Better Sleep. I'm Canadian, from St Albert.",
      ),
    ).toEqual([]);
  });
});

describe("postal addresses", () => {
  it("finds US addresses with unit, town, state and ZIP code", () => {
    const text = "Ship it to 1400 Juniper Avenue, Suite 210, Boulder, CO 80302 by Friday.";

    expect(found(text)).toEqual([["ADDRESS", "1400 Juniper Avenue, Suite 210, Boulder, CO 80302"]]);
  });

  it("finds UK, German and French addresses", () => {
    const text = "Office: 7 Harrow Mews, Leeds LS2 7EQ. Lager: Kastanienallee 12, 10435 Berlin.";

    expect(found(text)).toEqual([
      ["ADDRESS", "7 Harrow Mews, Leeds LS2 7EQ"],
      ["ADDRESS", "Kastanienallee 12, 10435 Berlin"],
    ]);
    expect(found("Envoyez au 18 bis avenue des Tilleuls, 44000 Nantes.")).toEqual([
      ["ADDRESS", "18 bis avenue des Tilleuls, 44000 Nantes"],
    ]);
  });

  it("follows an address over several lines", () => {
    expect(found("Deliver to:\n88 Quarry Lane\nApt 3\nPortland, OR 97205\nThanks")).toEqual([
      ["ADDRESS", "88 Quarry Lane\nApt 3\nPortland, OR 97205"],
    ]);
  });

  it("starts an address only at a number that stands alone, and finds every one", () => {
    const text =
      "Send ref-12 Oak Street parts to 34 Elm Street, Springfield, IL 62704 or Birkenweg 5.";

    expect(found(text)).toEqual([
      ["ADDRESS", "34 Elm Street, Springfield, IL 62704"],
      ["ADDRESS", "Birkenweg 5"],
    ]);
  });

  it("leaves numbers before ordinary words alone", () => {
    expect(found("List 5 Ways To Park your savings, and 3 points on Main ideas.")).toEqual([]);
  });
});
