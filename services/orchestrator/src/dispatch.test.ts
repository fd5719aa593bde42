import { context, trace } from "@opentelemetry/api";
import { InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base";
import { NodeTracerProvider } from "@opentelemetry/sdk-trace-node";
import { StopReason } from "@mesh/contracts/common/v1/chat_pb";
import { GrpcStatus, RpcError } from "@mesh/rpc";
import { startFakeAnthropic, type FakeAnthropic } from "@mesh/testing";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { parseCatalog, type Catalog } from "./catalog.js";
import { Dispatcher, type DispatchEvent } from "./dispatch.js";
import { createProviders } from "./providers/registry.js";
import { Resilience, type ResilienceSettings } from "./resilience.js";
import { planRoute } from "./routing.js";
import { chatParams, fakeCatalogYaml, recordingClock, silentLogger } from "./testkit.js";

const exporter = new InMemorySpanExporter();
const tracerProvider = new NodeTracerProvider({
  spanProcessors: [new SimpleSpanProcessor(exporter)],
});
tracerProvider.register();

const settings: ResilienceSettings = {
  maxRetries: 2,
  initialDelayMs: 100,
  maxDelayMs: 1_000,
  maxRetryAfterMs: 10_000,
  breakerFailures: 100,
  breakerCooldownMs: 30_000,
};

let fake: FakeAnthropic;
let catalog: Catalog;

beforeAll(async () => {
  fake = await startFakeAnthropic();
  catalog = parseCatalog(fakeCatalogYaml(fake.url), "fake", {
    env: { FAKE_ANTHROPIC_KEY: "sk-fake" },
  });
});

afterAll(async () => {
  await fake.close();
  await tracerProvider.shutdown();
});

beforeEach(() => {
  fake.requests.length = 0;
  exporter.reset();
  expect(fake.pending()).toBe(0);
});

function setup(overrides: Partial<ResilienceSettings> = {}, captureContent = false) {
  const clock = recordingClock();
  const resilience = new Resilience({ ...settings, ...overrides }, clock);
  const providers = createProviders(catalog, {
    timeoutMs: 5_000,
    connectTimeoutMs: 5_000,
    logger: silentLogger,
    simulator: { latencyMs: 0, failModels: [], failureRate: 0, failureStatus: 529, seed: 1 },
  });
  const dispatcher = new Dispatcher(providers, resilience, silentLogger, { captureContent });
  return { clock, resilience, dispatcher };
}

function dispatchRequest(extra: Parameters<typeof chatParams>[1] = {}) {
  const params = chatParams("hello", extra);
  const server = trace.getTracer("test").startSpan("server");
  const parent = trace.setSpan(context.active(), server);
  const plan = planRoute(catalog, params, { defaultMaxTokens: 256, fallbackExplicit: true });
  return { request: { requestId: "req-1", params, plan, parent }, server };
}

async function rpcErrorOf(promise: Promise<unknown>): Promise<RpcError> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof RpcError) return err;
    throw err;
  }
  throw new Error("expected an RpcError");
}

function upstreamModels(): unknown[] {
  return fake.requests.map((r) => r.body.model);
}

