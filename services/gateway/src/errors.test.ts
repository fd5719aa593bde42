import { GrpcStatus, RpcError } from "@mesh/rpc";
import { describe, expect, it } from "vitest";
import { openAiErrorShape } from "./errors.js";

describe("openAiErrorShape", () => {
  it("tells a budget refusal from a rate limit by its code", () => {
    const budget = new RpcError(GrpcStatus.RESOURCE_EXHAUSTED, "no budget", "budget_exceeded");
    const rate = Object.assign(
      new RpcError(GrpcStatus.RESOURCE_EXHAUSTED, "slow down", "rate_limited"),
      { kind: "requests" },
    );

    expect(openAiErrorShape(budget)).toEqual({
      status: 429,
      type: "insufficient_quota",
      code: "budget_exceeded",
    });
    expect(openAiErrorShape(rate)).toEqual({
      status: 429,
      type: "requests",
      code: "rate_limit_exceeded",
    });
  });
});
