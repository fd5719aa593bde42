import { describe, expect, it } from "vitest";
import { costNanos, formatUsd, moneyToNanos, parseUsdToNanos, usdFromNanos } from "./index.js";

describe("money", () => {
  it("splits nano-dollars into units and nanos with one sign", () => {
    const money = usdFromNanos(3_250_000_001n);

    expect(money.units).toBe(3n);
    expect(money.nanos).toBe(250_000_001);
    expect(moneyToNanos(money)).toBe(3_250_000_001n);
    expect(usdFromNanos(-1_500_000_000n).nanos).toBe(-500_000_000);
  });

  it("parses and formats dollar amounts exactly", () => {
    expect(parseUsdToNanos("18.75")).toBe(18_750_000_000n);
    expect(parseUsdToNanos("0.03")).toBe(30_000_000n);
    expect(formatUsd(1_234n)).toBe("0.000001234");
    expect(() => parseUsdToNanos("1e-3")).toThrow(/not a dollar amount/);
  });

  it("bills each token class at its own price", () => {
    const sonnet = {
      inputNanosPerMTok: parseUsdToNanos("3"),
      outputNanosPerMTok: parseUsdToNanos("15"),
      cacheReadNanosPerMTok: parseUsdToNanos("0.30"),
      cacheWriteNanosPerMTok: parseUsdToNanos("3.75"),
    };

    const cost = costNanos(
      { inputTokens: 1_000, outputTokens: 500, cacheReadTokens: 2_000, cacheWriteTokens: 100 },
      sonnet,
    );

    // 1000*3000 + 500*15000 + 2000*300 + 100*3750 nano-dollars
    expect(cost).toBe(3_000_000n + 7_500_000n + 600_000n + 375_000n);
  });
});
