import { randomBytes } from "node:crypto";
import { createLogger } from "@mesh/logging";
import { Redis } from "ioredis";
import { afterAll, describe, expect, it } from "vitest";
import { createRequestIdClaims, isCallersId, normaliseRequestId } from "./request-id.js";

const logger = createLogger("gateway-test", "silent");
const TEST_REDIS_URL = process.env.TEST_REDIS_URL ?? "redis://127.0.0.1:6379";

describe("request id claims in process", () => {
  it("takes an id once, again after its time, and forgets the oldest past the cap", async () => {
    let now = 0;
    const claims = createRequestIdClaims(undefined, {
      ttlSeconds: 60,
      maxEntries: 2,
      logger,
      now: () => now,
    });

    const first = [await claims.claim("a"), await claims.claim("a"), await claims.claim("b")];
    now = 59_999;
    const beforeExpiry = await claims.claim("a");
    now = 60_000;
    const atExpiry = await claims.claim("a");
    // Now "b" (from time 0) and "a" (from 60 s) are held; a third pushes out "b".
    const third = await claims.claim("c");
    const bAgain = await claims.claim("b");

    expect(first).toEqual([true, false, true]);
    expect([beforeExpiry, atExpiry, third, bAgain]).toEqual([false, true, true, true]);
  });
});

describe("request id claims in Redis", () => {
  const redis = new Redis(TEST_REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
  afterAll(() => redis.quit());

  it("takes an id once across replicas, with the time to live set", async () => {
    const id = `claim-${randomBytes(6).toString("hex")}`;
    const options = { ttlSeconds: 600, maxEntries: 1_000, logger };
    const one = createRequestIdClaims(redis, options);
    const other = createRequestIdClaims(redis, options);

    const answers = await Promise.all([one.claim(id), other.claim(id), one.claim(id)]);

    expect(answers.filter(Boolean)).toHaveLength(1);
    const ttl = await redis.ttl(`mesh:request-id:${id}`);
    expect(ttl).toBeGreaterThan(590);
    expect(ttl).toBeLessThanOrEqual(600);
  });

  it("treats an unreachable Redis as the id being used", async () => {
    const down = new Redis("redis://127.0.0.1:1", {
      lazyConnect: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
    });
    const claims = createRequestIdClaims(down, { ttlSeconds: 60, maxEntries: 1_000, logger });

    expect(await claims.claim("anything")).toBe(false);
    down.disconnect();
  });
});

describe("normaliseRequestId", () => {
  it("keeps a caller's safe id, and makes one for a bad id or one of the gateway's own", () => {
    const made = normaliseRequestId(undefined);

    expect(made).toMatch(/^req_[0-9a-f]{32}$/);
    expect(isCallersId(made)).toBe(false);
    expect(normaliseRequestId("order-42:retry.1")).toBe("order-42:retry.1");
    expect(isCallersId("order-42:retry.1")).toBe(true);
    for (const bad of [made, "has space", "x".repeat(129), ""]) {
      const fresh = normaliseRequestId(bad);
      expect([fresh === bad, /^req_[0-9a-f]{32}$/.test(fresh)]).toEqual([false, true]);
    }
  });
});
