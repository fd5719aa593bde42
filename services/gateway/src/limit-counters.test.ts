import { createLogger } from "@mesh/logging";
import { GrpcStatus, type RpcError } from "@mesh/rpc";
import { Redis } from "ioredis";
import { describe, expect, it, vi } from "vitest";
import type { KeyIdentity } from "./api-keys.js";
import {
  createLimitCounters,
  Refusal,
  StoreDown,
  tightest,
  type Counter,
} from "./limit-counters.js";
import { createRequestLimits, RateLimitError } from "./rate-limits.js";
import type { EffectivePolicy } from "./tenant-policy.js";
import { createTokenLimits, estimateTokens, usedTokens } from "./token-limits.js";

const logger = createLogger("gateway-test", "silent");
let n = 0;
const counter = (limit: number, owner = "this API key"): Counter => ({
  prefix: "test",
  id: `c${++n}-${Date.now()}`,
  limit,
  owner,
});
const identity = (): KeyIdentity => ({
  keyId: `key_${++n}`,
  tenant: `t${n}`,
  scopes: ["inference"],
  allowedModels: [],
});
const policy = (over: Partial<EffectivePolicy> = {}): EffectivePolicy => ({
  tenant: "t",
  requestsPerMinute: 0,
  tokensPerMinute: 0,
  keyRequestsPerMinute: 0,
  keyTokensPerMinute: 0,
  allowedModels: [],
  cacheEnabled: true,
  ...over,
});

describe("createLimitCounters in memory", () => {
  it("takes from every counter and reports each window", async () => {
    const counters = createLimitCounters(undefined, "closed", logger);
    const a = counter(5);
    const b = counter(3);

    const taken = await counters.take([a, b], 2);

    expect(taken?.map((t) => [t.window.limit, t.window.remaining])).toEqual([[5, 3], [3, 1]]);
    expect(taken?.[0]?.window.resetMs).toBeGreaterThan(59_000);
    expect(tightest(taken?.map((t) => t.window) ?? [])?.limit).toBe(3);
  });

  it("takes nothing from any counter when one refuses", async () => {
    const counters = createLimitCounters(undefined, "closed", logger);
    const roomy = counter(10);
    const tight = counter(3);
    await counters.take([tight], 2);

    const refused = await counters.take([roomy, tight], 2).catch((e: unknown) => e);
    const after = await counters.peek([roomy, tight]);

    expect(refused).toBeInstanceOf(Refusal);
    expect((refused as Refusal).counter).toBe(tight);
    expect((refused as Refusal).window.remaining).toBe(0);
    expect(after?.map((w) => w.remaining)).toEqual([10, 1]);
  });

  it("charges usage above a reservation and refunds unused points", async () => {
    const counters = createLimitCounters(undefined, "closed", logger);
    const c = counter(100);
    const [taken] = (await counters.take([c], 40)) ?? [];

    await counters.refund(taken!, 30);
    const afterRefund = await counters.peek([c]);
    await counters.charge(c, 50);
    const afterCharge = await counters.peek([c]);

    expect(afterRefund?.[0]?.remaining).toBe(90);
    expect(afterCharge?.[0]?.remaining).toBe(40);
  });

  it("does not refund into a window that has ended", async () => {
    const counters = createLimitCounters(undefined, "closed", logger);
    const c = counter(100);
    const [taken] = (await counters.take([c], 40)) ?? [];

    await counters.refund({ ...taken!, windowEndMs: Date.now() - 1 }, 40);

    expect((await counters.peek([c]))?.[0]?.remaining).toBe(60);
  });
});

describe("createLimitCounters when Redis is down", () => {
  const deadRedis = () =>
    new Redis("redis://127.0.0.1:1", {
      lazyConnect: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
    });

  it("refuses by default and logs the outage once, not per request", async () => {
    const redis = deadRedis();
    const log = createLogger("gateway-test", "silent");
    const error = vi.spyOn(log, "error");
    const limits = createRequestLimits(createLimitCounters(redis, "closed", log));
    const policyOn = policy({ keyRequestsPerMinute: 10 });

    const errors = await Promise.all(
      [1, 2, 3].map(() => limits.admit(identity(), policyOn).catch((e: unknown) => e)),
    );
    redis.disconnect();

    for (const err of errors) {
      expect(err).toMatchObject({
        code: GrpcStatus.UNAVAILABLE,
        reason: "rate_limiter_unavailable",
      });
    }
    expect(error).toHaveBeenCalledTimes(1);
  });

  it("serves without limits when the policy is to fail open", async () => {
    const redis = deadRedis();
    const counters = createLimitCounters(redis, "open", logger);

    const taken = await counters.take([counter(1)], 1);
    redis.disconnect();

    expect(taken).toBeUndefined();
    expect(new StoreDown().message).toBe("rate-limit store unreachable");
  });
});

