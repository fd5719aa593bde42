/**
 * The dispatcher against local servers that speak each provider's wire format, with
 * scripted faults: exact attempt order, attempt counts, waits (recorded by the injectable
 * clock), stop reasons, usage and cost.
 */
import { context } from "@opentelemetry/api";
import { Role, StopReason, type ChatParams } from "@mesh/contracts/common/v1/chat_pb";
import { costNanos } from "@mesh/money";
import { GrpcStatus, RpcError } from "@mesh/rpc";
import {
  CONTEXT_LENGTH_ERRORS,
  startFakeAnthropic,
  startFakeOpenAI,
  type FakeAnthropic,
  type FakeOpenAI,
} from "@mesh/testing";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { Balancer } from "./balancer.js";
import { parseCatalog, type Catalog, type CatalogDeployment } from "./catalog.js";
import { Dispatcher, type DispatchEvent } from "./dispatch.js";
import { createProviders } from "./providers/registry.js";
import type { TokenUsage } from "./providers/types.js";
import { Resilience, type ResilienceSettings } from "./resilience.js";
import { planRoute } from "./routing.js";
import {
  catalogJson,
  chatParams,
  recordingClock,
  silentLogger,
  startCutStream,
} from "./testkit.js";

const settings: ResilienceSettings = {
  maxRetries: 2,
  initialDelayMs: 100,
  maxDelayMs: 1_000,
  maxRetryAfterMs: 10_000,
  breakerFailures: 100,
  breakerCooldownMs: 30_000,
};

const ENV = { FAKE_ANTHROPIC_KEY: "sk-ant", FAKE_OPENAI_KEY: "sk-oai" };

let anthropic: FakeAnthropic;
let openai: FakeOpenAI;
let catalog: Catalog;

function buildCatalog(anthropicUrl: string, openaiUrl: string): Catalog {
  const compat = (upstream: string) => [{ name: "local", provider: "openai-compatible" as const,
    url: openaiUrl, upstream }];
  return parseCatalog(catalogJson([
    { name: "claude-sonnet-4", tier: "top", prices: ["3", "15", "3.75", "0.30"],
      deployments: [{ name: "anthropic", provider: "anthropic", url: anthropicUrl,
        keyEnv: "FAKE_ANTHROPIC_KEY", upstream: "claude-sonnet-upstream" }] },
    { name: "gpt-4.1", tier: "balanced", contextWindow: 128_000,
      prices: ["2", "8", "0", "0.5"],
      deployments: ["east", "west"].map((name) => ({ name, provider: "openai" as const,
        url: openaiUrl, keyEnv: "FAKE_OPENAI_KEY", upstream: `gpt-4.1-${name}` })) },
    { name: "llama-8b-8k", tier: "fast", contextWindow: 8_192, prices: ["0.1", "0.1", "0", "0"],
      deployments: compat("llama-8k") },
    { name: "mistral-8k", tier: "fast", contextWindow: 8_192, prices: ["0.1", "0.1", "0", "0"],
      deployments: compat("mistral-8k") },
    { name: "llama-70b-128k", tier: "fast", contextWindow: 131_072,
      prices: ["0.5", "0.5", "0", "0"], deployments: compat("llama-128k") },
    { name: "simulated", tier: "fast", prices: ["1", "1", "1", "1"],
      deployments: [{ name: "sim", provider: "simulator" }] },
  ]), "failover", { env: ENV });
}

beforeAll(async () => {
  anthropic = await startFakeAnthropic({ apiKey: "sk-ant" });
  // No key check: the self-hosted deployments send none.
  openai = await startFakeOpenAI();
  catalog = buildCatalog(anthropic.url, openai.url);
});

afterAll(async () => {
  await anthropic.close();
  await openai.close();
});

beforeEach(() => {
  anthropic.requests.length = 0;
  openai.requests.length = 0;
});

afterEach(() => {
  expect(anthropic.pending()).toBe(0);
  expect(openai.pending()).toBe(0);
});

/**
 * Catalog order (open breakers last) instead of latency-aware order, so that the order of
 * attempts is exact whatever latencies the local servers happen to show; the balancing
 * itself is tested in balancer.test.ts.
 */
class CatalogOrder extends Balancer {
  override order(
    deployments: readonly CatalogDeployment[],
    unavailable: (id: string) => boolean = () => false,
  ): CatalogDeployment[] {
    return [...deployments.filter((d) => !unavailable(d.id)),
      ...deployments.filter((d) => unavailable(d.id))];
  }
}

