import { StopReason } from "@mesh/contracts/common/v1/chat_pb";
import { CONTEXT_LENGTH_ERRORS, startFakeOpenAI, type FakeOpenAI } from "@mesh/testing";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { parseCatalog, type CatalogDeployment } from "../catalog.js";
import { chatParams, silentLogger } from "../testkit.js";
import { createOpenAIProvider, toOpenAIProviderError } from "./openai.js";
import { ProviderError, type Provider, type ProviderEvent } from "./types.js";

let fake: FakeOpenAI;
let openai: Provider;
let compatible: Provider;
let deployments: Record<string, CatalogDeployment>;

function catalogYaml(url: string): string {
  const model = (name: string, deployment: string) => `
  - name: ${name}
    tier: balanced
    context_window: 128000
    max_output_tokens: 16384
    capabilities: { tools: true, images: true }
    expected_latency_ms: 10
    prices: { input: "2", output: "8", cache_write: "0", cache_read: "0.5" }
    deployments:
${deployment}`;
  return `version: 1
models:${model("gpt-4.1", `      - name: openai
        provider: openai
        upstream_model: gpt-4.1-2025-04-14
        base_url: ${url}
        api_key_env: FAKE_OPENAI_KEY`)}${model("llama", `      - name: vllm
        provider: openai-compatible
        upstream_model: meta-llama/Llama-3.1-8B-Instruct
        base_url: ${url}`)}
`;
}

beforeAll(async () => {
  fake = await startFakeOpenAI();
  const catalog = parseCatalog(catalogYaml(fake.url), "fake", {
    env: { FAKE_OPENAI_KEY: "sk-openai" },
  });
  const pick = (model: string) => {
    const found = catalog.find(model)?.active[0];
    if (!found) throw new Error(`no deployment for ${model}`);
    return found;
  };
  deployments = { openai: pick("gpt-4.1"), compatible: pick("llama") };
  const options = { timeoutMs: 5_000, connectTimeoutMs: 5_000, logger: silentLogger };
  openai = createOpenAIProvider(deployments.openai as CatalogDeployment, options);
  compatible = createOpenAIProvider(deployments.compatible as CatalogDeployment, options);
});

afterAll(() => fake.close());
beforeEach(() => {
  fake.requests.length = 0;
  expect(fake.pending()).toBe(0);
});

function request(deployment: "openai" | "compatible", extra = {}) {
  const d = deployments[deployment] as CatalogDeployment;
  return { params: chatParams("hello", extra), upstreamModel: d.upstreamModel, maxTokens: 64,
    model: d.model };
}

async function collect(events: AsyncIterable<ProviderEvent>): Promise<ProviderEvent[]> {
  const out: ProviderEvent[] = [];
  for await (const event of events) out.push(event);
  return out;
}

async function failureOf(promise: Promise<unknown>): Promise<ProviderError> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof ProviderError) return err;
    throw err;
  }
  throw new Error("expected a ProviderError");
}

