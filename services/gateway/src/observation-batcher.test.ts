import { startTelemetry, type TelemetryOptions } from "@mesh/telemetry";
import { SpanKind, trace } from "@opentelemetry/api";
import { afterAll, afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import {
  BATCH_SPAN_NAME,
  createObservationBatcher,
  type ObservationBatcherOptions,
  type ObservationInput,
} from "./observation-batcher.js";

type Processor = NonNullable<TelemetryOptions["spanProcessors"]>[number];
type EndedSpan = Parameters<Processor["onEnd"]>[0];

const ended: EndedSpan[] = [];
const stopTelemetry = startTelemetry({
  serviceName: "gateway-test",
  spanProcessors: [
    {
      onStart: () => undefined,
      onEnd: (span) => void ended.push(span),
      forceFlush: async () => undefined,
      shutdown: async () => undefined,
    },
  ],
});
afterAll(() => stopTelemetry());

/** A send stand-in that records each batch's request ids; `fail` makes the next calls reject. */
function stubSend() {
  const stub = {
    batches: [] as string[][],
    fail: undefined as Error | undefined,
    /** Set to hold sends until `release` is called. */
    held: undefined as Promise<void> | undefined,
    send: async (observations: ObservationInput[]) => {
      stub.batches.push(observations.map((o) => o.requestId ?? ""));
      if (stub.held) await stub.held;
      if (stub.fail) throw stub.fail;
    },
  };
  return stub;
}

const ids = (from: number, count: number) =>
  Array.from({ length: count }, (_, i) => `req-${from + i}`);

function open(stub: ReturnType<typeof stubSend>, extra: Partial<ObservationBatcherOptions> = {}) {
  const logger = { warn: vi.fn() };
  const batcher = createObservationBatcher({ send: stub.send, logger, ...extra });
  const add = (requestIds: string[]) => {
    for (const requestId of requestIds) batcher.add({ requestId, model: "claude-haiku-3" });
  };
  return { batcher, logger, add };
}

describe("observation batcher", () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("sends what arrived within 25 ms as one batch, in order, and nothing before", async () => {
    const stub = stubSend();
    const { batcher, add } = open(stub);

    add(ids(1, 3));
    await vi.advanceTimersByTimeAsync(10);
    add(ids(4, 1));
    await vi.advanceTimersByTimeAsync(14);
    expect(stub.batches).toEqual([]);
    expect(batcher.queued()).toBe(4);

    await vi.advanceTimersByTimeAsync(1);
    expect(stub.batches).toEqual([["req-1", "req-2", "req-3", "req-4"]]);
    expect(batcher.queued()).toBe(0);

    // The next observation arms a fresh timer: 25 ms from its own arrival.
    add(ids(5, 1));
    await vi.advanceTimersByTimeAsync(24);
    expect(stub.batches).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(stub.batches).toEqual([["req-1", "req-2", "req-3", "req-4"], ["req-5"]]);
  });

  it("sends a batch at once when 200 are queued, and the rest on the timer", async () => {
    const stub = stubSend();
    const { batcher, add } = open(stub);

    add(ids(1, 450));

    expect(stub.batches.map((b) => b.length)).toEqual([200, 200]);
    expect(stub.batches[0]?.[0]).toBe("req-1");
    expect(stub.batches[1]?.[0]).toBe("req-201");
    expect(batcher.queued()).toBe(50);
    await vi.advanceTimersByTimeAsync(25);
    expect(stub.batches.map((b) => b.length)).toEqual([200, 200, 50]);
    expect(stub.batches[2]?.[49]).toBe("req-450");
  });

  it("takes its delay and size from the options", async () => {
    const stub = stubSend();
    const { add } = open(stub, { maxDelayMs: 5, maxBatch: 2 });

    add(ids(1, 3));
    expect(stub.batches).toEqual([["req-1", "req-2"]]);
    await vi.advanceTimersByTimeAsync(5);
    expect(stub.batches).toEqual([["req-1", "req-2"], ["req-3"]]);
  });

  it("on close sends what is queued, waits for sends in flight, then sends at once", async () => {
    const stub = stubSend();
    let release = () => {};
    stub.held = new Promise<void>((resolve) => (release = resolve));
    const { batcher, add } = open(stub);
    add(ids(1, 2));

    let closed = false;
    const closing = batcher.close().then(() => (closed = true));
    expect(stub.batches).toEqual([["req-1", "req-2"]]);
    await vi.advanceTimersByTimeAsync(100);
    expect(closed).toBe(false);

    release();
    await closing;
    expect(closed).toBe(true);
    // A request finishing after shutdown began is not held back for a timer.
    stub.held = undefined;
    add(ids(3, 1));
    expect(stub.batches).toEqual([["req-1", "req-2"], ["req-3"]]);
  });

  it("logs a failed batch with its size, drops it, and sends the next one", async () => {
    const stub = stubSend();
    stub.fail = new Error("14 UNAVAILABLE: metrics down");
    const { logger, add } = open(stub);

    add(ids(1, 3));
    await vi.advanceTimersByTimeAsync(25);
    expect(logger.warn).toHaveBeenCalledTimes(1);
    expect(logger.warn).toHaveBeenCalledWith(
      { err: "Error: 14 UNAVAILABLE: metrics down", observations: 3 },
      "metrics observations lost",
    );

    stub.fail = undefined;
    add(ids(4, 1));
    await vi.advanceTimersByTimeAsync(25);
    expect(stub.batches).toEqual([["req-1", "req-2", "req-3"], ["req-4"]]);
    expect(logger.warn).toHaveBeenCalledTimes(1);
  });
});

describe("observation batcher tracing", () => {
  it("sends each batch in a trace of its own, linked to the requests it carries", async () => {
    ended.length = 0;
    const stub = stubSend();
    const { batcher } = open(stub);
    const tracer = trace.getTracer("test");
    const requests = ["req-a", "req-b"].map((requestId) =>
      tracer.startActiveSpan(`request ${requestId}`, { kind: SpanKind.SERVER }, (span) => {
        batcher.add({ requestId });
        span.end();
        return span.spanContext();
      }),
    );

    await batcher.close();

    const batch = ended.find((s) => s.name === BATCH_SPAN_NAME);
    expect(batch?.attributes["mesh.observations"]).toBe(2);
    expect(batch?.parentSpanContext).toBeUndefined();
    expect(requests.map((r) => r.traceId)).not.toContain(batch?.spanContext().traceId);
    expect(batch?.links.map((l) => l.context.spanId)).toEqual(requests.map((r) => r.spanId));
    expect(batch?.links.map((l) => l.context.traceId)).toEqual(requests.map((r) => r.traceId));
  });
});