describe("Dispatcher.complete", () => {
  it("retries a 529 on the same deployment, then succeeds", async () => {
    const { dispatcher, clock } = setup();
    fake.script({ kind: "error", status: 529 }, { kind: "reply", text: "ok", usage: {
      input_tokens: 10, output_tokens: 2 } });
    const { request } = dispatchRequest();

    const { result, served, routing } = await dispatcher.complete(request);

    expect(served.deployment.id).toBe("claude-sonnet-4@anthropic");
    expect(routing.attempts).toEqual([
      "claude-sonnet-4@anthropic: overloaded (529)",
      "claude-sonnet-4@anthropic: ok",
    ]);
    expect(routing.reason).toBe("no routing hint → balanced tier");
    expect(clock.waits).toHaveLength(1);
    expect(clock.waits[0]).toBeGreaterThan(0);
    expect(clock.waits[0]).toBeLessThanOrEqual(1_000);
    expect(result.usage.inputTokens).toBe(10);
    expect(upstreamModels()).toEqual(["claude-sonnet-4-upstream", "claude-sonnet-4-upstream"]);
  });

  it("waits exactly the retry-after a 429 asks for", async () => {
    const { dispatcher, clock } = setup();
    fake.script({ kind: "error", status: 429, retryAfter: 2 }, { kind: "reply" });

    const { routing } = await dispatcher.complete(dispatchRequest().request);

    expect(clock.waits).toEqual([2_000]);
    expect(routing.attempts).toEqual([
      "claude-sonnet-4@anthropic: rate limited (429)",
      "claude-sonnet-4@anthropic: ok",
    ]);
  });

  it("honours retry-after given as an HTTP date", async () => {
    const { dispatcher, clock } = setup();
    const at = new Date(Date.now() + 4_000).toUTCString();
    fake.script({ kind: "error", status: 503, retryAfter: at }, { kind: "reply" });

    await dispatcher.complete(dispatchRequest().request);

    expect(clock.waits).toHaveLength(1);
    expect(clock.waits[0]).toBeGreaterThan(2_000);
    expect(clock.waits[0]).toBeLessThanOrEqual(4_000);
  });

  it("falls back to the next model at once when retry-after is too long", async () => {
    const { dispatcher, clock } = setup();
    fake.script({ kind: "error", status: 429, retryAfter: 60 }, { kind: "reply" });

    const { served } = await dispatcher.complete(dispatchRequest().request);

    expect(served.model.name).toBe("claude-haiku-3");
    expect(clock.waits).toEqual([]);
  });

  it("never retries a 400 and does not fall back", async () => {
    const { dispatcher } = setup();
    fake.script({ kind: "error", status: 400, message: "messages: roles must alternate" });

    const err = await rpcErrorOf(dispatcher.complete(dispatchRequest().request));

    expect(err.code).toBe(GrpcStatus.INVALID_ARGUMENT);
    expect(err.reason).toBe("invalid_request");
    expect(err.message).toBe(
      "claude-sonnet-4 rejected the request: messages: roles must alternate",
    );
    expect(fake.requests).toHaveLength(1);
  });

  it("falls back balanced → fast → top after each model's retries run out", async () => {
    const { dispatcher, clock } = setup();
    const overloaded = { kind: "error", status: 529 } as const;
    fake.script(overloaded, overloaded, overloaded, overloaded, overloaded, overloaded, {
      kind: "reply",
      text: "from opus",
    });

    const { served, routing } = await dispatcher.complete(dispatchRequest().request);

    expect(served.model.name).toBe("claude-opus-4");
    expect(upstreamModels()).toEqual([
      "claude-sonnet-4-upstream",
      "claude-sonnet-4-upstream",
      "claude-sonnet-4-upstream",
      "claude-haiku-3-upstream",
      "claude-haiku-3-upstream",
      "claude-haiku-3-upstream",
      "claude-opus-4-upstream",
    ]);
    expect(routing.reason).toBe(
      "no routing hint → balanced tier; fell back to claude-opus-4 after claude-sonnet-4 " +
        "failed (overloaded (529)), claude-haiku-3 failed (overloaded (529))",
    );
    expect(routing.attempts.at(-1)).toBe("claude-opus-4@anthropic: ok");
    expect(clock.waits).toHaveLength(4);
  });

  it("falls back top → balanced for a hard request", async () => {
    const { dispatcher } = setup({ maxRetries: 0 });
    fake.script({ kind: "error", status: 500 }, { kind: "reply" });

    const { served } = await dispatcher.complete(
      dispatchRequest({ hints: { requiresReasoning: true } }).request,
    );

    expect(served.model.name).toBe("claude-sonnet-4");
    expect(upstreamModels()).toEqual(["claude-opus-4-upstream", "claude-sonnet-4-upstream"]);
  });

  it("reports RESOURCE_EXHAUSTED overloaded when every model is 429/529", async () => {
    const { dispatcher } = setup({ maxRetries: 0 });
    fake.script(
      { kind: "error", status: 529 },
      { kind: "error", status: 429, retryAfter: 3 },
      { kind: "error", status: 529 },
    );

    const err = await rpcErrorOf(dispatcher.complete(dispatchRequest().request));

    expect(err.code).toBe(GrpcStatus.RESOURCE_EXHAUSTED);
    expect(err.reason).toBe("overloaded");
    expect(err.retryAfterMs).toBe(3_000);
    expect(err.message).toBe(
      "every model is overloaded or rate limited; retry later (attempts: " +
        "claude-sonnet-4@anthropic: overloaded (529); claude-haiku-3@anthropic: rate limited " +
        "(429); claude-opus-4@anthropic: overloaded (529))",
    );
  });

  it("reports UNAVAILABLE provider_error when failures are mixed", async () => {
    const { dispatcher } = setup({ maxRetries: 0 });
    fake.script({ kind: "error", status: 529 }, { kind: "reset" }, { kind: "error", status: 401 });

    const err = await rpcErrorOf(dispatcher.complete(dispatchRequest().request));

    expect(err.code).toBe(GrpcStatus.UNAVAILABLE);
    expect(err.reason).toBe("provider_error");
    expect(err.message).toContain("claude-haiku-3@anthropic: connection;");
    expect(err.message).toContain("claude-opus-4@anthropic: auth (401))");
  });

  it("opens a deployment's breaker after N failures and skips it without a call", async () => {
    const { dispatcher, resilience } = setup({ maxRetries: 0, breakerFailures: 2 });
    fake.script(
      { kind: "error", status: 500 },
      { kind: "reply" },
      { kind: "error", status: 500 },
      { kind: "reply" },
      { kind: "reply" },
    );

    await dispatcher.complete(dispatchRequest().request);
    await dispatcher.complete(dispatchRequest().request);
    fake.requests.length = 0;
    const third = await dispatcher.complete(dispatchRequest().request);

    expect(resilience.breakerState("claude-sonnet-4@anthropic")).toBe("open");
    expect(third.routing.attempts).toEqual([
      "claude-sonnet-4@anthropic: circuit open",
      "claude-haiku-3@anthropic: ok",
    ]);
    expect(upstreamModels()).toEqual(["claude-haiku-3-upstream"]);
  });

  it("makes one GenAI span per try, siblings under the server span", async () => {
    const { dispatcher } = setup();
    fake.script({ kind: "error", status: 529 }, {
      kind: "reply",
      model: "claude-sonnet-4-20250514",
      usage: { input_tokens: 11, output_tokens: 22 },
    });
    const { request, server } = dispatchRequest({ temperature: 0.5, maxTokens: 99 });

    await dispatcher.complete(request);
    server.end();

    const spans = exporter.getFinishedSpans().filter((s) => s.name.startsWith("chat "));
    const serverId = server.spanContext().spanId;
    expect(spans.map((s) => s.name)).toEqual(["chat claude-sonnet-4", "chat claude-sonnet-4"]);
    expect(spans.map((s) => s.parentSpanContext?.spanId)).toEqual([serverId, serverId]);
    expect(spans[0]?.attributes["error.type"]).toBe("overloaded");
    expect(spans[1]?.attributes).toEqual({
      "gen_ai.operation.name": "chat",
      "gen_ai.provider.name": "anthropic",
      "gen_ai.request.model": "claude-sonnet-4-upstream",
      "gen_ai.request.max_tokens": 99,
      "gen_ai.request.temperature": 0.5,
      "gen_ai.response.model": "claude-sonnet-4-20250514",
      "gen_ai.response.finish_reasons": ["end_turn"],
      "gen_ai.usage.input_tokens": 11,
      "gen_ai.usage.output_tokens": 22,
      "gen_ai.usage.cache_read.input_tokens": 0,
      "gen_ai.usage.cache_creation.input_tokens": 0,
      "mesh.model": "claude-sonnet-4",
      "mesh.deployment": "claude-sonnet-4@anthropic",
      "mesh.attempt": 2,
      "mesh.request_id": "req-1",
      "server.address": "127.0.0.1",
    });
  });
});

