import { create } from "@bufbuild/protobuf";
import { StreamStartSchema, ToolUseBlockSchema } from "@mesh/contracts/common/v1/chat_pb";
import { moneyToNanos } from "@mesh/money";
import { describe, expect, it } from "vitest";
import { StreamTally } from "./stream-tally.js";

const SONNET_PRICES = {
  inputNanosPerMtok: 3_000_000_000n,
  outputNanosPerMtok: 15_000_000_000n,
  cacheReadNanosPerMtok: 300_000_000n,
  cacheWriteNanosPerMtok: 3_750_000_000n,
};

function opened(tally: StreamTally, withPrices = true) {
  tally.opened(create(StreamStartSchema, {
    requestId: "r1",
    model: "claude-sonnet-4",
    provider: "anthropic",
    usage: { inputTokens: 100, outputTokens: 1, cacheReadTokens: 800, cacheWriteTokens: 200 },
    ...(withPrices ? { prices: SONNET_PRICES } : {}),
  }));
}

describe("StreamTally", () => {
  it("has nothing to bill before the stream opened", () => {
    expect(new StreamTally().partial()).toBeUndefined();
  });

  it("bills input and cache usage from the start and output from the text per block", () => {
    const tally = new StreamTally();
    opened(tally);
    tally.text(0, "abcd".repeat(10)); // 40 bytes: 10 tokens
    tally.text(0, "é"); // 2 more bytes: block 0 is 42 bytes, 11 tokens
    tally.text(1, "x"); // a block of its own: 1 token
    tally.toolUse(create(ToolUseBlockSchema, { id: "t", name: "get", inputJson: '{"q":1}' }));

    const result = tally.partial()!;

    // 11 + 1 + ceil(10 / 4) = 15 output tokens.
    expect(result.usage).toMatchObject({
      inputTokens: 100, outputTokens: 15, cacheReadTokens: 800, cacheWriteTokens: 200,
    });
    // 100×3000 + 15×15000 + 800×300 + 200×3750 = 300,000 + 225,000 + 240,000 + 750,000.
    expect(moneyToNanos(result.cost)).toBe(1_515_000n);
    expect(result.prices?.outputNanosPerMtok).toBe(15_000_000_000n);
    expect(result.model).toBe("claude-sonnet-4");
  });

  it("keeps the provider's output count when it exceeds the estimate", () => {
    const tally = new StreamTally();
    opened(tally);
    expect(tally.partial()!.usage?.outputTokens).toBe(1);
  });

  it("costs nothing when the start carried no prices", () => {
    const tally = new StreamTally();
    opened(tally, false);
    tally.text(0, "abcd");
    expect(moneyToNanos(tally.partial()!.cost)).toBe(0n);
  });
});
