import { describe, expect, it } from "vitest";
import { ProviderError } from "./providers/types.js";
import { parseRetryAfter, Resilience } from "./resilience.js";
import { recordingClock } from "./testkit.js";

describe("parseRetryAfter", () => {
  const now = Date.parse("2026-01-01T00:00:00Z");
  const headers = (values: Record<string, string>) => new Headers(values);

  it("reads seconds, milliseconds and HTTP dates", () => {
    expect(parseRetryAfter(headers({ "retry-after": "2" }), now)).toBe(2_000);
    expect(parseRetryAfter(headers({ "retry-after": "0.5" }), now)).toBe(500);
    expect(parseRetryAfter(headers({ "retry-after-ms": "1234", "retry-after": "9" }), now))
      .toBe(1_234);
    expect(parseRetryAfter(headers({ "retry-after": "Thu, 01 Jan 2026 00:00:07 GMT" }), now))
      .toBe(7_000);
  });

  it("ignores what it cannot read", () => {
    expect(parseRetryAfter(headers({}), now)).toBeUndefined();
    expect(parseRetryAfter(headers({ "retry-after": "soon" }), now)).toBeUndefined();
    expect(parseRetryAfter(undefined, now)).toBeUndefined();
  });
});

describe("Resilience", () => {
  const settings = {
    maxRetries: 3,
    initialDelayMs: 100,
    maxDelayMs: 400,
    maxRetryAfterMs: 5_000,
    breakerFailures: 10,
    breakerCooldownMs: 1_000,
  };

  it("retries up to maxRetries with jittered waits no longer than maxDelayMs", async () => {
    const clock = recordingClock();
    const resilience = new Resilience(settings, clock);
    let tries = 0;

    const err = await resilience
      .run("m@d", async () => {
        tries++;
        throw new ProviderError("server_error", "boom", { status: 502 });
      })
      .catch((e: unknown) => e);

    expect(tries).toBe(4);
    expect((err as ProviderError).status).toBe(502);
    expect(clock.waits).toHaveLength(3);
    for (const wait of clock.waits) {
      expect(wait).toBeGreaterThan(0);
      expect(wait).toBeLessThanOrEqual(400);
    }
  });

  it("does not retry auth or invalid requests", async () => {
    const resilience = new Resilience(settings, recordingClock());
    let tries = 0;

    await resilience
      .run("m@d", async () => {
        tries++;
        throw new ProviderError("auth", "bad key", { status: 403 });
      })
      .catch(() => undefined);

    expect(tries).toBe(1);
  });
});
