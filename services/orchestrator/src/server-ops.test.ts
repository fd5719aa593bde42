import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { MessageShape } from "@bufbuild/protobuf";
import { ChatEventSchema, StopReason } from "@mesh/contracts/common/v1/chat_pb";
import { OrchestratorService } from "@mesh/contracts/orchestrator/v1/orchestrator_pb";
import { createLogger } from "@mesh/logging";
import { createGrpcClient, GrpcStatus, RpcError, type GrpcClient } from "@mesh/rpc";
import { startFakeOpenAI, type FakeOpenAI } from "@mesh/testing";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { loadOrchestratorConfig } from "./config.js";
import { startOrchestratorService, type OrchestratorHandle } from "./server.js";
import { catalogJson, chatParams, recordingClock, type TestModel } from "./testkit.js";

type ChatEvent = MessageShape<typeof ChatEventSchema>;

let fake: FakeOpenAI;
let slow: FakeOpenAI;
let dir: string;
let catalogPath: string;
let handle: OrchestratorHandle;
let client: GrpcClient<typeof OrchestratorService>;
const logger = createLogger("orchestrator-ops-test", "silent");
const errors = vi.spyOn(logger, "error");

function models(extra: TestModel[] = []): TestModel[] {
  return [
    { name: "gpt-4.1", tier: "balanced", prices: ["2", "8", "0", "0.5"], deployments: [
      { name: "a", provider: "openai", url: fake.url, keyEnv: "FAKE_OPENAI_KEY",
        upstream: "gpt-4.1" },
      { name: "b", provider: "openai", url: fake.url, keyEnv: "FAKE_OPENAI_KEY",
        upstream: "gpt-4.1" },
    ] },
    { name: "drip", tier: "fast", prices: ["1", "1", "0", "0"], deployments: [
      { name: "local", provider: "openai-compatible", url: slow.url } ] },
    ...extra,
  ];
}

async function events(iterable: AsyncIterable<{ event?: ChatEvent }>): Promise<ChatEvent[]> {
  const out: ChatEvent[] = [];
  for await (const response of iterable) if (response.event) out.push(response.event);
  return out;
}

async function until(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (check()) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`timed out waiting for ${what}`);
}

beforeAll(async () => {
  fake = await startFakeOpenAI({ apiKey: "sk-oai" });
  slow = await startFakeOpenAI({ eventGapMs: 40 });
  dir = mkdtempSync(join(tmpdir(), "orchestrator-catalog-"));
  catalogPath = join(dir, "catalog.yaml");
  writeFileSync(catalogPath, catalogJson(models()));

  const env = { FAKE_OPENAI_KEY: "sk-oai" };
  const config = loadOrchestratorConfig({
    ORCHESTRATOR_GRPC_PORT: "0",
    ORCHESTRATOR_HTTP_PORT: "0",
    ORCHESTRATOR_CATALOG: catalogPath,
    ORCHESTRATOR_CATALOG_WATCH_DEBOUNCE_MS: "20",
    ORCHESTRATOR_MAX_RETRIES: "0",
    ORCHESTRATOR_BREAKER_FAILURES: "1",
    ORCHESTRATOR_BUDGETS: "false",
  });
  handle = await startOrchestratorService(config, logger, async () => undefined, {
    env, clock: recordingClock(), handleSignals: false, random: () => 0 });
  client = createGrpcClient(OrchestratorService, `127.0.0.1:${handle.grpcPort}`);
});