function setup(overrides: Partial<ResilienceSettings> = {}, over: { catalog?: Catalog } = {}) {
  const clock = recordingClock();
  const resilience = new Resilience({ ...settings, ...overrides }, clock);
  const providers = createProviders(over.catalog ?? catalog, {
    timeoutMs: 5_000,
    connectTimeoutMs: 5_000,
    logger: silentLogger,
    simulator: { latencyMs: 0, failModels: [], failureRate: 0, failureStatus: 529, seed: 1 },
  });
  const balancer = new CatalogOrder();
  const dispatcher = new Dispatcher(providers, resilience, silentLogger, { balancer });
  return { clock, resilience, dispatcher };
}

function request(params: ChatParams, over: { catalog?: Catalog } = {}) {
  const plan = planRoute(over.catalog ?? catalog, params,
    { defaultMaxTokens: 256, fallbackExplicit: true });
  return { requestId: "req-f", params, plan, parent: context.active() };
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

async function collect(events: AsyncIterable<DispatchEvent>): Promise<DispatchEvent[]> {
  const out: DispatchEvent[] = [];
  for await (const event of events) out.push(event);
  return out;
}

function usage(inputTokens: number, outputTokens: number, cacheReadTokens = 0): TokenUsage {
  return { inputTokens, outputTokens, cacheReadTokens, cacheWriteTokens: 0, reasoningTokens: 0 };
}

function openaiModels(): unknown[] {
  return openai.requests.map((r) => r.body.model);
}

describe("retries and fallback", () => {
  it("waits the 2 s a 429 asks for, then succeeds, billing cached tokens once", async () => {
    const { dispatcher, clock } = setup();
    openai.script(
      { kind: "error", status: 429, retryAfter: 2 },
      { kind: "reply", text: "ok", usage: { prompt_tokens: 1_000, completion_tokens: 200,
        cached_tokens: 400 } },
    );

    const { result, served, routing } = await dispatcher.complete(request(chatParams("hi")));

    expect(clock.waits).toEqual([2_000]);
    expect(routing.attempts).toEqual(["gpt-4.1@east: rate limited (429)", "gpt-4.1@east: ok"]);
    expect(openaiModels()).toEqual(["gpt-4.1-east", "gpt-4.1-east"]);
    expect(result.stopReason).toBe(StopReason.END_TURN);
    expect(result.usage).toEqual(usage(600, 200, 400));
    // 600 × $2 + 200 × $8 + 400 × $0.50 per million = $0.003.
    expect(costNanos(result.usage, served.model.prices)).toBe(3_000_000n);
  });

  it("moves to the model's other deployment after the primary's retries end in 529s",
    async () => {
      const { dispatcher, clock } = setup({ maxRetries: 1 });
      openai.script(
        { kind: "error", status: 529 },
        { kind: "error", status: 529 },
        { kind: "reply", text: "from west", usage: { prompt_tokens: 10, completion_tokens: 3 } },
      );

      const { result, served, routing } = await dispatcher.complete(request(chatParams("hi")));

      expect(routing.attempts).toEqual([
        "gpt-4.1@east: overloaded (529)",
        "gpt-4.1@east: overloaded (529)",
        "gpt-4.1@west: ok",
      ]);
      expect(routing.reason).toBe("no routing hint → balanced tier; west deployment after " +
        "another failed");
      expect(openaiModels()).toEqual(["gpt-4.1-east", "gpt-4.1-east", "gpt-4.1-west"]);
      expect(clock.waits).toHaveLength(1);
      expect(served.deployment.id).toBe("gpt-4.1@west");
      expect(result.usage).toEqual(usage(10, 3));
      expect(costNanos(result.usage, served.model.prices)).toBe(44_000n);
    });

  it("never retries a 400, and does not fall back", async () => {
    const { dispatcher, clock } = setup();
    openai.script({ kind: "error", status: 400, message: "Invalid 'messages[0].content'" });

    const err = await rpcErrorOf(dispatcher.complete(request(chatParams("hi"))));

    expect([err.code, err.reason, err.message]).toEqual([GrpcStatus.INVALID_ARGUMENT,
      "invalid_request", "gpt-4.1 rejected the request: Invalid 'messages[0].content'"]);
    expect(openai.requests).toHaveLength(1);
    expect(clock.waits).toEqual([]);
  });

  it("never retries a 401 or 403; the next deployment and model are tried once each",
    async () => {
      const { dispatcher, clock } = setup();
      openai.script(
        { kind: "error", status: 401 },
        { kind: "error", status: 403 },
        { kind: "reply", text: "local", usage: { prompt_tokens: 5, completion_tokens: 1 } },
      );

      const { routing } = await dispatcher.complete(request(chatParams("hi")));

      expect(routing.attempts).toEqual([
        "gpt-4.1@east: auth (401)",
        "gpt-4.1@west: auth (403)",
        "llama-8b-8k@local: ok",
      ]);
      expect(clock.waits).toEqual([]);
    });

  it.each(["vllm", "vllm-legacy", "ollama", "llama.cpp", "tgi"] as const)(
    "moves a %s context-length error to the larger-window model, skipping same-size ones",
    async (server) => {
      const { dispatcher, clock } = setup();
      const failure = CONTEXT_LENGTH_ERRORS[server];
      openai.script(failure, { kind: "reply", text: "summary",
        usage: { prompt_tokens: 9_000, completion_tokens: 50 } });

      const { result, served, routing } = await dispatcher.complete(
        request(chatParams("a long document", { hints: { latencySensitive: true } })),
      );

      expect(served.model.name).toBe("llama-70b-128k");
      expect(routing.attempts).toEqual([
        `llama-8b-8k@local: context length (${failure.status})`,
        "llama-70b-128k@local: ok",
      ]);
      expect(routing.skipped).toEqual([{ model: "mistral-8k", reason: "context window 8192 " +
        "is no larger than that of a model that rejected the prompt as too long" }]);
      expect(routing.reason).toBe("latency_sensitive → fast tier; fell back to llama-70b-128k " +
        `after llama-8b-8k failed (context length (${failure.status}))`);
      expect(openaiModels()).toEqual(["llama-8k", "llama-128k"]);
      expect(clock.waits).toEqual([]);
      expect(result.usage).toEqual(usage(9_000, 50));
      // (9000 + 50) × $0.50 per million.
      expect(costNanos(result.usage, served.model.prices)).toBe(4_525_000n);
    },
  );
});

describe("circuit breaker", () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it("opens after 2 failures, routes around the deployment, and closes after the cooldown",
    async () => {
      vi.useFakeTimers({ toFake: ["Date"] });
      const { dispatcher, resilience } = setup({ maxRetries: 0, breakerFailures: 2 });
      const ok = { kind: "reply", text: "ok" } as const;
      openai.script({ kind: "error", status: 500 }, ok, { kind: "error", status: 500 }, ok);

      const first = await dispatcher.complete(request(chatParams("1")));
      const second = await dispatcher.complete(request(chatParams("2")));

      expect(first.routing.attempts).toEqual(["gpt-4.1@east: server error (500)",
        "gpt-4.1@west: ok"]);
      expect(second.routing.attempts).toEqual(first.routing.attempts);
      expect(resilience.breakerState("gpt-4.1@east")).toBe("open");

      openai.script(ok);
      vi.setSystemTime(Date.now() + 29_000);
      const during = await dispatcher.complete(request(chatParams("3")));
      expect(during.routing.attempts).toEqual(["gpt-4.1@west: ok"]);
      expect(resilience.acceptsCalls("gpt-4.1@east")).toBe(false);

      openai.script(ok);
      vi.setSystemTime(Date.now() + 1_001);
      expect(resilience.acceptsCalls("gpt-4.1@east")).toBe(true);
      const probe = await dispatcher.complete(request(chatParams("4")));

      expect(probe.routing.attempts).toEqual(["gpt-4.1@east: ok"]);
      expect(resilience.breakerState("gpt-4.1@east")).toBe("closed");
      expect(openaiModels()).toEqual(["gpt-4.1-east", "gpt-4.1-west", "gpt-4.1-east",
        "gpt-4.1-west", "gpt-4.1-west", "gpt-4.1-east"]);
    });
});

