import Anthropic from "@anthropic-ai/sdk";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { StopReason } from "@mesh/contracts/common/v1/chat_pb";
import { GatewayService } from "@mesh/contracts/gateway/v1/gateway_pb";
import { createGrpcClient, GrpcStatus, RpcError } from "@mesh/rpc";
import {
  startFakeAnthropic,
  startOtlpReceiver,
  type FakeAnthropic,
  type OtlpReceiver,
} from "@mesh/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchMesh, type RunningMesh } from "../support/launch-mesh.js";
import {
  assertRealServicesUp,
  createTestSchema,
  eventually,
  sampleValue,
  TEST_DATABASE_URL,
  TEST_REDIS_URL,
  type TestSchema,
} from "../support/real-services.js";

// The fake upstream reports these counts for every answer, so every cost below is exact:
// claude-sonnet-4 bills $3 / $15 / $0.30 / $3.75 per million input / output / cache-read /
// cache-write tokens, i.e. 3000 / 15000 / 300 / 3750 nano-dollars per token.
const USAGE = {
  input_tokens: 1_200,
  output_tokens: 345,
  cache_read_input_tokens: 100,
  cache_creation_input_tokens: 50,
};
const SONNET_COST_NANOS = 1_200 * 3_000 + 345 * 15_000 + 100 * 300 + 50 * 3_750;
const HAIKU_COST_NANOS = 1_200 * 250 + 345 * 1_250 + 100 * 30 + 50 * 300;
const ANSWER = "Paris is the capital of France.";
const KEY = "e2e-key-acme";

let fake: FakeAnthropic;
let otlp: OtlpReceiver;
let schema: TestSchema;
let mesh: RunningMesh;
let sdk: Anthropic;

beforeAll(async () => {
  await assertRealServicesUp();
  fake = await startFakeAnthropic({
    apiKey: "upstream-key",
    defaultReply: { text: ANSWER, usage: USAGE, deltaChars: 5 },
  });
  otlp = await startOtlpReceiver();
  schema = await createTestSchema("e2e");
  mesh = await launchMesh({
    env: {
      DATABASE_URL: TEST_DATABASE_URL,
      DATABASE_SCHEMA: schema.name,
      REDIS_URL: TEST_REDIS_URL,
      GATEWAY_API_KEYS: `${KEY}=acme`,
      ANTHROPIC_API_KEY: "upstream-key",
      ANTHROPIC_BASE_URL: fake.url,
      ORCHESTRATOR_MAX_RETRIES: "1",
      ORCHESTRATOR_RETRY_INITIAL_DELAY_MS: "5",
      OTEL_EXPORTER_OTLP_ENDPOINT: otlp.url,
      OTEL_BSP_SCHEDULE_DELAY: "100",
    },
  });
  sdk = new Anthropic({ apiKey: KEY, baseURL: mesh.gatewayUrl, maxRetries: 0 });
});

afterAll(async () => {
  await mesh?.stop();
  await schema?.drop();
  await fake?.close();
  await otlp?.close();
});

/** The SDK's types no longer list temperature; the wire format and the gateway still take it. */
function withTemperature(
  temperature: number,
  body: Anthropic.MessageCreateParamsNonStreaming,
): Anthropic.MessageCreateParamsNonStreaming {
  return { ...body, temperature } as Anthropic.MessageCreateParamsNonStreaming;
}

const TOKEN_COLUMNS = [
  "input_tokens",
  "output_tokens",
  "cache_read_tokens",
  "cache_write_tokens",
  "reasoning_tokens",
  "latency_ms",
];

async function usageRow(requestId: string) {
  return eventually(
    async () => {
      const { rows } = await schema.pool.query(
        `SELECT * FROM "${schema.name}".usage_records WHERE request_id = $1`,
        [requestId],
      );
      const row = rows[0] as Record<string, unknown> | undefined;
      if (!row) return undefined;
      // pg returns bigint columns as text; the token counts fit a number exactly.
      for (const column of TOKEN_COLUMNS) row[column] = Number(row[column]);
      return row;
    },
    10_000,
    `usage row ${requestId}`,
  );
}

async function metricsText(): Promise<string> {
  return (await fetch(`http://127.0.0.1:${mesh.ports.metrics.http}/metrics`)).text();
}

