import { StopReason } from "@mesh/contracts/common/v1/chat_pb";
import { startFakeAnthropic, type FakeAnthropic } from "@mesh/testing";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { parseCatalog, type CatalogDeployment } from "../catalog.js";
import { chatParams, fakeCatalogYaml, silentLogger } from "../testkit.js";
import { createAnthropicProvider } from "./anthropic.js";
import { ProviderError, type Provider, type ProviderEvent } from "./types.js";

let fake: FakeAnthropic;
let provider: Provider;
let deployment: CatalogDeployment;

beforeAll(async () => {
  fake = await startFakeAnthropic({ apiKey: "sk-fake" });
  const catalog = parseCatalog(fakeCatalogYaml(fake.url), "fake", {
    env: { FAKE_ANTHROPIC_KEY: "sk-fake" },
  });
  const found = catalog.find("claude-sonnet-4")?.active[0];
  if (!found) throw new Error("no deployment");
  deployment = found;
  provider = createAnthropicProvider(deployment, { timeoutMs: 5_000, connectTimeoutMs: 5_000,
    logger: silentLogger });
});

afterAll(() => fake.close());
beforeEach(() => {
  fake.requests.length = 0;
});

function request(text = "hello") {
  return { params: chatParams(text), upstreamModel: deployment.upstreamModel, maxTokens: 64,
    model: "claude-sonnet-4" };
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

async function collect(events: AsyncIterable<ProviderEvent>): Promise<ProviderEvent[]> {
  const out: ProviderEvent[] = [];
  for await (const event of events) out.push(event);
  return out;
}

describe("anthropic provider", () => {
  it("completes a request with exact usage, including cache tokens", async () => {
    fake.script({
      kind: "reply",
      text: "Bonjour.",
      usage: { input_tokens: 123, output_tokens: 45, cache_read_input_tokens: 6,
        cache_creation_input_tokens: 7 },
    });

    const result = await provider.complete(request());

    expect(result.content[0]?.block).toMatchObject({ case: "text", value: { text: "Bonjour." } });
    expect(result.stopReason).toBe(StopReason.END_TURN);
    expect(result.usage).toEqual({ inputTokens: 123, outputTokens: 45, cacheReadTokens: 6,
      cacheWriteTokens: 7, reasoningTokens: 0 });
    expect(result.upstreamModel).toBe("claude-sonnet-4-upstream");
    expect(fake.requests[0]?.headers.authorization).toBe("Bearer sk-fake");
    expect(fake.requests[0]?.body).toEqual({
      model: "claude-sonnet-4-upstream",
      max_tokens: 64,
      messages: [{ role: "user", content: [{ type: "text", text: "hello" }] }],
    });
  });

  it("streams deltas and a tool call; usage from message_start and message_delta", async () => {
    fake.script({
      kind: "reply",
      content: [
        { type: "text", text: "Checking the weather now." },
        { type: "tool_use", id: "toolu_7", name: "weather", input: { city: "Paris" } },
      ],
      usage: { input_tokens: 300, output_tokens: 42, cache_read_input_tokens: 100 },
      deltaChars: 10,
    });

    const events = await collect(provider.stream(request()));

    expect(events).toEqual([
      { type: "start", upstreamModel: "claude-sonnet-4-upstream",
        usage: { inputTokens: 300, outputTokens: 0, cacheReadTokens: 100, cacheWriteTokens: 0,
          reasoningTokens: 0 } },
      { type: "text_delta", index: 0, text: "Checking t" },
      { type: "text_delta", index: 0, text: "he weather" },
      { type: "text_delta", index: 0, text: " now." },
      { type: "tool_use", index: 1, id: "toolu_7", name: "weather", inputJson: '{"city":"Paris"}' },
      { type: "usage", usage: { inputTokens: 300, outputTokens: 42, cacheReadTokens: 100,
        cacheWriteTokens: 0, reasoningTokens: 0 } },
      { type: "stop", stopReason: StopReason.TOOL_USE, stopSequence: "",
        usage: { inputTokens: 300, outputTokens: 42, cacheReadTokens: 100, cacheWriteTokens: 0,
          reasoningTokens: 0 } },
    ]);
    expect(fake.requests[0]?.body.stream).toBe(true);
  });

  it("survives SSE events split into 7-byte pieces, inside UTF-8 characters too", async () => {
    fake.script({ kind: "reply", text: "Grüße, 東京! ☃", chunkBytes: 7, deltaChars: 3 });

    const events = await collect(provider.stream(request()));

    const text = events.map((e) => (e.type === "text_delta" ? e.text : "")).join("");
    expect(text).toBe("Grüße, 東京! ☃");
  });

  it("classifies 429 with retry-after, 529, 500, 400, 401 and a dropped connection", async () => {
    fake.script(
      { kind: "error", status: 429, retryAfter: 2 },
      { kind: "error", status: 529 },
      { kind: "error", status: 500 },
      { kind: "error", status: 400, message: "max_tokens: too big" },
      { kind: "error", status: 400, message: "prompt is too long: 210000 tokens > 200000 maximum" },
      { kind: "error", status: 401 },
      { kind: "reset" },
    );

    const outcomes = [];
    for (let i = 0; i < 7; i++) {
      const err = await failureOf(provider.complete(request()));
      outcomes.push([err.kind, err.status, err.retryAfterMs, err.retryable]);
    }

    expect(outcomes).toEqual([
      ["rate_limited", 429, 2000, true],
      ["overloaded", 529, undefined, true],
      ["server_error", 500, undefined, true],
      ["invalid_request", 400, undefined, false],
      ["context_length", 400, undefined, false],
      ["auth", 401, undefined, false],
      ["connection", undefined, undefined, true],
    ]);
    expect(fake.requests).toHaveLength(7);
  });

  it("fails a stream whose third event is an overloaded_error", async () => {
    fake.script({ kind: "reply", text: "partial answer", errorAfterEvents: { events: 3,
      type: "overloaded_error" } });
    const seen: ProviderEvent[] = [];

    const err = await failureOf(
      (async () => {
        for await (const event of provider.stream(request())) seen.push(event);
      })(),
    );

    expect(err.kind).toBe("overloaded");
    expect(seen.map((e) => e.type)).toEqual(["start"]);
  });

  it("fails a stream cut off before message_stop", async () => {
    fake.script({ kind: "reply", text: "cut short", cutAfterEvents: 6 });

    const err = await failureOf(collect(provider.stream(request())));

    expect(err.kind).toBe("connection");
  });
});