describe("streams", () => {
  it("falls back when an Anthropic stream's third event is an overloaded_error", async () => {
    const { dispatcher } = setup({ maxRetries: 0 });
    anthropic.script({ kind: "reply", text: "never seen",
      errorAfterEvents: { events: 2, type: "overloaded_error" } });
    openai.script({ kind: "reply", text: "Fine.", usage: { prompt_tokens: 20,
      completion_tokens: 2 } });

    const events = await collect(dispatcher.stream(request(chatParams("hard", {
      model: "claude-sonnet-4" }))));

    const opened = events[0];
    expect(opened?.type === "opened" && opened.routing.attempts).toEqual([
      "claude-sonnet-4@anthropic: overloaded",
      "gpt-4.1@east: ok",
    ]);
    expect(events.slice(1)).toEqual([
      { type: "text_delta", index: 0, text: "Fine." },
      { type: "stop", stopReason: StopReason.END_TURN, stopSequence: "", usage: usage(20, 2) },
    ]);
  });

  it("ends an Anthropic stream cut before message_stop with a failed event, output from " +
    "the last message_delta", async () => {
    const sse = [
      ["message_start", { type: "message_start", message: { id: "msg_1", type: "message",
        role: "assistant", model: "claude-sonnet-upstream", content: [], stop_reason: null,
        stop_sequence: null, usage: { input_tokens: 21, output_tokens: 1,
          cache_read_input_tokens: 5, cache_creation_input_tokens: 0 } } }],
      ["content_block_start", { type: "content_block_start", index: 0,
        content_block: { type: "text", text: "" } }],
      ["content_block_delta", { type: "content_block_delta", index: 0,
        delta: { type: "text_delta", text: "Hello wo" } }],
      ["content_block_delta", { type: "content_block_delta", index: 0,
        delta: { type: "text_delta", text: "rld" } }],
      ["content_block_stop", { type: "content_block_stop", index: 0 }],
      ["message_delta", { type: "message_delta", delta: { stop_reason: "end_turn",
        stop_sequence: null }, usage: { output_tokens: 4 } }],
    ].map(([name, data]) => `event: ${name}\ndata: ${JSON.stringify(data)}\n\n`).join("");
    const cut = await startCutStream(sse);
    const cutCatalog = parseCatalog(catalogJson([{ name: "claude-sonnet-4", tier: "balanced",
      prices: ["3", "15", "3.75", "0.30"], deployments: [{ name: "anthropic",
        provider: "anthropic", url: cut.url, keyEnv: "FAKE_ANTHROPIC_KEY" }] }]), "cut",
    { env: ENV });
    const { dispatcher } = setup({}, { catalog: cutCatalog });

    const events = await collect(dispatcher.stream(request(chatParams("hi"),
      { catalog: cutCatalog })));
    await cut.close();

    expect(events.map((e) => e.type)).toEqual(["opened", "text_delta", "text_delta", "failed"]);
    expect(events.at(-1)).toEqual({
      type: "failed",
      reason: "stream_interrupted",
      code: GrpcStatus.UNAVAILABLE,
      message: "claude-sonnet-4@anthropic failed after the answer began (connection); the " +
        "answer is incomplete, retry the request",
      usage: usage(21, 4, 5),
    });
    expect(cut.requests()).toBe(1);
  });

  it("bills an OpenAI stream cut mid-answer at the prompt estimate and the counted output",
    async () => {
      const { dispatcher } = setup();
      openai.script({ kind: "reply", text: "Twelve bytes", deltaChars: 4, cutAfterEvents: 3 });
      const params = chatParams("sixteen bytes!!!");

      const events = await collect(dispatcher.stream(request(params)));

      expect(events.map((e) => e.type)).toEqual(["opened", "text_delta", "text_delta",
        "failed"]);
      const failed = events.at(-1);
      // Input: 16 bytes / 4 = 4 (no usage came); output: "Twelve b" = 8 bytes / 4 = 2.
      expect(failed?.type === "failed" && [failed.reason, failed.usage]).toEqual([
        "stream_interrupted", usage(4, 2)]);
      expect(openai.requests).toHaveLength(1);
    });

  it("takes output usage from the final chunk when an OpenAI stream errors after it",
    async () => {
      const { dispatcher } = setup();
      // Chunks: role, "abc", "def", finish, usage; then an error event instead of [DONE].
      openai.script({ kind: "reply", text: "abcdef", deltaChars: 3,
        usage: { prompt_tokens: 70, completion_tokens: 9, reasoning_tokens: 4 },
        errorAfterEvents: { events: 5, message: "boom", type: "server_error" } });

      const events = await collect(dispatcher.stream(request(chatParams("x"))));

      const failed = events.at(-1);
      expect(failed?.type === "failed" && failed.usage).toEqual({ inputTokens: 70,
        outputTokens: 9, cacheReadTokens: 0, cacheWriteTokens: 0, reasoningTokens: 4 });
    });
});

