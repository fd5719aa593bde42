import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchMesh, type RunningMesh } from "../support/launch-mesh.js";
import {
  startFakeAnthropic,
  startOtlpReceiver,
  type FakeAnthropic,
  type OtlpReceiver,
  type ReceivedSpan as Span,
} from "@mesh/testing";

// Checks the traces an on-call engineer reads in Jaeger, through a local OTLP receiver: span
// names, parents, the GenAI attributes and their values, for a unary request, a streamed
// one, a fallback, and a request whose input the guardrails redact.

const KEY = "trace-key";
const ANSWER = "Paris is the capital of France.";
const USAGE = { input_tokens: 1_200, output_tokens: 345 };
const VERSION = "7.7.7-trace";
const ENVIRONMENT = "trace-test";
const SERVER = 2;
const CLIENT = 3;
const CONSUMER = 5;
const ERROR = 2;
// The SDK anchors each span's times to Date.now() when it starts, so ends of different spans
// compare to within about a millisecond, not exactly.
const CLOCK_SLACK_NS = 2_000_000n;

let fake: FakeAnthropic;
let receiver: OtlpReceiver;
let mesh: RunningMesh;
let dataDir: string;

beforeAll(async () => {
  fake = await startFakeAnthropic({
    apiKey: "upstream-key",
    defaultReply: { text: ANSWER, usage: USAGE, deltaChars: 5 },
  });
  receiver = await startOtlpReceiver();
  dataDir = mkdtempSync(join(tmpdir(), "mesh-traces-"));
  mesh = await launchMesh({
    env: {
      GATEWAY_API_KEYS: `${KEY}=acme`,
      LEDGER_DATA_DIR: dataDir,
      ANTHROPIC_API_KEY: "upstream-key",
      ANTHROPIC_BASE_URL: fake.url,
      ORCHESTRATOR_MAX_RETRIES: "1",
      ORCHESTRATOR_RETRY_INITIAL_DELAY_MS: "5",
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
      OTEL_BSP_SCHEDULE_DELAY: "100",
      SERVICE_VERSION: VERSION,
      DEPLOYMENT_ENVIRONMENT: ENVIRONMENT,
    },
  });
}, 180_000);