describe("the mesh over real Postgres and Redis", () => {
  it("answers the Anthropic SDK and writes the exact usage row", async () => {
    const { data, response } = await sdk.messages
      .create(
        withTemperature(0.5, {
          model: "claude-sonnet-4",
          max_tokens: 400,
          messages: [{ role: "user", content: "What is the capital of France?" }],
        }),
      )
      .withResponse();
    const requestId = response.headers.get("x-request-id") ?? "";

    expect(data.content).toEqual([{ type: "text", text: ANSWER }]);
    expect(data.model).toBe("claude-sonnet-4");
    expect(data.stop_reason).toBe("end_turn");
    expect(data.usage).toMatchObject(USAGE);
    const upstream = fake.requests.at(-1);
    expect(upstream?.body.model).toBe("claude-sonnet-4-20250514");
    expect(upstream?.body.max_tokens).toBe(400);

    const row = await usageRow(requestId);
    expect(row).toMatchObject({
      tenant: "acme",
      model_requested: "claude-sonnet-4",
      model: "claude-sonnet-4",
      provider: "anthropic",
      endpoint: "anthropic-messages",
      input_tokens: 1_200,
      output_tokens: 345,
      cache_read_tokens: 100,
      cache_write_tokens: 50,
      status: "ok",
      cache_hit: false,
    });
    expect(BigInt(row.cost_nanos as string)).toBe(BigInt(SONNET_COST_NANOS));
  });

  it("streams through the Anthropic SDK with Anthropic's events", async () => {
    const stream = sdk.messages.stream({
      model: "claude-sonnet-4",
      max_tokens: 400,
      messages: [{ role: "user", content: "Stream me the capital of France." }],
    });
    const types: string[] = [];
    stream.on("streamEvent", (event) => types.push(event.type));
    const final = await stream.finalMessage();
    const requestId = (await stream.withResponse()).response.headers.get("x-request-id") ?? "";

    expect(final.content).toEqual([{ type: "text", text: ANSWER }]);
    expect(final.usage.input_tokens).toBe(1_200);
    expect(final.usage.output_tokens).toBe(345);
    expect(types[0]).toBe("message_start");
    expect(types.slice(-3)).toEqual(["content_block_stop", "message_delta", "message_stop"]);
    // Text is released a checked sentence at a time; the answer is one sentence.
    expect(types.filter((t) => t === "content_block_delta").length).toBe(1);

    const row = await usageRow(requestId);
    expect(row).toMatchObject({ output_tokens: 345, status: "ok", endpoint: "anthropic-messages" });
    expect(BigInt(row.cost_nanos as string)).toBe(BigInt(SONNET_COST_NANOS));
  });

  it("answers a grpc-js client, unary and streamed", async () => {
    const client = createGrpcClient(GatewayService, mesh.gatewayGrpcAddress);
    const params = {
      model: "claude-sonnet-4",
      maxTokens: 100,
      messages: [
        { role: 1, content: [{ block: { case: "text" as const, value: { text: "hi" } } }] },
      ],
    };

    const { result } = await client.chat({ params }, { headers: { "x-api-key": KEY } });
    const kinds: string[] = [];
    let streamed = "";
    for await (const { event } of client.streamChat(
      { params },
      { headers: { "x-api-key": KEY } },
    )) {
      kinds.push(event?.event.case ?? "none");
      if (event?.event.case === "textDelta") streamed += event.event.value.text;
    }
    client.close();

    expect(result?.content[0]?.block).toMatchObject({ case: "text", value: { text: ANSWER } });
    expect(result?.stopReason).toBe(StopReason.END_TURN);
    expect(result?.cost).toMatchObject({
      currencyCode: "USD",
      units: 0n,
      nanos: SONNET_COST_NANOS,
    });
    expect(result?.routing?.model).toBe("claude-sonnet-4");
    expect(streamed).toBe(ANSWER);
    expect(kinds[0]).toBe("start");
    expect(kinds.at(-1)).toBe("done");
  });

  it("answers a Connect client over HTTP/1.1 JSON", async () => {
    const transport = createConnectTransport({
      baseUrl: mesh.gatewayUrl,
      httpVersion: "1.1",
      useBinaryFormat: false,
    });
    const client = createClient(GatewayService, transport);

    const { result } = await client.chat(
      {
        params: {
          model: "claude-sonnet-4",
          maxTokens: 50,
          messages: [{ role: 1, content: [{ block: { case: "text", value: { text: "hey" } } }] }],
        },
      },
      { headers: { authorization: `Bearer ${KEY}` } },
    );

    expect(result?.content[0]?.block).toMatchObject({ case: "text", value: { text: ANSWER } });
    expect(result?.usage).toMatchObject({ inputTokens: 1_200, outputTokens: 345 });
  });

  it("takes feedback over Connect onto the ledger row and ai_quality_score", async () => {
    const { response } = await sdk.messages
      .create({
        model: "claude-sonnet-4",
        max_tokens: 20,
        messages: [{ role: "user", content: "rate me" }],
      })
      .withResponse();
    const requestId = response.headers.get("x-request-id") ?? "";
    await usageRow(requestId);
    const client = createClient(
      GatewayService,
      createConnectTransport({ baseUrl: mesh.gatewayUrl, httpVersion: "1.1" }),
    );
    const headers = { headers: { "x-api-key": KEY } };

    const first = await client.submitFeedback({ requestId, score: 0.8, comment: "great" }, headers);
    const again = await client.submitFeedback({ requestId, score: 0.1 }, headers);
    const unknown = await client
      .submitFeedback({ requestId: "req_nope", score: 0.5 }, headers)
      .then(() => "ok", (err: { code: number }) => err.code);

    expect(first).toMatchObject({ model: "claude-sonnet-4", duplicate: false });
    expect(again).toMatchObject({ model: "claude-sonnet-4", duplicate: true });
    expect(unknown).toBe(GrpcStatus.NOT_FOUND);
    const row = await usageRow(requestId);
    expect(row).toMatchObject({ quality_score: 0.8, feedback_comment: "great" });
    const metrics = await metricsText();
    expect(sampleValue(metrics, "ai_quality_score", { model: "claude-sonnet-4" })).toBe(0.8);
  });

  it("answers a browser's CORS preflight for Connect", async () => {
    const res = await fetch(`${mesh.gatewayUrl}/gateway.v1.GatewayService/Chat`, {
      method: "OPTIONS",
      headers: {
        origin: "http://localhost:5173",
        "access-control-request-method": "POST",
        "access-control-request-headers": "content-type,x-api-key,connect-protocol-version",
      },
    });

    expect(res.status).toBe(204);
    expect(res.headers.get("access-control-allow-origin")).toBe("http://localhost:5173");
    const allowed = res.headers.get("access-control-allow-headers")?.toLowerCase() ?? "";
    expect(allowed).toContain("x-api-key");
    expect(allowed).toContain("connect-protocol-version");
  });

  it("lets the official SDKs call from a browser: their headers allowed, ours readable",
    async () => {
      const sent = [
        "x-api-key",
        "anthropic-version",
        "content-type",
        "anthropic-dangerous-direct-browser-access",
        "x-stainless-lang",
        "x-stainless-package-version",
        "x-stainless-os",
        "x-stainless-arch",
        "x-stainless-runtime",
        "x-stainless-runtime-version",
        "x-stainless-retry-count",
        "x-stainless-timeout",
      ];
      const preflight = await fetch(`${mesh.gatewayUrl}/v1/messages`, {
        method: "OPTIONS",
        headers: {
          origin: "http://localhost:5173",
          "access-control-request-method": "POST",
          "access-control-request-headers": sent.join(","),
        },
      });
      const answer = await fetch(`${mesh.gatewayUrl}/v1/messages`, {
        method: "POST",
        headers: { origin: "http://localhost:5173", "x-api-key": KEY,
          "content-type": "application/json" },
        body: JSON.stringify({ model: "claude-sonnet-4", max_tokens: 16,
          messages: [{ role: "user", content: "hi from a browser" }] }),
      });

      const list = (value: string | null) =>
        (value ?? "").split(",").map((h) => h.trim().toLowerCase());
      const allowed = list(preflight.headers.get("access-control-allow-headers"));
      expect(sent.filter((h) => !allowed.includes(h))).toEqual([]);
      const exposed = list(answer.headers.get("access-control-expose-headers"));
      for (const name of ["request-id", "x-request-id", "retry-after",
        "anthropic-ratelimit-requests-remaining", "x-mesh-cache"]) {
        expect(exposed).toContain(name);
      }
      expect(answer.status).toBe(200);
    });

  it("serves a temperature-0 repeat from the cache, billed at zero", async () => {
    const body = withTemperature(0, {
      model: "claude-sonnet-4",
      max_tokens: 64,
      messages: [{ role: "user", content: `cache me ${Date.now()}` }],
    });
    const upstreamBefore = fake.requests.length;

    const first = await sdk.messages.create(body).withResponse();
    const second = await sdk.messages.create(body).withResponse();

    expect(fake.requests.length - upstreamBefore).toBe(1);
    expect(second.data.content).toEqual(first.data.content);
    expect(second.response.headers.get("x-mesh-cache")).toBe("hit");
    const row = await usageRow(second.response.headers.get("x-request-id") ?? "");
    expect(row).toMatchObject({ cache_hit: true, status: "ok", model: "claude-sonnet-4" });
    expect(BigInt(row.cost_nanos as string)).toBe(0n);
  });

  it("falls back to the fast tier when the balanced one stays overloaded", async () => {
    fake.script(
      { kind: "error", status: 529 },
      { kind: "error", status: 529 },
      { kind: "reply", text: ANSWER, usage: USAGE },
    );

    const { data, response } = await sdk.messages
      .create({ model: "auto", max_tokens: 64, messages: [{ role: "user", content: "fallback" }] })
      .withResponse();

    expect(data.model).toBe("claude-haiku-3");
    expect(fake.requests.slice(-3).map((r) => r.body.model)).toEqual([
      "claude-sonnet-4-20250514",
      "claude-sonnet-4-20250514",
      "claude-3-haiku-20240307",
    ]);
    const row = await usageRow(response.headers.get("x-request-id") ?? "");
    expect(row).toMatchObject({ model: "claude-haiku-3", model_requested: "" });
    expect(BigInt(row.cost_nanos as string)).toBe(BigInt(HAIKU_COST_NANOS));
  });

  it("moves the Prometheus counters by what was served", async () => {
    const before = await metricsText();
    const labels = { model: "claude-sonnet-4", endpoint: "anthropic-messages", status: "ok" };
    const requestsBefore = sampleValue(before, "ai_requests_total", labels);
    const inputBefore = sampleValue(before, "ai_tokens_total", {
      direction: "input",
      model: "claude-sonnet-4",
    });

    await sdk.messages.create({
      model: "claude-sonnet-4",
      max_tokens: 10,
      messages: [{ role: "user", content: "count me" }],
    });

    await eventually(async () => {
      const after = await metricsText();
      const moved = sampleValue(after, "ai_requests_total", labels) === requestsBefore + 1;
      return moved ? after : undefined;
    });
    const after = await metricsText();
    expect(
      sampleValue(after, "ai_tokens_total", { direction: "input", model: "claude-sonnet-4" }),
    ).toBe(inputBefore + 1_200);
    expect(
      sampleValue(after, "ai_latency_seconds_count", {
        model: "claude-sonnet-4",
        endpoint: "anthropic-messages",
      }),
    ).toBeGreaterThanOrEqual(requestsBefore + 1);
  });

  it("puts all five services in one trace with correct parent links", async () => {
    const traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
    const callerSpanId = "00f067aa0ba902b7";
    const res = await fetch(`${mesh.gatewayUrl}/v1/messages`, {
      method: "POST",
      headers: {
        "x-api-key": KEY,
        "content-type": "application/json",
        traceparent: `00-${traceId}-${callerSpanId}-01`,
      },
      body: JSON.stringify({
        model: "claude-sonnet-4",
        max_tokens: 20,
        messages: [{ role: "user", content: "trace me" }],
      }),
    });
    expect(res.status).toBe(200);

    const hops = [
      ["guardrails", "guardrails.v1.GuardrailsService/CheckInput"],
      ["guardrails", "guardrails.v1.GuardrailsService/CheckOutput"],
      ["orchestrator", "orchestrator.v1.OrchestratorService/Complete"],
      ["cost-ledger", "ledger.v1.CostLedgerService/RecordUsage"],
    ] as const;
    // Each hop shows up twice: the gateway's CLIENT span and the callee's SERVER span.
    await otlp.waitFor("every hop of the trace", (spans) => {
      const names = spans.filter((s) => s.traceId === traceId).map((s) => `${s.service} ${s.name}`);
      return (
        hops.every(
          ([service, name]) =>
            names.includes(`${service} ${name}`) && names.includes(`gateway ${name}`),
        ) && names.includes("gateway POST /v1/messages") &&
        names.includes("metrics record metrics observation")
      );
    }, 15_000);
    const spans = otlp.spans.filter((s) => s.traceId === traceId);
    const byId = new Map(spans.map((s) => [s.spanId, s]));
    const server = (service: string, name: string) => {
      const span = spans.find((s) => s.service === service && s.name === name && s.kind === 2);
      if (!span) throw new Error(`no ${service} server span ${name}`);
      return span;
    };
    const parentOf = (span: { parentSpanId: string }) => byId.get(span.parentSpanId);

    const root = server("gateway", "POST /v1/messages");
    expect(root.parentSpanId).toBe(callerSpanId);
    expect(root.attributes).toMatchObject({
      "mesh.tenant": "acme",
      "mesh.cache_hit": false,
      "mesh.cost_usd": "0.008992500",
      "mesh.model": "claude-sonnet-4",
      "mesh.status": "ok",
    });
    const verdicts = root.events.filter((e) => e.name === "mesh.guardrail.verdict");
    expect(verdicts.map((e) => e.attributes["mesh.guardrail.stage"])).toContain("input");
    expect(new Set(spans.map((s) => s.service))).toEqual(
      new Set(["gateway", "guardrails", "orchestrator", "cost-ledger", "metrics"]),
    );
    // The observation travels in a batch, and is recorded under the request's own span.
    const observation = spans.find((s) => s.name === "record metrics observation");
    expect(observation).toMatchObject({ service: "metrics", kind: 5, parentSpanId: root.spanId });
    for (const [service, name] of hops) {
      const span = server(service, name);
      const client = parentOf(span);
      expect(client, `${name} parent`).toMatchObject({ service: "gateway", name, kind: 3 });
      expect(client && parentOf(client)?.spanId, `${name} grandparent`).toBe(root.spanId);
    }

    // The batch's call is a trace of its own that links to every request it carries.
    const observed = "metrics.v1.MetricsService/RecordObservations";
    const batch = () =>
      otlp.spans.find(
        (s) =>
          s.service === "gateway" &&
          s.name === "send metrics observations" &&
          s.links.some((l) => l.traceId === traceId && l.spanId === root.spanId),
      );
    await otlp.waitFor("the metrics batch that carried the request", (all) => {
      const b = batch();
      return all.some((s) => s.traceId === b?.traceId && s.service === "metrics" && s.kind === 2);
    }, 15_000);
    const carrier = batch();
    expect(carrier?.parentSpanId).toBe("");
    expect(carrier?.traceId).not.toBe(traceId);
    const batchSpans = otlp.spans.filter((s) => s.traceId === carrier?.traceId);
    const metricsServer = batchSpans.find((s) => s.service === "metrics" && s.kind === 2);
    expect(metricsServer?.name).toBe(observed);
    expect(batchSpans.find((s) => s.spanId === metricsServer?.parentSpanId)).toMatchObject({
      service: "gateway",
      name: observed,
      kind: 3,
      parentSpanId: carrier?.spanId,
    });

    const orchestrator = server("orchestrator", "orchestrator.v1.OrchestratorService/Complete");
    const modelCall = spans.find(
      (s) => s.service === "orchestrator" && s.name === "chat claude-sonnet-4",
    );
    expect(modelCall?.parentSpanId).toBe(orchestrator.spanId);
    expect(modelCall?.attributes["gen_ai.request.model"]).toBe("claude-sonnet-4-20250514");
    expect(modelCall?.attributes["gen_ai.provider.name"]).toBe("anthropic");
    expect(modelCall?.attributes["gen_ai.usage.input_tokens"]).toBe(1_200);
    expect(modelCall?.attributes["gen_ai.usage.output_tokens"]).toBe(345);
  });
});