describe("request and token limits", () => {
  it("refuses the request over the per-key limit with the window that refused it", async () => {
    const limits = createRequestLimits(createLimitCounters(undefined, "closed", logger));
    const who = identity();
    const p = policy({ keyRequestsPerMinute: 2, requestsPerMinute: 100 });

    const first = await limits.admit(who, p);
    await limits.admit(who, p);
    const refused = await limits.admit(who, p).catch((e: unknown) => e);

    expect(first).toMatchObject({ limit: 2, remaining: 1 });
    expect(refused).toBeInstanceOf(RateLimitError);
    expect((refused as RateLimitError).code).toBe(GrpcStatus.RESOURCE_EXHAUSTED);
    expect((refused as RateLimitError).limits.requests).toMatchObject({ limit: 2, remaining: 0 });
    expect((refused as RateLimitError).message).toMatch(
      /^rate limit of 2 requests per minute reached for this API key; retry after \d+ s$/,
    );
  });

  it("counts a tenant's requests over all its keys", async () => {
    const limits = createRequestLimits(createLimitCounters(undefined, "closed", logger));
    const a = identity();
    const b = { ...identity(), tenant: a.tenant };
    const p = policy({ requestsPerMinute: 1 });

    await limits.admit(a, p);
    const refused = await limits.admit(b, p).then(() => undefined, (e: RateLimitError) => e);

    expect(refused?.message).toContain(`for tenant ${a.tenant}`);
  });

  it("settles a reservation to the tokens really used", async () => {
    const counters = createLimitCounters(undefined, "closed", logger);
    const tokens = createTokenLimits(counters);
    const who = identity();
    const p = policy({ keyTokensPerMinute: 1_000 });

    const reservation = await tokens.reserve(who, p, 300);
    await reservation.settle(120);
    await reservation.settle(999);
    const afterSmall = await tokens.peek(who, p);
    const second = await tokens.reserve(who, p, 100);
    await second.settle(700);

    expect(reservation.window).toMatchObject({ limit: 1_000, remaining: 700 });
    expect(afterSmall).toMatchObject({ remaining: 880 });
    expect(await tokens.peek(who, p)).toMatchObject({ remaining: 180 });
  });

  it("says when one request alone needs more than the limit", async () => {
    const tokens = createTokenLimits(createLimitCounters(undefined, "closed", logger));

    const refused = await tokens
      .reserve(identity(), policy({ keyTokensPerMinute: 100 }), 150)
      .then(() => undefined, (e: RpcError) => e);

    // No wait would help, so it is the caller's error rather than a limit to retry after.
    expect(refused).not.toBeInstanceOf(RateLimitError);
    expect([refused?.code, refused?.reason, refused?.message]).toEqual([
      GrpcStatus.INVALID_ARGUMENT,
      "invalid_request",
      "this request needs about 150 tokens (prompt estimate plus max_tokens), more than the " +
        "limit of 100 tokens per minute for this API key; lower max_tokens or shorten the prompt",
    ]);
  });

  it("applies no limit set to 0", async () => {
    const tokens = createTokenLimits(createLimitCounters(undefined, "closed", logger));

    const reservation = await tokens.reserve(identity(), policy(), 1e9);

    expect(reservation.window).toBeUndefined();
  });
});

describe("estimateTokens", () => {
  it("adds a prompt estimate to max_tokens, or to the default without one", () => {
    const params = {
      system: [{ text: "x".repeat(40) }],
      tools: [],
      messages: [{ content: [{ block: { case: "text", value: { text: "y".repeat(80) } } }] }],
      maxTokens: 0,
    };

    expect(estimateTokens(params as never, 500)).toBe(10 + 20 + 4 + 500);
    expect(estimateTokens({ ...params, maxTokens: 50 } as never, 500)).toBe(10 + 20 + 4 + 50);
    const usage = { inputTokens: 1, outputTokens: 2, cacheReadTokens: 3, cacheWriteTokens: 4 };
    expect(usedTokens(usage as never)).toBe(10);
  });
});
