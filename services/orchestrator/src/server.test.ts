import { ChatEventSchema, Complexity, StopReason } from "@mesh/contracts/common/v1/chat_pb";
import { OrchestratorService } from "@mesh/contracts/orchestrator/v1/orchestrator_pb";
import { costNanos, moneyToNanos } from "@mesh/money";
import { createGrpcClient, GrpcStatus, RpcError, type GrpcClient } from "@mesh/rpc";
import { startFakeAnthropic, type FakeAnthropic } from "@mesh/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadOrchestratorConfig } from "./config.js";
import { startOrchestratorService, type OrchestratorHandle } from "./server.js";
import { chatParams, recordingClock, silentLogger } from "./testkit.js";
import type { MessageShape } from "@bufbuild/protobuf";
import { InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base";
import { NodeTracerProvider } from "@opentelemetry/sdk-trace-node";

const exporter = new InMemorySpanExporter();
new NodeTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }).register();

type ChatEvent = MessageShape<typeof ChatEventSchema>;

async function start(env: Record<string, string>) {
  const config = loadOrchestratorConfig({
    ORCHESTRATOR_GRPC_PORT: "0",
    ORCHESTRATOR_HTTP_PORT: "0",
    SIMULATOR_LATENCY_MS: "0",
    ...env,
  });
  const handle = await startOrchestratorService(config, silentLogger, async () => undefined, {
    env,
    clock: recordingClock(),
    handleSignals: false,
  });
  const client = createGrpcClient(OrchestratorService, `127.0.0.1:${handle.grpcPort}`);
  return { handle, client };
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

async function events(iterable: AsyncIterable<{ event?: ChatEvent }>): Promise<ChatEvent[]> {
  const out: ChatEvent[] = [];
  for await (const response of iterable) if (response.event) out.push(response.event);
  return out;
}

describe("orchestrator over gRPC, simulator only (no ANTHROPIC_API_KEY)", () => {
  let handle: OrchestratorHandle;
  let client: GrpcClient<typeof OrchestratorService>;

  beforeAll(async () => {
    ({ handle, client } = await start({
      SIMULATOR_FAIL_MODELS: "claude-opus-4",
      // Several tests fail opus on purpose; its breaker must not open between them.
      ORCHESTRATOR_BREAKER_FAILURES: "1000",
    }));
  });

  afterAll(async () => {
    client.close();
    await handle.stop();
  });

  it("answers from the simulator with routing, usage and the exact cost", async () => {
    const { result } = await client.complete({ requestId: "r-1", params: chatParams("hi there") });

    expect(result?.requestId).toBe("r-1");
    expect(result?.model).toBe("claude-sonnet-4");
    expect(result?.provider).toBe("simulator");
    expect(result?.deployment).toBe("simulator");
    expect(result?.upstreamModel).toBe("simulator/claude-sonnet-4");
    expect(result?.stopReason).toBe(StopReason.END_TURN);
    const block = result?.content[0]?.block;
    expect(block?.case === "text" && block.value.text.startsWith("[simulator] ")).toBe(true);
    expect(result?.usage?.inputTokens).toBe(2);
    expect(result?.routing).toMatchObject({
      model: "claude-sonnet-4",
      tier: "balanced",
      reason: "no routing hint → balanced tier",
      attempts: ["claude-sonnet-4@simulator: ok"],
    });
    const usage = result?.usage;
    const expected = costNanos(
      {
        inputTokens: usage?.inputTokens ?? 0,
        outputTokens: usage?.outputTokens ?? 0,
        cacheReadTokens: 0,
        cacheWriteTokens: 0,
      },
      {
        inputNanosPerMTok: 3_000_000_000n,
        outputNanosPerMTok: 15_000_000_000n,
        cacheReadNanosPerMTok: 300_000_000n,
        cacheWriteNanosPerMTok: 3_750_000_000n,
      },
    );
    expect(result?.cost?.currencyCode).toBe("USD");
    expect(moneyToNanos(result?.cost)).toBe(expected);
  });

  it("falls back from a failing simulated model, explaining why", async () => {
    const { result } = await client.complete({
      params: chatParams("prove it", { hints: { complexity: Complexity.HIGH } }),
    });

    expect(result?.model).toBe("claude-sonnet-4");
    expect(result?.requestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(result?.routing?.attempts).toEqual([
      "claude-opus-4@simulator: overloaded (529)",
      "claude-opus-4@simulator: overloaded (529)",
      "claude-opus-4@simulator: overloaded (529)",
      "claude-sonnet-4@simulator: ok",
    ]);
    expect(result?.routing?.reason).toBe(
      "complexity high → top tier; fell back to claude-sonnet-4 after claude-opus-4 failed " +
        "(overloaded (529))",
    );
  });

  it("streams start, several text deltas and done with usage and cost", async () => {
    const unary = await client.complete({ params: chatParams("stream me", { maxTokens: 200 }) });

    const streamed = await events(
      client.streamComplete({
        requestId: "s-1",
        params: chatParams("stream me", { maxTokens: 200 }),
      }),
    );

    const kinds = streamed.map((e) => e.event.case);
    expect(kinds[0]).toBe("start");
    expect(kinds.at(-1)).toBe("done");
    expect(kinds.slice(1, -1).every((k) => k === "textDelta")).toBe(true);
    expect(kinds.length).toBeGreaterThanOrEqual(5);
    const start = streamed[0]?.event;
    expect(start?.case === "start" && [start.value.requestId, start.value.model,
      start.value.provider, start.value.usage?.inputTokens, start.value.usage?.outputTokens])
      .toEqual(["s-1", "claude-sonnet-4", "simulator", unary.result?.usage?.inputTokens, 0]);
    const text = streamed
      .map((e) => (e.event.case === "textDelta" ? e.event.value.text : ""))
      .join("");
    const unaryBlock = unary.result?.content[0]?.block;
    expect(text).toBe(unaryBlock?.case === "text" ? unaryBlock.value.text : "?");
    const done = streamed.at(-1)?.event;
    expect(done?.case).toBe("done");
    if (done?.case !== "done") return;
    expect(done.value.content).toEqual([]);
    expect(done.value.usage).toEqual(unary.result?.usage);
    expect(done.value.cost).toEqual(unary.result?.cost);
    expect(done.value.routing?.attempts).toEqual(["claude-sonnet-4@simulator: ok"]);
  });

  it("lists the catalog's models with prices in nano-dollars per million tokens", async () => {
    const { models } = await client.listModels({});

    expect(models.map((m) => [m.name, m.tier, m.maxOutputTokens, m.prices?.inputNanosPerMtok,
      m.prices?.outputNanosPerMtok, m.providers])).toEqual([
      ["claude-opus-4", "top", 32000, 15_000_000_000n, 75_000_000_000n, ["simulator"]],
      ["claude-sonnet-4", "balanced", 64000, 3_000_000_000n, 15_000_000_000n, ["simulator"]],
      ["claude-haiku-3", "fast", 4096, 250_000_000n, 1_250_000_000n, ["simulator"]],
    ]);
  });

  it("rejects bad params with INVALID_ARGUMENT and keeps serving", async () => {
    const unknown = await rpcErrorOf(
      client.complete({ params: chatParams("x", { model: "gpt-4" }) }),
    );
    const empty = await rpcErrorOf(client.complete({ params: chatParams("x", { messages: [] }) }));
    const hot = await rpcErrorOf(client.complete({ params: chatParams("x", { temperature: 2 }) }));
    const long = await rpcErrorOf(
      client.complete({ params: chatParams("x", { model: "claude-haiku-3", maxTokens: 9000 }) }),
    );
    const ok = await client.complete({ params: chatParams("still up?") });

    expect([unknown.code, unknown.reason]).toEqual([GrpcStatus.INVALID_ARGUMENT, "invalid_model"]);
    expect(unknown.message).toContain("use one of: claude-opus-4, claude-sonnet-4, claude-haiku-3");
    expect([empty.code, empty.message]).toEqual([
      GrpcStatus.INVALID_ARGUMENT,
      "params.messages is empty; send at least one message",
    ]);
    expect(hot.message).toBe("params.temperature 2 is out of range; use a value from 0 to 1");
    expect([long.code, long.reason]).toEqual([GrpcStatus.INVALID_ARGUMENT, "max_tokens_too_large"]);
    expect(ok.result?.model).toBe("claude-sonnet-4");
  });

  it("fails a stream with the status the handler threw", async () => {
    const err = await rpcErrorOf(
      events(client.streamComplete({ params: chatParams("x", { model: "nope" }) }, {
        timeoutMs: 3_000,
      })),
    );

    expect([err.code, err.reason]).toEqual([GrpcStatus.INVALID_ARGUMENT, "invalid_model"]);
  });

  it("puts the routing decision on the server span and each try in a child span", async () => {
    exporter.reset();
    const secret = "my secret prompt text";

    const hints = { complexity: Complexity.HIGH };

    await client.complete({ params: chatParams(secret, { hints }) });

    const spans = exporter.getFinishedSpans();
    const server = spans.find((s) => s.name === "orchestrator.v1.OrchestratorService/Complete");
    const tries = spans.filter((s) => s.name.startsWith("chat "));
    expect(server?.attributes["mesh.routing.model"]).toBe("claude-sonnet-4");
    expect(server?.attributes["mesh.routing.tier"]).toBe("balanced");
    expect(server?.attributes["mesh.routing.attempts"]).toHaveLength(4);
    expect(tries.map((s) => s.name)).toEqual([
      "chat claude-opus-4",
      "chat claude-opus-4",
      "chat claude-opus-4",
      "chat claude-sonnet-4",
    ]);
    expect(new Set(tries.map((s) => s.parentSpanContext?.spanId))).toEqual(
      new Set([server?.spanContext().spanId]),
    );
    expect(JSON.stringify(spans.map((s) => s.attributes))).not.toContain("secret");
  });

  it("answers /ready once the catalog is loaded", async () => {
    const res = await fetch(`http://127.0.0.1:${handle.httpPort}/ready`);

    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: "ready", checks: { catalog: "ok" } });
  });
});

