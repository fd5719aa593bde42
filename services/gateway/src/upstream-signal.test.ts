import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { afterGrace } from "./upstream-signal.js";

describe("afterGrace", () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it("cuts the call a grace after its caller left, not before", () => {
    const caller = new AbortController();
    const upstream = afterGrace(caller.signal, 2_000);

    caller.abort();
    vi.advanceTimersByTime(1_999);
    const early = upstream.signal?.aborted;
    vi.advanceTimersByTime(1);

    expect([early, upstream.signal?.aborted]).toEqual([false, true]);
  });

  it("cuts at once when the grace ended before the caller left, and at its end after", () => {
    const started = new AbortController();
    const stream = afterGrace(started.signal, 60_000);
    stream.endGrace();
    started.abort();

    const waiting = new AbortController();
    const early = afterGrace(waiting.signal, 2_000);
    waiting.abort();
    vi.advanceTimersByTime(1_000);
    const beforeStart = early.signal?.aborted;
    early.endGrace();

    expect(stream.signal?.aborted).toBe(true);
    expect([beforeStart, early.signal?.aborted]).toEqual([false, true]);
  });

  it("never cuts a call that ended, nor one without a caller signal", () => {
    const caller = new AbortController();
    const upstream = afterGrace(caller.signal, 2_000);
    upstream.done();
    caller.abort();
    vi.advanceTimersByTime(10_000);

    expect(upstream.signal?.aborted).toBe(false);
    expect(afterGrace(undefined, 2_000).signal).toBeUndefined();
  });
});