afterAll(async () => {
  client.close();
  await handle.stop();
  await fake.close();
  await slow.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("streamed OpenAI usage over gRPC", () => {
  it("bills a stream whose caller never asked for usage, and forwards no usage event",
    async () => {
      fake.script({ kind: "reply", text: "Hello there", deltaChars: 6,
        usage: { prompt_tokens: 120, completion_tokens: 3, cached_tokens: 100,
          reasoning_tokens: 1 } });

      const streamed = await events(client.streamComplete({ params: chatParams("hi") }));

      expect(fake.requests.at(-1)?.body.stream_options).toEqual({ include_usage: true });
      expect(streamed.map((e) => e.event.case)).toEqual(["start", "textDelta", "textDelta",
        "done"]);
      const done = streamed.at(-1)?.event;
      expect(done?.case).toBe("done");
      if (done?.case !== "done") return;
      expect(done.value.stopReason).toBe(StopReason.END_TURN);
      expect(done.value.usage).toMatchObject({ inputTokens: 20, outputTokens: 3,
        cacheReadTokens: 100, cacheWriteTokens: 0, reasoningTokens: 1 });
      // 20 × $2 + 3 × $8 + 100 × $0.50 per million = $0.000114.
      expect(done.value.cost).toMatchObject({ units: 0n, nanos: 114_000 });
      expect([done.value.provider, done.value.deployment]).toEqual(["openai", "a"]);
    });
});

describe("GET /metrics", () => {
  it("shows each deployment's breaker state and the process metrics", async () => {
    fake.script({ kind: "error", status: 500 }, { kind: "reply", text: "from b" });

    const { result } = await client.complete({ params: chatParams("hi") });
    const res = await fetch(`http://127.0.0.1:${handle.httpPort}/metrics`);
    const text = await res.text();

    // The balancer picks which deployment goes first (latency-aware); the failed one opens.
    const [failed, served] = (result?.routing?.attempts ?? []).map((a) => a.split(":")[0]);
    expect(result?.routing?.attempts).toEqual([`${failed}: server error (500)`, `${served}: ok`]);
    expect([failed, served].sort()).toEqual(["gpt-4.1@a", "gpt-4.1@b"]);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toContain("text/plain");
    expect(text).toContain(`ai_breaker_state{deployment="${failed}"} 2`);
    expect(text).toContain(`ai_breaker_state{deployment="${served}"} 0`);
    expect(text).toContain('ai_breaker_state{deployment="drip@local"} 0');
    expect(text).toContain(`orchestrator_provider_attempts_total{deployment="${failed}",` +
      'outcome="server_error"} 1');
    expect(text).toMatch(/^process_cpu_user_seconds_total \d/m);
    expect(text).toMatch(/^nodejs_eventloop_lag_seconds \d/m);
  });
});

describe("catalog reload on file change", () => {
  it("reloads without dropping a stream in flight", async () => {
    slow.script({ kind: "reply", text: "a slow answer that takes a while", deltaChars: 4 });
    const before = handle.state();
    const streaming = events(client.streamComplete({ params: chatParams("x", {
      model: "drip" }) }));
    await until(() => slow.requests.length === 1, "the stream to start");

    writeFileSync(catalogPath, catalogJson(models([{ name: "newcomer", tier: "fast",
      prices: ["1", "1", "0", "0"], deployments: [{ name: "sim", provider: "simulator" }] }])));
    await until(() => handle.state() !== before, "the reload");
    const streamed = await streaming;
    const { result } = await client.complete({ params: chatParams("x", { model: "newcomer" }) });

    expect(streamed.at(-1)?.event.case).toBe("done");
    expect(streamed.filter((e) => e.event.case === "textDelta").map((e) =>
      e.event.case === "textDelta" ? e.event.value.text : "").join(""))
      .toBe("a slow answer that takes a while");
    expect(result?.model).toBe("newcomer");
    expect(handle.state().catalog.models.map((m) => m.name)).toEqual(["gpt-4.1", "drip",
      "newcomer"]);
  });

  it("keeps the current catalog when the new file is invalid, logging every problem",
    async () => {
      const before = handle.state();
      errors.mockClear();

      writeFileSync(catalogPath, catalogJson([
        { name: "broken", tier: "fast", prices: ["1", "1", "0", "0"], deployments: [
          { name: "x", provider: "openai-compatible" },
          { name: "y", provider: "openai" },
        ] },
      ]).replace('"tier": "fast"', '"tier": "cheap"'));
      await until(() => errors.mock.calls.length > 0, "the reload to fail");

      expect(handle.state()).toBe(before);
      const [fields] = errors.mock.calls[0] as unknown as [{ problems: string[] }];
      expect(fields.problems).toEqual([
        "models[0:broken].deployments[0:x]: an openai-compatible deployment needs base_url " +
          '(or base_url_env), the server\'s URL including /v1, e.g. "http://vllm:8000/v1"',
        "models[0:broken].deployments[1:y]: an openai deployment needs api_key_env, the env " +
          "var holding its key",
        'models[0:broken].tier: Invalid option: expected one of "top"|"balanced"|"fast"',
      ]);
      const { result } = await client.complete({ params: chatParams("x", { model: "newcomer" }) });
      expect(result?.model).toBe("newcomer");
    });

  it("answers invalid_model for a model the new catalog removed", async () => {
    const before = handle.state();
    writeFileSync(catalogPath, catalogJson(models()));
    await until(() => handle.state() !== before, "the reload");

    const err = await client.complete({ params: chatParams("x", { model: "newcomer" }) })
      .then(() => undefined, (e: unknown) => e);

    expect(err instanceof RpcError && [err.code, err.reason]).toEqual([
      GrpcStatus.INVALID_ARGUMENT, "invalid_model"]);
  });
});