describe("content capture on spans", () => {
  it("keeps prompt and answer text off spans unless the flag turns it on", async () => {
    for (const capture of [false, true]) {
      exporter.reset();
      const { dispatcher } = setup({}, capture);
      fake.script({ kind: "reply", text: "captured answer" });
      const { request, server } = dispatchRequest();

      await dispatcher.complete(request);
      server.end();

      const span = exporter.getFinishedSpans().find((s) => s.name.startsWith("chat "));
      const events = Object.fromEntries(
        (span?.events ?? []).map((e) => [e.name, e.attributes?.[e.name]]),
      );
      if (capture) {
        expect(events).toEqual({
          "gen_ai.input.messages": JSON.stringify([["hello"]]),
          "gen_ai.output.messages": JSON.stringify(["captured answer"]),
        });
      } else {
        expect(events).toEqual({});
      }
    }
  });
});

async function collect(events: AsyncIterable<DispatchEvent>, into: DispatchEvent[] = []) {
  for await (const event of events) into.push(event);
  return into;
}

describe("Dispatcher.stream", () => {
  it("falls back when the stream fails before any output", async () => {
    const { dispatcher } = setup({ maxRetries: 0 });
    fake.script(
      { kind: "reply", text: "never", errorAfterEvents: { events: 2, type: "overloaded_error" } },
      { kind: "reply", text: "Hi there", usage: { input_tokens: 5, output_tokens: 3 } },
    );

    const events = await collect(dispatcher.stream(dispatchRequest().request));

    const opened = events[0];
    expect(opened?.type === "opened" && opened.routing.attempts).toEqual([
      "claude-sonnet-4@anthropic: overloaded",
      "claude-haiku-3@anthropic: ok",
    ]);
    expect(events.slice(1)).toEqual([
      { type: "text_delta", index: 0, text: "Hi there" },
      {
        type: "stop",
        stopReason: StopReason.END_TURN,
        stopSequence: "",
        usage: { inputTokens: 5, outputTokens: 3, cacheReadTokens: 0, cacheWriteTokens: 0,
          reasoningTokens: 0 },
      },
    ]);
  });

  it("ends with a failed event billing what was produced, no fallback, once output began",
    async () => {
      const { dispatcher } = setup();
      fake.script({
        kind: "reply",
        text: "This answer will be cut",
        deltaChars: 5,
        usage: { input_tokens: 40, output_tokens: 99, cache_read_input_tokens: 8 },
        errorAfterEvents: { events: 5, type: "overloaded_error" },
      });

      const seen = await collect(dispatcher.stream(dispatchRequest().request));

      expect(seen.map((e) => e.type)).toEqual(["opened", "text_delta", "text_delta", "failed"]);
      // Input and cache reads from message_start; no message_delta came, so output is
      // counted from the 10 bytes streamed ("This answe"): ceil(10 / 4) = 3.
      expect(seen.at(-1)).toEqual({
        type: "failed",
        reason: "overloaded",
        code: GrpcStatus.RESOURCE_EXHAUSTED,
        message: "claude-sonnet-4@anthropic failed after the answer began (overloaded); the " +
          "answer is incomplete, retry later",
        usage: { inputTokens: 40, outputTokens: 3, cacheReadTokens: 8, cacheWriteTokens: 0,
          reasoningTokens: 0 },
      });
      expect(fake.requests).toHaveLength(1);
    });

});
