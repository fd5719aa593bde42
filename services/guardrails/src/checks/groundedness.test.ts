import { describe, expect, it } from "vitest";
import type { Segment } from "../conversation.js";
import { DEFAULT_POLICY } from "../policy.js";
import { GuardrailAction } from "../verdict.js";
import { checkGroundedness, splitSentences } from "./groundedness.js";

const SOURCES = [
  {
    text: "The Eiffel Tower was completed in March 1889 for the World's Fair in Paris. " +
      "It is 330 metres tall and was designed by the engineering firm of Gustave Eiffel.",
  },
];

function answer(text: string): Segment[] {
  const location = { part: "content", messageIndex: 0, blockIndex: 0, innerIndex: 0 } as const;
  return [{ location, text, kind: "text" }];
}

describe("splitSentences", () => {
  it("splits at sentence ends and line breaks but not at abbreviations or decimals", () => {
    const text = "Dr. Smith paid 3.5 euros. Then he left!\nNew line here";

    const parts = splitSentences(text).map((s) => text.slice(s.start, s.end));

    expect(parts).toEqual(["Dr. Smith paid 3.5 euros.", "Then he left!", "New line here"]);
  });
});

describe("checkGroundedness", () => {
  it("lists the sentence whose number is not in the sources", () => {
    const text = "The Eiffel Tower was completed in 1889. It is 450 metres tall. " +
      "Gustave Eiffel's firm designed it.";

    const verdict = checkGroundedness(answer(text), true, SOURCES, "output", DEFAULT_POLICY);

    expect(verdict).toEqual({
      check: "groundedness",
      passed: false,
      action: GuardrailAction.FLAG,
      category: "potential_hallucination",
      score: 0.333,
      spans: [
        { part: "content", messageIndex: 0, blockIndex: 0, innerIndex: 0, start: 40, end: 62 },
      ],
      reason: "1 of 3 sentences not supported by the sources: indices 1",
      stage: "output",
    });
    expect(text.slice(40, 62)).toBe("It is 450 metres tall.");
  });

  it("flags names and unsupported claims, never quoting them", () => {
    const text = "The tower was completed in March 1889. Napoleon opened it with a grand parade.";

    const verdict = checkGroundedness(answer(text), true, SOURCES, "output", DEFAULT_POLICY);

    expect(verdict?.reason).toBe("1 of 2 sentences not supported by the sources: indices 1");
    expect(verdict?.reason).not.toContain("Napoleon");
  });

  it("passes an answer supported by the sources", () => {
    const text = "The Eiffel Tower in Paris was completed in 1889. It is 330 metres tall.";

    const verdict = checkGroundedness(answer(text), true, SOURCES, "output", DEFAULT_POLICY);

    expect([verdict?.passed, verdict?.action, verdict?.reason]).toEqual([
      true,
      GuardrailAction.ALLOW,
      "all 2 sentences supported by 1 source",
    ]);
  });

  it("flags a factual request that came without sources", () => {
    const segments = answer("Paris is in France.");

    const verdict = checkGroundedness(segments, true, [], "output", DEFAULT_POLICY);

    expect([verdict?.action, verdict?.category, verdict?.reason]).toEqual([
      GuardrailAction.FLAG,
      "potential_hallucination",
      "factual answer requested but no sources were given; the answer was not checked",
    ]);
  });

  it("does not run when the request does not ask for factual answers", () => {
    const segments = answer("Anything.");

    const verdict = checkGroundedness(segments, false, SOURCES, "output", DEFAULT_POLICY);

    expect(verdict).toBeUndefined();
  });
});