describe("bad input gets the protocol's clear error", () => {
  const post = (body: string, headers: Record<string, string> = { "x-api-key": KEY }) =>
    fetch(`${mesh.gatewayUrl}/v1/messages`, {
      method: "POST",
      headers: { "content-type": "application/json", ...headers },
      body,
    });
  const good = {
    model: "claude-sonnet-4",
    max_tokens: 10,
    messages: [{ role: "user", content: "hi" }],
  };

  it.each([
    ["malformed JSON", '{"model": ', 400, "invalid_request_error", "malformed request body"],
    [
      "missing max_tokens",
      JSON.stringify({ ...good, max_tokens: undefined }),
      400,
      "invalid_request_error",
      "max_tokens",
    ],
    [
      "an empty message list",
      JSON.stringify({ ...good, messages: [] }),
      400,
      "invalid_request_error",
      "messages: at least one message is required",
    ],
    [
      "wrong types",
      JSON.stringify({ ...good, max_tokens: "ten", temperature: "hot" }),
      400,
      "invalid_request_error",
      "max_tokens",
    ],
    [
      "an unknown model",
      JSON.stringify({ ...good, model: "gpt-17" }),
      400,
      "invalid_request_error",
      "gpt-17",
    ],
  ])("%s", async (_name, body, status, type, fragment) => {
    const res = await post(body);
    const json = (await res.json()) as { type: string; error: { type: string; message: string } };

    expect(res.status).toBe(status);
    expect(json.type).toBe("error");
    expect(json.error.type).toBe(type);
    expect(json.error.message).toContain(fragment);
  });

  it("refuses a missing or wrong key with 401 authentication_error, and counts it", async () => {
    const errorsBefore = sampleValue(await metricsText(), "ai_errors_total", {
      type: "authentication",
      model: "none",
    });

    const missing = await post(JSON.stringify(good), {});
    const wrong = await post(JSON.stringify(good), { authorization: "Bearer not-a-key" });

    for (const res of [missing, wrong]) {
      const json = (await res.json()) as { error: { type: string }; request_id: string };
      expect(res.status).toBe(401);
      expect(json.error.type).toBe("authentication_error");
      // The id to quote comes with the refusal, in each of the places Anthropic puts it.
      expect(json.request_id).toMatch(/^req_[0-9a-f]{32}$/);
      expect(res.headers.get("request-id")).toBe(json.request_id);
      expect(res.headers.get("x-request-id")).toBe(json.request_id);
    }
    await eventually(
      async () => {
        const now = sampleValue(await metricsText(), "ai_errors_total", {
          type: "authentication",
          model: "none",
        });
        return now === errorsBefore + 2 ? now : undefined;
      },
      5_000,
      "two authentication errors counted",
    );
  });

  it("gives gRPC callers status codes, and keeps serving afterwards", async () => {
    const client = createGrpcClient(GatewayService, mesh.gatewayGrpcAddress);
    const text = { block: { case: "text" as const, value: { text: "hi" } } };
    const codeOf = (p: Promise<unknown>) =>
      p.then(
        () => "ok",
        (err: RpcError) => [err.code, err.message] as const,
      );

    const noKey = await codeOf(
      client.chat({ params: { messages: [{ role: 1, content: [text] }] } }),
    );
    const empty = await codeOf(
      client.chat({ params: { messages: [] } }, { headers: { "x-api-key": KEY } }),
    );
    const unknown = await codeOf(
      client.chat(
        { params: { model: "gpt-17", messages: [{ role: 1, content: [text] }] } },
        { headers: { "x-api-key": KEY } },
      ),
    );

    const named = await client.chat(
      { params: { messages: [{ role: 1, content: [text] }] } },
      { headers: { "x-request-id": "caller-named-1" } },
    ).then(() => undefined, (err: RpcError) => err);

    expect(noKey[0]).toBe(GrpcStatus.UNAUTHENTICATED);
    expect(named?.code).toBe(GrpcStatus.UNAUTHENTICATED);
    expect(named?.trailers["x-request-id"]).toBe("caller-named-1");
    expect(empty).toEqual([
      GrpcStatus.INVALID_ARGUMENT,
      "messages: at least one message is required",
    ]);
    expect(unknown[0]).toBe(GrpcStatus.INVALID_ARGUMENT);
    expect(unknown[1]).toContain("gpt-17");

    const res = await post(JSON.stringify(good));
    expect(res.status).toBe(200);
    client.close();
  });
});