afterAll(async () => {
  await mesh?.stop();
  await fake?.close();
  await receiver?.close();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

/** A fresh W3C trace context, as a caller in front of the gateway would send it. */
function callerContext() {
  const traceId = randomBytes(16).toString("hex");
  const spanId = randomBytes(8).toString("hex");
  return { traceId, spanId, traceparent: `00-${traceId}-${spanId}-01` };
}

async function post(body: Record<string, unknown>, traceparent: string) {
  const res = await fetch(`${mesh.gatewayUrl}/v1/messages`, {
    method: "POST",
    headers: { "x-api-key": KEY, "content-type": "application/json", traceparent },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  return { res, text };
}

/** The spans of one trace, with lookups that fail loudly when a span is missing. */
function traceOf(traceId: string) {
  const spans = receiver.spans.filter((s) => s.traceId === traceId);
  const byId = new Map(spans.map((s) => [s.spanId, s]));

  const find = (service: string, name: string, kind: number): Span => {
    const found = spans.filter((s) => s.service === service && s.name === name && s.kind === kind);
    if (found.length !== 1) {
      const seen = spans.map((s) => `${s.service}:${s.name}:${s.kind}`).join(", ");
      throw new Error(`expected one ${service} ${name} (kind ${kind}), found ${found.length}: ` +
        seen);
    }
    return found[0] as Span;
  };
  return {
    spans,
    find,
    parentOf: (span: Span) => byId.get(span.parentSpanId),
    childrenOf: (span: Span) =>
      spans
        .filter((s) => s.parentSpanId === span.spanId)
        .sort((a, b) => Number(a.startNs - b.startNs)),
  };
}

async function waitForTrace(traceId: string, names: [string, string][]) {
  await receiver.waitFor(`trace ${traceId}`, (all) => {
    const got = all.filter((s) => s.traceId === traceId).map((s) => `${s.service} ${s.name}`);
    return names.every(([service, name]) => got.includes(`${service} ${name}`));
  });
}

/** Every attribute and event attribute value of the spans, as text. */
function allValues(spans: Span[]): string {
  return JSON.stringify(
    spans.map((s) => [s.attributes, s.events.map((e) => e.attributes)]),
  );
}

const COMPLETE = "orchestrator.v1.OrchestratorService/Complete";
const HOPS = [
  ["guardrails", "guardrails.v1.GuardrailsService/CheckInput"],
  ["guardrails", "guardrails.v1.GuardrailsService/CheckOutput"],
  ["orchestrator", COMPLETE],
  ["cost-ledger", "ledger.v1.CostLedgerService/RecordUsage"],
] as const;
const OBSERVE = "metrics.v1.MetricsService/RecordObservations";

/** The gateway's batch of metrics observations that carried the request of `root`. */
function batchCarrying(root: Span): Span | undefined {
  return receiver.spans.find(
    (s) =>
      s.service === "gateway" &&
      s.name === "send metrics observations" &&
      s.links.some((l) => l.traceId === root.traceId && l.spanId === root.spanId),
  );
}

describe("traces through the mesh", () => {
  it("makes a unary request one trace: every hop a child of the one before", async () => {
    const caller = callerContext();
    const prompt = "Which city is the capital of France? (unary trace)";
    const { res, text } = await post(
      {
        model: "claude-sonnet-4",
        max_tokens: 400,
        temperature: 0.5,
        messages: [{ role: "user", content: prompt }],
      },
      caller.traceparent,
    );
    expect(res.status, text).toBe(200);
    const requestId = res.headers.get("x-request-id");

    await waitForTrace(caller.traceId, [
      ["gateway", "POST /v1/messages"],
      ["orchestrator", "chat claude-sonnet-4"],
      ["metrics", "record metrics observation"],
      // Each hop twice: the callee's SERVER span and the gateway's CLIENT span, which ends
      // (and is exported) last for the calls made after the answer was sent.
      ...HOPS.flatMap(([service, name]): [string, string][] => [
        [service, name],
        ["gateway", name],
      ]),
    ]);
    const t = traceOf(caller.traceId);

    // The gateway continues the caller's trace and carries our namespaced attributes.
    const root = t.find("gateway", "POST /v1/messages", SERVER);
    expect(root.parentSpanId).toBe(caller.spanId);
    expect(root.attributes).toMatchObject({
      "mesh.request_id": requestId,
      "mesh.tenant": "acme",
      "mesh.cache_hit": false,
      "http.request.method": "POST",
    });

    // Each internal call: the gateway's CLIENT span under the root, the callee's SERVER span
    // under that.
    for (const [service, name] of HOPS) {
      const server = t.find(service, name, SERVER);
      const client = t.parentOf(server);
      expect(client, name).toMatchObject({ service: "gateway", name, kind: CLIENT });
      expect(client && t.parentOf(client)?.spanId, name).toBe(root.spanId);
    }

    // The metrics observation leaves in a batch and is recorded under the request's span...
    const observed = t.find("metrics", "record metrics observation", CONSUMER);
    expect(observed.parentSpanId).toBe(root.spanId);
    expect(observed.attributes["mesh.request_id"]).toBe(requestId);

    // ...while the batch's call is a trace of its own, linked to every request it carries.
    await receiver.waitFor("the metrics batch that carried the request", (all) => {
      const traceId = batchCarrying(root)?.traceId;
      return all.some((s) => s.traceId === traceId && s.service === "metrics" && s.kind === SERVER);
    });
    const batch = batchCarrying(root) as Span;
    const b = traceOf(batch.traceId);
    expect(batch.parentSpanId).toBe("");
    const observeServer = b.find("metrics", OBSERVE, SERVER);
    const observeClient = b.parentOf(observeServer);
    expect(observeClient).toMatchObject({ service: "gateway", name: OBSERVE, kind: CLIENT });
    expect(observeClient?.parentSpanId).toBe(batch.spanId);

    // The model call: a CLIENT span under the orchestrator's server span, GenAI attributes.
    const orchestrator = t.find("orchestrator", COMPLETE, SERVER);
    const chat = t.find("orchestrator", "chat claude-sonnet-4", CLIENT);
    expect(chat.parentSpanId).toBe(orchestrator.spanId);
    expect(chat.attributes).toMatchObject({
      "gen_ai.operation.name": "chat",
      "gen_ai.provider.name": "anthropic",
      "gen_ai.request.model": "claude-sonnet-4-20250514",
      "gen_ai.response.model": "claude-sonnet-4-20250514",
      "gen_ai.request.max_tokens": 400,
      "gen_ai.request.temperature": 0.5,
      "gen_ai.usage.input_tokens": 1_200,
      "gen_ai.usage.output_tokens": 345,
      "gen_ai.response.finish_reasons": ["end_turn"],
      "mesh.model": "claude-sonnet-4",
      "mesh.attempt": 1,
    });
    expect(chat.statusCode).not.toBe(ERROR);
    expect(orchestrator.attributes).toMatchObject({
      "mesh.request_id": requestId,
      "mesh.routing.model": "claude-sonnet-4",
      "mesh.routing.tier": "balanced",
    });
    expect(String(orchestrator.attributes["mesh.routing.reason"])).not.toBe("");

    // The provider's HTTP call (undici instrumentation) sits under the attempt that made it.
    const http = t.spans.find((s) => s.service === "orchestrator" && s.kind === CLIENT &&
      s.attributes["url.full"] !== undefined);
    expect(http, "an HTTP client span for the provider call").toBeDefined();
    expect(http?.attributes["url.full"]).toBe(`${fake.url}/v1/messages`);
    expect(http?.parentSpanId).toBe(chat.spanId);

    // Service name, version and environment come from config, on every span.
    expect(new Set(t.spans.map((s) => s.service))).toEqual(
      new Set(["gateway", "guardrails", "orchestrator", "cost-ledger", "metrics"]),
    );
    for (const s of [...t.spans, ...b.spans]) {
      expect(s.resource["service.version"], `${s.service} ${s.name}`).toBe(VERSION);
      expect(s.resource["deployment.environment.name"], `${s.service} ${s.name}`).toBe(ENVIRONMENT);
    }

    // Neither the prompt nor the answer is on any span.
    expect(allValues(t.spans)).not.toContain("capital of France");
  });

  it("keeps a streamed request's spans open until the stream ends", async () => {
    const caller = callerContext();
    const { res, text } = await post(
      {
        model: "claude-sonnet-4",
        max_tokens: 300,
        stream: true,
        messages: [{ role: "user", content: "Stream the capital of France. (stream trace)" }],
      },
      caller.traceparent,
    );
    expect(res.status, text).toBe(200);
    expect(text).toContain("event: message_stop");

    const stream = "orchestrator.v1.OrchestratorService/StreamComplete";
    await waitForTrace(caller.traceId, [
      ["gateway", "POST /v1/messages"],
      ["orchestrator", stream],
      ["orchestrator", "chat claude-sonnet-4"],
      ["guardrails", "guardrails.v1.GuardrailsService/CheckOutput"],
    ]);
    const t = traceOf(caller.traceId);
    const root = t.find("gateway", "POST /v1/messages", SERVER);
    const client = t.find("gateway", stream, CLIENT);
    const server = t.find("orchestrator", stream, SERVER);
    const chat = t.find("orchestrator", "chat claude-sonnet-4", CLIENT);
    const check = t.find("gateway", "guardrails.v1.GuardrailsService/CheckOutput", CLIENT);

    expect(root.parentSpanId).toBe(caller.spanId);
    expect(root.attributes["mesh.tenant"]).toBe("acme");
    expect(t.parentOf(client)?.spanId).toBe(root.spanId);
    expect(t.parentOf(server)?.spanId).toBe(client.spanId);
    expect(chat.parentSpanId).toBe(server.spanId);
    // Usage and finish reasons arrive with the stream's last event; attributes set after a
    // span ends are dropped, so their presence shows the span outlived the stream.
    expect(chat.attributes).toMatchObject({
      "gen_ai.operation.name": "chat",
      "gen_ai.request.model": "claude-sonnet-4-20250514",
      "gen_ai.response.model": "claude-sonnet-4-20250514",
      "gen_ai.request.max_tokens": 300,
      "gen_ai.usage.input_tokens": 1_200,
      "gen_ai.usage.output_tokens": 345,
      "gen_ai.response.finish_reasons": ["end_turn"],
    });
    // Each span closes after the one it waits on: model call, orchestrator, gateway.
    expect(server.endNs + CLOCK_SLACK_NS).toBeGreaterThanOrEqual(chat.endNs);
    expect(client.endNs + CLOCK_SLACK_NS).toBeGreaterThanOrEqual(server.endNs);
    expect(root.endNs + CLOCK_SLACK_NS).toBeGreaterThanOrEqual(client.endNs);
    // The answer is checked once the stream is whole, and the root ends after that.
    expect(check.startNs + CLOCK_SLACK_NS).toBeGreaterThanOrEqual(chat.endNs);
    expect(root.endNs + CLOCK_SLACK_NS).toBeGreaterThanOrEqual(check.endNs);
  });

  it("shows retries and a fallback as sibling attempts under one orchestrator span", async () => {
    fake.script(
      { kind: "error", status: 529 },
      { kind: "error", status: 529 },
      { kind: "reply", text: ANSWER, usage: USAGE },
    );
    const caller = callerContext();
    const { res, text } = await post(
      { model: "auto", max_tokens: 64, messages: [{ role: "user", content: "fallback trace" }] },
      caller.traceparent,
    );
    expect(res.status, text).toBe(200);

    await waitForTrace(caller.traceId, [
      ["orchestrator", "chat claude-haiku-3"],
      ["orchestrator", COMPLETE],
    ]);
    const t = traceOf(caller.traceId);
    const orchestrator = t.find("orchestrator", COMPLETE, SERVER);
    const attempts = t.childrenOf(orchestrator).filter((s) => s.name.startsWith("chat "));

    expect(attempts.map((a) => [a.name, a.attributes["mesh.attempt"], a.statusCode])).toEqual([
      ["chat claude-sonnet-4", 1, ERROR],
      ["chat claude-sonnet-4", 2, ERROR],
      ["chat claude-haiku-3", 1, 0],
    ]);
    for (const failed of attempts.slice(0, 2)) {
      expect(failed.attributes).toMatchObject({
        "error.type": "overloaded",
        "http.response.status_code": 529,
        "gen_ai.request.model": "claude-sonnet-4-20250514",
      });
      expect(failed.attributes["gen_ai.usage.output_tokens"]).toBeUndefined();
    }
    expect(attempts[2]?.attributes).toMatchObject({
      "gen_ai.request.model": "claude-3-haiku-20240307",
      "gen_ai.response.model": "claude-3-haiku-20240307",
      "gen_ai.usage.input_tokens": 1_200,
      "gen_ai.usage.output_tokens": 345,
      "gen_ai.response.finish_reasons": ["end_turn"],
    });
    // Attempts run one after another, never overlapping.
    for (const [before, after] of [[0, 1], [1, 2]] as const) {
      const gap = (attempts[after]?.startNs ?? 0n) - (attempts[before]?.endNs ?? 0n);
      expect(gap + CLOCK_SLACK_NS).toBeGreaterThanOrEqual(0n);
    }

    expect(orchestrator.events.map((e) => e.name)).toContain("retry wait");
    expect(orchestrator.attributes["mesh.routing.model"]).toBe("claude-haiku-3");
    expect(String(orchestrator.attributes["mesh.routing.reason"])).toContain(
      "fell back to claude-haiku-3",
    );
    expect(orchestrator.attributes["mesh.routing.attempts"]).toHaveLength(3);
  });

  it("records guardrail verdicts as span events, without the text they found", async () => {
    const caller = callerContext();
    const email = "jane.doe@example.com";
    const { res, text } = await post(
      {
        model: "claude-haiku-3",
        max_tokens: 64,
        messages: [{ role: "user", content: `My address is ${email}; what is my plan?` }],
      },
      caller.traceparent,
    );
    expect(res.status, text).toBe(200);

    const name = "guardrails.v1.GuardrailsService/CheckInput";
    await waitForTrace(caller.traceId, [["guardrails", name], ["gateway", "POST /v1/messages"]]);
    const t = traceOf(caller.traceId);
    const input = t.find("guardrails", name, SERVER);

    const pii = input.events.filter((e) => e.name === "guardrails.verdict" &&
      e.attributes["guardrails.check"] === "pii");
    expect(pii.length).toBeGreaterThan(0);
    expect(pii[0]?.attributes["guardrails.action"]).toBe("REDACT");
    expect(input.attributes["guardrails.stage"]).toBe("input");
    expect(allValues(t.spans)).not.toContain(email);
  });
});