describe("timeouts", () => {
  let slow: FakeOpenAI;
  let timed: Catalog;

  beforeAll(async () => {
    slow = await startFakeOpenAI({ latencyMs: 300, eventGapMs: 60 });
    timed = parseCatalog(catalogJson([
      { name: "m", tier: "balanced", prices: ["1", "1", "0", "0"], deployments: [
        { name: "slow", provider: "openai-compatible", url: slow.url,
          timeouts: { first_token_ms: 100, total_ms: 150 } },
        { name: "fast", provider: "openai-compatible", url: openai.url },
      ] },
      { name: "drip", tier: "fast", prices: ["1", "1", "0", "0"], deployments: [
        { name: "slow", provider: "openai-compatible", url: slow.url,
          timeouts: { first_token_ms: 1_000, total_ms: 500 } },
      ] },
    ]), "timed", { env: {} });
  });

  afterAll(() => slow.close());

  it("falls back when a stream's first token does not come in time", async () => {
    const { dispatcher } = setup({ maxRetries: 0 }, { catalog: timed });
    openai.script({ kind: "reply", text: "quick" });

    const events = await collect(dispatcher.stream(request(chatParams("x"), { catalog: timed })));

    const opened = events[0];
    expect(opened?.type === "opened" && opened.routing.attempts).toEqual([
      "m@slow: timeout", "m@fast: ok"]);
    expect(events.at(-1)?.type).toBe("stop");
  });

  it("falls back when a unary call exceeds its total timeout", async () => {
    const { dispatcher } = setup({ maxRetries: 0 }, { catalog: timed });
    openai.script({ kind: "reply", text: "quick" });

    const { routing } = await dispatcher.complete(request(chatParams("x"), { catalog: timed }));

    expect(routing.attempts).toEqual(["m@slow: timeout", "m@fast: ok"]);
  });

  it("ends a stream that outlives its total timeout with a timeout error event", async () => {
    const { dispatcher } = setup({ maxRetries: 0 }, { catalog: timed });
    // 300 ms to the first byte, then an event every 60 ms: output begins, the 500 ms end comes.
    slow.script({ kind: "reply", text: "a b c d e f g h i j k l", deltaChars: 2 });

    const events = await collect(dispatcher.stream(request(chatParams("x", { model: "drip" }),
      { catalog: timed })));

    const failed = events.at(-1);
    expect(failed?.type === "failed" && [failed.reason, failed.code, failed.message]).toEqual([
      "timeout", GrpcStatus.DEADLINE_EXCEEDED, "drip@slow failed after the answer began " +
        "(timeout); the answer is incomplete: drip@slow did not finish within 500 ms"]);
    expect(events.filter((e) => e.type === "text_delta").length).toBeGreaterThan(0);
  });
});

