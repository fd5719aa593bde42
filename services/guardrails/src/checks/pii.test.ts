import { describe, expect, it } from "vitest";
import type { Segment } from "../conversation.js";
import { Redactor } from "../pii/redactor.js";
import { DEFAULT_POLICY, type GuardrailPolicy } from "../policy.js";
import { GuardrailAction } from "../verdict.js";
import { checkPii } from "./pii.js";

function segment(text: string, messageIndex = 0): Segment {
  const location = { part: "message", messageIndex, blockIndex: 0, innerIndex: 0 } as const;
  return { location, text, kind: "text" };
}

describe("checkPii", () => {
  it("replaces each value with a typed placeholder and reports exact spans", () => {
    const text = "Mail bob@example.com or call +1 415 555 0100, card 4539 1488 0343 6467.";

    const result = checkPii([segment(text)], "input", DEFAULT_POLICY, new Redactor());

    expect(result.rewrites.get(0)).toBe("Mail <EMAIL_1> or call <PHONE_1>, card <CREDIT_CARD_1>.");
    expect(result.verdicts.map((v) => [v.category, v.action, v.spans.map((s) => [s.start, s.end])]))
      .toEqual([
        ["email", GuardrailAction.REDACT, [[5, 20]]],
        ["phone", GuardrailAction.REDACT, [[29, 44]]],
        ["credit_card", GuardrailAction.REDACT, [[51, 70]]],
      ]);
    expect(result.counts).toEqual({ EMAIL: 1, PHONE: 1, CREDIT_CARD: 1 });
  });

  it("gives the same value the same placeholder across messages", () => {
    const segments = [
      segment("from a@example.com and b@example.com", 0),
      segment("again a@example.com", 1),
    ];

    const result = checkPii(segments, "input", DEFAULT_POLICY, new Redactor());

    expect(result.rewrites.get(0)).toBe("from <EMAIL_1> and <EMAIL_2>");
    expect(result.rewrites.get(1)).toBe("again <EMAIL_1>");
  });

  it("numbers every type on its own", () => {
    const text = "IBAN DE89 3704 0044 0532 0130 00, SSN 123-45-6789, host 10.0.0.1, " +
      "key sk-abcdefghijklmnopqrstuvwxyz012345";

    const result = checkPii([segment(text)], "input", DEFAULT_POLICY, new Redactor());

    expect(result.rewrites.get(0)).toBe(
      "IBAN <IBAN_1>, SSN <US_SSN_1>, host <IP_ADDRESS_1>, key <API_KEY_1>",
    );
  });

  it("keeps emoji and CJK text intact around a replacement", () => {
    const text = "👩‍💻 联系我 zhang@example.cn 🎉 谢谢 👍🏽";

    const result = checkPii([segment(text)], "input", DEFAULT_POLICY, new Redactor());

    expect(result.rewrites.get(0)).toBe("👩‍💻 联系我 <EMAIL_1> 🎉 谢谢 👍🏽");
    // 👩‍💻 is five UTF-16 units (two surrogate pairs and a joiner), then a space and 联系我.
    expect(result.verdicts[0]?.spans).toEqual([
      { part: "message", messageIndex: 0, blockIndex: 0, innerIndex: 0, start: 10, end: 26 },
    ]);
    expect(text.slice(10, 26)).toBe("zhang@example.cn");
  });

  it("blocks or only reports when the policy says so", () => {
    const policy: GuardrailPolicy = {
      ...DEFAULT_POLICY,
      pii: { ...DEFAULT_POLICY.pii, EMAIL: "block", PHONE: "allow" },
    };

    const segments = [segment("a@example.com +1 415 555 0100")];

    const result = checkPii(segments, "input", policy, new Redactor());

    expect(result.rewrites.get(0)).toBe("<EMAIL_1> +1 415 555 0100");
    expect(result.verdicts.map((v) => [v.category, v.action, v.passed])).toEqual([
      ["email", GuardrailAction.BLOCK, false],
      ["phone", GuardrailAction.ALLOW, false],
    ]);
  });

  it("returns one clean verdict when nothing is found", () => {
    const segments = [segment("What is the capital of France?")];

    const result = checkPii(segments, "input", DEFAULT_POLICY, new Redactor());

    expect(result.verdicts).toEqual([
      {
        check: "pii",
        passed: true,
        action: GuardrailAction.ALLOW,
        category: "",
        score: 0,
        spans: [],
        reason: "no personal data or secrets found",
        stage: "input",
      },
    ]);
  });

  it("never puts a found value into a verdict", () => {
    const result = checkPii([segment("ssn 123-45-6789")], "input", DEFAULT_POLICY, new Redactor());

    expect(JSON.stringify(result.verdicts)).not.toContain("6789");
  });
});

describe("Redactor", () => {
  it("restores placeholders in an answer and treats spacing variants as one value", () => {
    const redactor = new Redactor();

    const a = redactor.placeholder("CREDIT_CARD", "4539 1488 0343 6467");
    const b = redactor.placeholder("CREDIT_CARD", "4539-1488-0343-6467");

    expect([a, b]).toEqual(["<CREDIT_CARD_1>", "<CREDIT_CARD_1>"]);
    expect(redactor.restore("Your card <CREDIT_CARD_1> and <EMAIL_9>.")).toBe(
      "Your card 4539 1488 0343 6467 and <EMAIL_9>.",
    );
  });
});
