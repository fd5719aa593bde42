import { describe, expect, it } from "vitest";
import {
  anthropicLimitHeaders,
  duration,
  mergeLimits,
  openAiLimitHeaders,
} from "./rate-limit-headers.js";

const limits = {
  requests: { limit: 10, remaining: 3, resetMs: 42_100 },
  tokens: { limit: 1_000, remaining: 0, resetMs: 61_000 },
};

describe("rate-limit headers", () => {
  it("writes OpenAI's names with durations", () => {
    expect(openAiLimitHeaders(limits)).toEqual({
      "x-ratelimit-limit-requests": "10",
      "x-ratelimit-remaining-requests": "3",
      "x-ratelimit-reset-requests": "43s",
      "x-ratelimit-limit-tokens": "1000",
      "x-ratelimit-remaining-tokens": "0",
      "x-ratelimit-reset-tokens": "1m1s",
    });
  });

  it("writes Anthropic's names with reset times rounded up to the second", () => {
    const now = Date.parse("2026-01-01T00:00:00.500Z");

    expect(anthropicLimitHeaders(limits, now)).toEqual({
      "anthropic-ratelimit-requests-limit": "10",
      "anthropic-ratelimit-requests-remaining": "3",
      "anthropic-ratelimit-requests-reset": "2026-01-01T00:00:43Z",
      "anthropic-ratelimit-tokens-limit": "1000",
      "anthropic-ratelimit-tokens-remaining": "0",
      "anthropic-ratelimit-tokens-reset": "2026-01-01T00:01:02Z",
    });
  });

  it("leaves out what no limit applies to", () => {
    expect(openAiLimitHeaders({})).toEqual({});
    expect(Object.keys(anthropicLimitHeaders({ requests: limits.requests }))).toHaveLength(3);
  });

  it("lets a refusal's window replace the one seen at admission", () => {
    const refused = { limits: { tokens: { limit: 5, remaining: 0, resetMs: 1 } } };

    expect(mergeLimits(limits, refused)).toEqual({ requests: limits.requests, ...refused.limits });
    expect(mergeLimits(undefined, new Error("x"))).toEqual({});
  });

  it("formats durations as OpenAI does", () => {
    expect(duration(250)).toBe("250ms");
    expect(duration(1_000)).toBe("1s");
    expect(duration(59_001)).toBe("1m0s");
    expect(duration(125_000)).toBe("2m5s");
  });
});