describe("tool call round trip", () => {
  const tools = [{ name: "weather", description: "Current weather",
    inputSchemaJson: '{"type":"object","properties":{"city":{"type":"string"}}}' }];

  function followUp(model: string, call: { id: string; name: string; inputJson: string }) {
    return chatParams("unused", {
      model,
      tools,
      messages: [
        { role: Role.USER, content: [{ block: { case: "text", value: { text: "weather?" } } }] },
        { role: Role.ASSISTANT, content: [{ block: { case: "toolUse", value: call } }] },
        { role: Role.USER, content: [{ block: { case: "toolResult", value: {
          toolUseId: call.id, content: [{ text: "-3C" }] } } }] },
      ],
    });
  }

  function toolCall(content: Array<{ block: { case?: string; value?: unknown } }>) {
    const block = content.find((b) => b.block.case === "toolUse")?.block.value as
      { id: string; name: string; inputJson: string };
    return { id: block.id, name: block.name, inputJson: block.inputJson };
  }

  it("anthropic: tool_use out, tool_result back", async () => {
    const { dispatcher } = setup();
    anthropic.script(
      { kind: "reply", content: [{ type: "tool_use", id: "toolu_1", name: "weather",
        input: { city: "Oslo" } }], usage: { input_tokens: 50, output_tokens: 10 } },
      { kind: "reply", text: "It is -3C.", usage: { input_tokens: 70, output_tokens: 6 } },
    );
    const ask = chatParams("weather?", { model: "claude-sonnet-4", tools });

    const first = await dispatcher.complete(request(ask));
    const call = toolCall(first.result.content);
    const second = await dispatcher.complete(request(followUp("claude-sonnet-4", call)));

    expect([first.result.stopReason, call]).toEqual([StopReason.TOOL_USE,
      { id: "toolu_1", name: "weather", inputJson: '{"city":"Oslo"}' }]);
    expect(anthropic.requests[1]?.body.messages).toEqual([
      { role: "user", content: [{ type: "text", text: "weather?" }] },
      { role: "assistant", content: [{ type: "tool_use", id: "toolu_1", name: "weather",
        input: { city: "Oslo" } }] },
      { role: "user", content: [{ type: "tool_result", tool_use_id: "toolu_1",
        content: [{ type: "text", text: "-3C" }] }] },
    ]);
    expect([second.result.stopReason, second.result.usage]).toEqual([StopReason.END_TURN,
      usage(70, 6)]);
  });

  it.each([
    ["openai", "gpt-4.1", "tool_calls", "gpt-4.1-east"],
    // Some self-hosted servers (older Ollama) finish a tool call with "stop".
    ["openai-compatible", "llama-70b-128k", "stop", "llama-128k"],
  ])("%s: tool_calls out, a tool message back", async (_kind, model, finishReason, upstream) => {
    const { dispatcher } = setup();
    openai.script(
      { kind: "reply", toolCalls: [{ id: "call_1", name: "weather", arguments: { city: "Oslo" } }],
        finishReason, usage: { prompt_tokens: 50, completion_tokens: 10 } },
      { kind: "reply", text: "It is -3C.", usage: { prompt_tokens: 70, completion_tokens: 6 } },
    );
    const ask = chatParams("weather?", { model, tools });

    const first = await dispatcher.complete(request(ask));
    const call = toolCall(first.result.content);
    const second = await dispatcher.complete(request(followUp(model, call)));

    expect([first.result.stopReason, call]).toEqual([StopReason.TOOL_USE,
      { id: "call_1", name: "weather", inputJson: '{"city":"Oslo"}' }]);
    expect(openai.requests[1]?.body.model).toBe(upstream);
    expect(openai.requests[1]?.body.messages).toEqual([
      { role: "user", content: "weather?" },
      { role: "assistant", content: null, tool_calls: [{ id: "call_1", type: "function",
        function: { name: "weather", arguments: '{"city":"Oslo"}' } }] },
      { role: "tool", tool_call_id: "call_1", content: "-3C" },
    ]);
    expect([second.result.stopReason, second.result.usage]).toEqual([StopReason.END_TURN,
      usage(70, 6)]);
  });

  it("simulator: a tool call, then text once the result is back", async () => {
    const { dispatcher } = setup();
    const ask = chatParams("weather?", { model: "simulated", tools });

    const first = await dispatcher.complete(request(ask));
    const call = toolCall(first.result.content);
    const second = await dispatcher.complete(request(followUp("simulated", call)));

    expect([first.result.stopReason, call.name, call.inputJson]).toEqual([
      StopReason.TOOL_USE, "weather", "{}"]);
    expect(call.id).toMatch(/^toolu_sim_[0-9a-f]{16}$/);
    expect(second.result.stopReason).toBe(StopReason.END_TURN);
    expect(second.result.content[0]?.block.case).toBe("text");
  });
});

describe("context length with nowhere larger to go", () => {
  it("answers INVALID_ARGUMENT context_length_exceeded, without retrying", async () => {
    const { dispatcher, clock } = setup();
    openai.script(CONTEXT_LENGTH_ERRORS["llama.cpp"]);
    const params = chatParams("long", { model: "llama-8b-8k" });
    const plan = planRoute(catalog, params, { defaultMaxTokens: 256, fallbackExplicit: false });

    const err = await rpcErrorOf(dispatcher.complete({ requestId: "r", params, plan,
      parent: context.active() }));

    expect([err.code, err.reason]).toEqual([GrpcStatus.INVALID_ARGUMENT,
      "context_length_exceeded"]);
    expect(err.message).toBe("the prompt is too long for every model that could take it " +
      "(attempts: llama-8b-8k@local: context length (400)); shorten the prompt or lower " +
      "max_tokens");
    expect(openai.requests).toHaveLength(1);
    expect(clock.waits).toEqual([]);
  });
});