describe("openai provider", () => {
  it("completes with exact usage: cached tokens as cache reads, reasoning as a breakdown",
    async () => {
      fake.script({ kind: "reply", text: "Bonjour.", model: "gpt-4.1-2025-04-14",
        usage: { prompt_tokens: 1_200, completion_tokens: 90, cached_tokens: 1_024,
          reasoning_tokens: 64 } });

      const result = await openai.complete(request("openai"));

      expect(result.content.map((b) => b.block.value)).toEqual([
        expect.objectContaining({ text: "Bonjour." }),
      ]);
      expect(result.stopReason).toBe(StopReason.END_TURN);
      expect(result.usage).toEqual({ inputTokens: 176, outputTokens: 90, cacheReadTokens: 1_024,
        cacheWriteTokens: 0, reasoningTokens: 64 });
      expect(fake.requests[0]?.headers.authorization).toBe("Bearer sk-openai");
      expect(fake.requests[0]?.path).toBe("/v1/chat/completions");
      expect(fake.requests[0]?.body).toEqual({
        model: "gpt-4.1-2025-04-14",
        max_completion_tokens: 64,
        messages: [{ role: "user", content: "hello" }],
      });
    });

  it("asks for usage on every stream, though the caller did not, and bills it exactly",
    async () => {
      fake.script({ kind: "reply", text: "Streaming works.", deltaChars: 6,
        usage: { prompt_tokens: 40, completion_tokens: 5, cached_tokens: 8 } });

      const events = await collect(openai.stream(request("openai")));

      const usage = { inputTokens: 32, outputTokens: 5, cacheReadTokens: 8, cacheWriteTokens: 0,
        reasoningTokens: 0 };
      expect(fake.requests[0]?.body.stream).toBe(true);
      expect(fake.requests[0]?.body.stream_options).toEqual({ include_usage: true });
      expect(events).toEqual([
        { type: "start", upstreamModel: "gpt-4.1-2025-04-14", usage: { inputTokens: 0,
          outputTokens: 0, cacheReadTokens: 0, cacheWriteTokens: 0, reasoningTokens: 0 } },
        { type: "text_delta", index: 0, text: "Stream" },
        { type: "text_delta", index: 0, text: "ing wo" },
        { type: "text_delta", index: 0, text: "rks." },
        { type: "usage", usage },
        { type: "stop", stopReason: StopReason.END_TURN, stopSequence: "", usage },
      ]);
    });

  it("survives SSE split into 1-byte pieces, inside UTF-8 characters too", async () => {
    fake.script({ kind: "reply", text: "Grüße, 東京! ☃", chunkBytes: 1, deltaChars: 3 });

    const events = await collect(openai.stream(request("openai")));

    const text = events.map((e) => (e.type === "text_delta" ? e.text : "")).join("");
    expect(text).toBe("Grüße, 東京! ☃");
    expect(events.at(-1)?.type).toBe("stop");
  });

  it("streams a tool call and stops with TOOL_USE", async () => {
    fake.script({ kind: "reply", toolCalls: [{ id: "call_9", name: "weather",
      arguments: { city: "Oslo" } }], deltaChars: 4,
    usage: { prompt_tokens: 30, completion_tokens: 12 } });

    const events = await collect(openai.stream(request("openai")));

    expect(events.slice(1)).toEqual([
      { type: "tool_use", index: 0, id: "call_9", name: "weather", inputJson: '{"city":"Oslo"}' },
      { type: "usage", usage: expect.objectContaining({ inputTokens: 30, outputTokens: 12 }) },
      { type: "stop", stopReason: StopReason.TOOL_USE, stopSequence: "",
        usage: expect.objectContaining({ inputTokens: 30, outputTokens: 12 }) },
    ]);
  });

  it("fails a stream whose connection is cut before its usage chunk", async () => {
    // Chunks: role, "Cut ", "here", finish, usage; the cut leaves out the usage.
    fake.script({ kind: "reply", text: "Cut here", deltaChars: 4, cutAfterEvents: 4 });

    const err = await failureOf(collect(openai.stream(request("openai"))));

    expect([err.kind, err.message]).toEqual([
      "connection", "the connection failed while reading the answer"]);
  });

  it("fails a stream whose body ends cleanly with neither usage nor [DONE]", async () => {
    fake.script({ kind: "reply", text: "Ended early", omitDone: true, ignoreStreamOptions: true });

    const err = await failureOf(collect(openai.stream(request("openai"))));

    expect([err.kind, err.message]).toEqual([
      "connection", "the stream ended before its usage and [DONE]"]);
  });

  it("fails a stream whose server sends an error event part-way", async () => {
    fake.script({ kind: "reply", text: "Never finished", deltaChars: 3,
      errorAfterEvents: { events: 3, message: "engine overloaded", type: "server_error",
        code: 503 } });
    const seen: ProviderEvent[] = [];

    const err = await failureOf((async () => {
      for await (const event of openai.stream(request("openai"))) seen.push(event);
    })());

    expect([err.kind, err.message]).toEqual(["overloaded", "engine overloaded"]);
    expect(seen.map((e) => e.type)).toEqual(["start", "text_delta", "text_delta"]);
  });

  it("classifies 429 with retry-after, 500, 400, 401 and a dropped connection", async () => {
    fake.script(
      { kind: "error", status: 429, retryAfter: 2 },
      { kind: "error", status: 500 },
      { kind: "error", status: 400, message: "Invalid value for 'temperature'" },
      { kind: "error", status: 401 },
      { kind: "reset" },
    );

    const outcomes = [];
    for (let i = 0; i < 5; i++) {
      const err = await failureOf(openai.complete(request("openai")));
      outcomes.push([err.kind, err.status, err.retryAfterMs, err.retryable]);
    }

    expect(outcomes).toEqual([
      ["rate_limited", 429, 2_000, true],
      ["server_error", 500, undefined, true],
      ["invalid_request", 400, undefined, false],
      ["auth", 401, undefined, false],
      ["connection", undefined, undefined, true],
    ]);
    expect(fake.requests).toHaveLength(5);
  });
});