describe("orchestrator over gRPC, anthropic deployments on a fake server", () => {
  let fake: FakeAnthropic;
  let handle: OrchestratorHandle;
  let client: GrpcClient<typeof OrchestratorService>;

  beforeAll(async () => {
    fake = await startFakeAnthropic({ apiKey: "sk-test" });
    ({ handle, client } = await start({
      ANTHROPIC_API_KEY: "sk-test",
      ANTHROPIC_BASE_URL: fake.url,
    }));
  });

  afterAll(async () => {
    client.close();
    await handle.stop();
    await fake.close();
  });

  it("bills cache reads and writes to the nano-dollar at the catalog price", async () => {
    fake.script({
      kind: "reply",
      text: "cached answer",
      usage: { input_tokens: 1000, output_tokens: 500, cache_read_input_tokens: 2000,
        cache_creation_input_tokens: 100 },
    });

    const { result } = await client.complete({ params: chatParams("with cache", {
      system: [{ text: "long shared context", cacheControl: true }] }) });

    // 1000×$3 + 500×$15 + 2000×$0.30 + 100×$3.75 per million = $0.011475.
    expect(result?.cost).toMatchObject({ currencyCode: "USD", units: 0n, nanos: 11_475_000 });
    expect(result?.usage).toMatchObject({ inputTokens: 1000, outputTokens: 500,
      cacheReadTokens: 2000, cacheWriteTokens: 100 });
    expect([result?.provider, result?.deployment, result?.upstreamModel]).toEqual([
      "anthropic", "anthropic", "claude-sonnet-4-20250514"]);
    expect(fake.requests.at(-1)?.body.system).toEqual([
      { type: "text", text: "long shared context", cache_control: { type: "ephemeral" } },
    ]);
  });

  it("streams a tool call as its own event, then done with stop reason TOOL_USE", async () => {
    fake.script({
      kind: "reply",
      content: [
        { type: "text", text: "Let me check." },
        { type: "tool_use", id: "toolu_1", name: "weather", input: { city: "Oslo" } },
      ],
      usage: { input_tokens: 50, output_tokens: 20 },
    });

    const streamed = await events(client.streamComplete({ params: chatParams("weather?", {
      tools: [{ name: "weather", inputSchemaJson: '{"type":"object"}' }] }) }));

    expect(streamed.map((e) => e.event.case)).toEqual([
      "start", "textDelta", "textDelta", "toolUse", "done"]);
    const tool = streamed[3]?.event;
    expect(tool?.case === "toolUse" && [tool.value.id, tool.value.name, tool.value.inputJson])
      .toEqual(["toolu_1", "weather", '{"city":"Oslo"}']);
    const done = streamed[4]?.event;
    expect(done?.case === "done" && [done.value.stopReason, done.value.usage?.inputTokens,
      done.value.usage?.outputTokens, done.value.cost?.nanos])
      .toEqual([StopReason.TOOL_USE, 50, 20, 450_000]);
  });

  it("reports RESOURCE_EXHAUSTED with every attempt when all models are overloaded", async () => {
    const overloaded = { kind: "error", status: 529 } as const;
    fake.script(...Array.from({ length: 9 }, () => overloaded));

    const err = await rpcErrorOf(client.complete({ params: chatParams("busy?") }));

    expect([err.code, err.reason]).toEqual([GrpcStatus.RESOURCE_EXHAUSTED, "overloaded"]);
    expect(err.message.match(/overloaded \(529\)/g)).toHaveLength(9);
    expect(fake.pending()).toBe(0);
  });
});