describe("toOpenAIProviderError", () => {
  it("reports undici's connect timeout as a retryable timeout naming the limit", () => {
    const cause = Object.assign(new Error("Connect Timeout Error"), {
      code: "UND_ERR_CONNECT_TIMEOUT" });
    const err = toOpenAIProviderError(new TypeError("fetch failed", { cause }), 250);

    expect([err.kind, err.message, err.retryable]).toEqual([
      "timeout", "could not connect within 250 ms", true]);
  });
});

describe("openai-compatible provider", () => {
  it("sends max_tokens and top_k, and a placeholder key the server ignores", async () => {
    fake.script({ kind: "reply", text: "ok", usage: { prompt_tokens: 9, completion_tokens: 1 } });

    const result = await compatible.complete(request("compatible", { topK: 20 }));

    expect(result.usage.inputTokens).toBe(9);
    expect(fake.requests[0]?.body).toEqual({
      model: "meta-llama/Llama-3.1-8B-Instruct",
      max_tokens: 64,
      top_k: 20,
      messages: [{ role: "user", content: "hello" }],
    });
    expect(fake.requests[0]?.headers.authorization).toBe("Bearer no-key");
  });

  it("recognises each server's context-length error, whatever its status and body", async () => {
    const flavors = Object.keys(CONTEXT_LENGTH_ERRORS) as Array<
      keyof typeof CONTEXT_LENGTH_ERRORS>;
    fake.script(...flavors.map((f) => CONTEXT_LENGTH_ERRORS[f]));

    const outcomes: Record<string, unknown[]> = {};
    for (const flavor of flavors) {
      const err = await failureOf(compatible.complete(request("compatible")));
      outcomes[flavor] = [err.kind, err.status, err.retryable];
    }

    expect(outcomes).toEqual({
      openai: ["context_length", 400, false],
      vllm: ["context_length", 400, false],
      "vllm-legacy": ["context_length", 400, false],
      ollama: ["context_length", 500, false],
      "llama.cpp": ["context_length", 400, false],
      tgi: ["context_length", 422, false],
    });
  });

  it("reads a stop sequence vLLM names, and length as MAX_TOKENS", async () => {
    fake.script(
      { kind: "reply", text: "one two", stopReason: "###" },
      { kind: "reply", text: "one two three", finishReason: "length" },
    );
    const params = { stopSequences: ["###"] };

    const stopped = await compatible.complete(request("compatible", params));
    const long = await compatible.complete(request("compatible", params));

    expect([stopped.stopReason, stopped.stopSequence]).toEqual([StopReason.STOP_SEQUENCE, "###"]);
    expect(long.stopReason).toBe(StopReason.MAX_TOKENS);
  });

  it("counts usage itself for a server that ignores stream_options", async () => {
    fake.script({ kind: "reply", text: "12345678", ignoreStreamOptions: true });

    const events = await collect(compatible.stream(request("compatible")));

    // Output: 8 bytes → 2 tokens; input: the prompt estimate of "hello" → 2 tokens.
    expect(events.at(-1)).toEqual({ type: "stop", stopReason: StopReason.END_TURN,
      stopSequence: "", usage: { inputTokens: 2, outputTokens: 2, cacheReadTokens: 0,
        cacheWriteTokens: 0, reasoningTokens: 0 } });
  });
});
