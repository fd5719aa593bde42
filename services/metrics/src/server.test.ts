import { createServer } from "node:net";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { GuardrailAction } from "@mesh/contracts/common/v1/chat_pb";
import {
  MetricsService,
  type Observation,
  type ObservationSchema,
} from "@mesh/contracts/metrics/v1/metrics_pb";
import { createLogger } from "@mesh/logging";
import { moneyToNanos, usdFromNanos } from "@mesh/money";
import { createGrpcClient, GrpcStatus, RpcError, type GrpcClient } from "@mesh/rpc";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadMetricsConfig } from "./config.js";
import { startMetricsService, type MetricsServiceHandle } from "./server.js";

const logger = createLogger("metrics-test", "silent");
type Client = GrpcClient<typeof MetricsService>;
type ObservationInit = Exclude<MessageInitShape<typeof ObservationSchema>, Observation>;

interface Replica {
  handle: MetricsServiceHandle;
  client: Client;
  metricsText(): Promise<string>;
}

async function startReplica(env: Record<string, string> = {}, grpcPort = 0): Promise<Replica> {
  const config = loadMetricsConfig({
    METRICS_GRPC_PORT: String(grpcPort),
    METRICS_HTTP_PORT: "0",
    ...env,
  });
  const handle = await startMetricsService(config, logger, async () => undefined, {
    handleSignals: false,
  });
  const client = createGrpcClient(MetricsService, `127.0.0.1:${handle.grpcPort}`);
  const metricsText = async () =>
    (await fetch(`http://127.0.0.1:${handle.httpPort}/metrics`)).text();
  return { handle, client, metricsText };
}

async function stopReplica(replica: Replica | undefined): Promise<void> {
  replica?.client.close();
  await replica?.handle.stop();
}

/** One sample of the Prometheus text with exactly these labels; undefined when absent. */
function sample(text: string, name: string, labels: Record<string, string> = {}) {
  const wanted = Object.entries(labels)
    .map(([k, v]) => `${k}="${v}"`)
    .sort()
    .join(",");
  for (const line of text.split("\n")) {
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const found = (match[2] ?? "").split(",").filter((s) => s !== "").sort().join(",");
    if (found === wanted) return Number(match[3]);
  }
  return undefined;
}

function observation(overrides: ObservationInit = {}): ObservationInit {
  return {
    requestId: `req-${Math.random().toString(36).slice(2)}`,
    model: "claude-haiku-3",
    provider: "simulator",
    endpoint: "grpc",
    latencySeconds: 0.2,
    usage: { inputTokens: 10, outputTokens: 20 },
    cost: usdFromNanos(27_500n),
    ...overrides,
  };
}

async function rpcError(promise: Promise<unknown>): Promise<RpcError> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof RpcError) return err;
    throw err;
  }
  throw new Error("expected the call to fail");
}

describe("metrics service, one replica", () => {
  let replica: Replica;

  beforeAll(async () => {
    replica = await startReplica({ METRICS_FEEDBACK_MAX_REQUESTS: "3" });
  });
  afterAll(() => stopReplica(replica));

  it("counts an observation under bounded labels", async () => {
    await replica.client.recordObservation({
      observation: observation({
        requestId: "labels-1",
        guardrails: [
          { check: "injection", action: GuardrailAction.BLOCK },
          { check: "made-up-check", action: GuardrailAction.ALLOW },
        ],
        errorType: "guardrail_blocked",
      }),
    });
    await replica.client.recordObservation({ observation: observation({ endpoint: "smtp" }) });
    await replica.client.recordObservation({
      observation: observation({ model: "", errorType: "something new", latencySeconds: 0.01 }),
    });
    await replica.client.recordObservation({
      observation: observation({ model: "free text from a caller", latencySeconds: 0.01 }),
    });

    const text = await replica.metricsText();
    expect(sample(text, "ai_guardrail_verdicts_total", { check: "injection", action: "block" }))
      .toBe(1);
    expect(sample(text, "ai_guardrail_verdicts_total", { check: "other", action: "allow" }))
      .toBe(1);
    expect(sample(text, "ai_errors_total", { type: "guardrail_blocked", model: "claude-haiku-3" }))
      .toBe(1);
    expect(sample(text, "ai_errors_total", { type: "other", model: "none" })).toBe(1);
    expect(sample(text, "ai_requests_total", {
      model: "claude-haiku-3",
      endpoint: "other",
      status: "ok",
    })).toBe(1);
    expect(sample(text, "ai_requests_total", { model: "other", endpoint: "grpc", status: "ok" }))
      .toBe(1);
    expect(sample(text, "ai_cost_total", { model: "claude-haiku-3" })).toBe(0.000055);
    expect(text).not.toContain("free text");
  });

  it("validates feedback with messages that say what is allowed", async () => {
    const bad = [
      [{ requestId: "x", score: 1.5 }, "score must be between 0 and 1, got 1.5"],
      [{ requestId: "x", score: Number.NaN }, "score must be between 0 and 1, got NaN"],
      [{ requestId: "", score: 0.5 }, "request_id must be the x-request-id"],
      [{ requestId: "has space", score: 0.5 }, "request_id must be the x-request-id"],
      [{ requestId: "x", score: 0.5, comment: "y".repeat(4_097) }, "comment is 4097 characters"],
    ] as const;

    for (const [req, message] of bad) {
      const err = await rpcError(replica.client.submitFeedback(req));
      expect(err.code).toBe(GrpcStatus.INVALID_ARGUMENT);
      expect(err.message).toContain(message);
    }
  });

  it("scores an observed request once, by its model", async () => {
    await replica.client.recordObservation({
      observation: observation({ requestId: "fb-1", model: "claude-sonnet-4" }),
    });

    const first = await replica.client.submitFeedback({
      requestId: "fb-1",
      score: 0.8,
      comment: "a comment that must never reach a log or a label",
    });
    const again = await replica.client.submitFeedback({ requestId: "fb-1", score: 0.1 });

    expect(first).toMatchObject({ model: "claude-sonnet-4", duplicate: false });
    expect(again).toMatchObject({ model: "claude-sonnet-4", duplicate: true });
    const text = await replica.metricsText();
    expect(sample(text, "ai_quality_score", { model: "claude-sonnet-4" })).toBe(0.8);
    expect(sample(text, "ai_quality_feedback_score_count", { model: "claude-sonnet-4" })).toBe(1);
    expect(sample(text, "ai_quality_feedback_score_sum", { model: "claude-sonnet-4" })).toBe(0.8);
    expect(text).not.toContain("never reach");
  });

  it("averages the hour's scores per model and takes the model from the caller", async () => {
    const scored = await replica.client.submitFeedback({
      requestId: "from-ledger-1",
      score: 0.4,
      model: "claude-sonnet-4",
    });

    expect(scored).toMatchObject({ model: "claude-sonnet-4", duplicate: false });
    const text = await replica.metricsText();
    expect(sample(text, "ai_quality_score", { model: "claude-sonnet-4" })).toBeCloseTo(0.6, 12);
    expect(sample(text, "ai_quality_feedback_score_bucket", {
      model: "claude-sonnet-4",
      le: "0.5",
    })).toBe(1);
  });

  it("answers NOT_FOUND for a request it never saw or has forgotten", async () => {
    // Capacity 3: four newer observations push fb-old out.
    await replica.client.recordObservation({ observation: observation({ requestId: "fb-old" }) });
    for (let i = 0; i < 3; i++) {
      await replica.client.recordObservation({ observation: observation() });
    }

    const forgotten = await rpcError(
      replica.client.submitFeedback({ requestId: "fb-old", score: 1 }),
    );
    const never = await rpcError(replica.client.submitFeedback({ requestId: "nope", score: 1 }));

    for (const err of [forgotten, never]) {
      expect(err.code).toBe(GrpcStatus.NOT_FOUND);
      expect(err.reason).toBe("unknown_request");
      expect(err.message).toContain("is not among the last 3 requests observed");
    }
  });
});

describe("RecordObservations, a batch per call", () => {
  let single: Replica;
  let batched: Replica;

  beforeAll(async () => {
    single = await startReplica();
    batched = await startReplica();
  });
  afterAll(async () => {
    await stopReplica(single);
    await stopReplica(batched);
  });

  const batch = (): ObservationInit[] => [
    observation({ requestId: "batch-1", latencySeconds: 0.04 }),
    observation({ requestId: "batch-2", endpoint: "anthropic-messages", latencySeconds: 0.3 }),
    observation({
      requestId: "batch-3",
      model: "claude-sonnet-4",
      errorType: "overloaded",
      latencySeconds: 1.5,
      usage: { inputTokens: 7, outputTokens: 0 },
      cost: usdFromNanos(0n),
      guardrails: [{ check: "pii", action: GuardrailAction.REDACT }],
    }),
    observation({ requestId: "batch-4", model: "", errorType: "authentication" }),
    ...["cancelled", "made_up"].map((errorType, i) => observation({
      requestId: `batch-${5 + i}`,
      model: "claude-sonnet-4",
      errorType,
      usage: { inputTokens: 0, outputTokens: 0 },
      cost: usdFromNanos(0n),
    })),
  ];

  it("counts each observation of the batch once, with exact values", async () => {
    const answer = await batched.client.recordObservations({ observations: batch() });
    const empty = await batched.client.recordObservations({ observations: [] });

    expect(answer.recorded).toBe(6);
    expect(empty.recorded).toBe(0);
    const text = await batched.metricsText();
    const haiku = { model: "claude-haiku-3", status: "ok" };
    expect(sample(text, "ai_requests_total", { ...haiku, endpoint: "grpc" })).toBe(1);
    expect(sample(text, "ai_requests_total", { ...haiku, endpoint: "anthropic-messages" }))
      .toBe(1);
    // Overloaded and an unknown type are faults; a bad key is a refusal; a caller leaving is
    // neither.
    const sonnet = { model: "claude-sonnet-4", endpoint: "grpc" };
    expect(sample(text, "ai_requests_total", { ...sonnet, status: "error" })).toBe(2);
    expect(sample(text, "ai_requests_total", { ...sonnet, status: "cancelled" })).toBe(1);
    const refused = { model: "none", endpoint: "grpc", status: "refused" };
    expect(sample(text, "ai_requests_total", refused))
      .toBe(1);
    expect(sample(text, "ai_errors_total", { type: "other", model: "claude-sonnet-4" })).toBe(1);
    expect(sample(text, "ai_errors_total", { type: "cancelled", model: "claude-sonnet-4" }))
      .toBe(1);
    expect(sample(text, "ai_errors_total", { type: "overloaded", model: "claude-sonnet-4" }))
      .toBe(1);
    expect(sample(text, "ai_errors_total", { type: "authentication", model: "none" })).toBe(1);
    expect(sample(text, "ai_tokens_total", { direction: "input", model: "claude-haiku-3" }))
      .toBe(20);
    expect(sample(text, "ai_tokens_total", { direction: "output", model: "claude-haiku-3" }))
      .toBe(40);
    expect(sample(text, "ai_tokens_total", { direction: "input", model: "claude-sonnet-4" }))
      .toBe(7);
    expect(sample(text, "ai_guardrail_verdicts_total", { check: "pii", action: "redact" }))
      .toBe(1);
    expect(sample(text, "ai_latency_seconds_count", {
      model: "claude-haiku-3",
      endpoint: "grpc",
    })).toBe(1);
  });

  it("moves every series exactly as the same observations sent one at a time", async () => {
    for (const o of batch()) await single.client.recordObservation({ observation: o });
    await single.client.recordObservations({ observations: [] });

    const series = async (replica: Replica) =>
      (await replica.metricsText()).split("\n").filter((line) => line.startsWith("ai_"));
    const fromSingles = await series(single);
    expect(fromSingles.length).toBeGreaterThan(20);
    expect(await series(batched)).toEqual(fromSingles);
  });

  it("remembers batched requests for feedback, like single observations", async () => {
    const scored = await batched.client.submitFeedback({ requestId: "batch-3", score: 0.5 });

    expect(scored).toMatchObject({ model: "claude-sonnet-4", duplicate: false });
    const dashboard = await batched.client.getDashboard({ localOnly: true });
    // The dashboard follows the design's ratio: every error type over every request.
    expect(dashboard.total).toMatchObject({ requests5m: 6n, errors5m: 4n, errorRate: 4 / 6 });
  });
});

describe("GetDashboard on one replica", () => {
  let replica: Replica;

  beforeAll(async () => {
    replica = await startReplica();
  });
  afterAll(() => stopReplica(replica));

  it("answers the four figures from what it observed, mesh-wide and per model", async () => {
    const haiku = [0.02, 0.04, 0.3, 0.3];
    for (const latencySeconds of haiku) {
      await replica.client.recordObservation({ observation: observation({ latencySeconds }) });
    }
    await replica.client.recordObservation({
      observation: observation({
        model: "",
        errorType: "invalid_request",
        latencySeconds: 0.001,
        usage: undefined,
        cost: usdFromNanos(0n),
      }),
    });

    const dashboard = await replica.client.getDashboard({});

    expect(dashboard.replicas).toBe(1);
    expect(dashboard.replicasUnreachable).toBe(0);
    expect(dashboard.total).toMatchObject({
      requestsPerMinute: 5,
      requests5m: 5n,
      errors5m: 1n,
      errorRate: 0.2,
    });
    expect(moneyToNanos(dashboard.total?.cost24h)).toBe(4n * 27_500n);
    // Buckets: 0.025 holds 0.02 and 0.001; 0.05 holds 0.04; 0.5 holds both 0.3. Rank 4.95 of
    // 5 lies in (0.25, 0.5]: 0.25 + 0.25 × (1.95 / 2).
    expect(dashboard.total?.p99LatencySeconds).toBeCloseTo(0.25 + 0.25 * (1.95 / 2), 12);
    expect(dashboard.models.map((m) => [m.model, m.figures?.requests5m])).toEqual([
      ["claude-haiku-3", 4n],
      ["none", 1n],
    ]);
    expect(dashboard.models[0]?.figures?.errorRate).toBe(0);
    expect(dashboard.models[1]?.figures?.errorRate).toBe(1);
    expect(dashboard.models[1]?.figures?.p99LatencySeconds).toBeCloseTo(0.02475, 12);
  });
});

describe("metrics replicas that know each other (METRICS_PEERS)", () => {
  let a: Replica;
  let b: Replica;
  let deadPort: number;

  beforeAll(async () => {
    const [portA, portB, portDead] = [await freePort(), await freePort(), await freePort()];
    deadPort = portDead;
    const peers = `127.0.0.1:${portA},127.0.0.1:${portB}`;
    a = await startReplica({ METRICS_PEERS: peers }, portA);
    b = await startReplica({ METRICS_PEERS: `${peers},127.0.0.1:${portDead}` }, portB);
  });
  afterAll(async () => {
    await stopReplica(a);
    await stopReplica(b);
  });

  it("scores feedback on the replica that observed the request", async () => {
    await a.client.recordObservation({
      observation: observation({ requestId: "seen-by-a", model: "claude-opus-4" }),
    });

    const answer = await b.client.submitFeedback({ requestId: "seen-by-a", score: 0.9 });
    const again = await b.client.submitFeedback({ requestId: "seen-by-a", score: 0.9 });

    expect(answer).toMatchObject({ model: "claude-opus-4", duplicate: false });
    expect(again.duplicate).toBe(true);
    expect(sample(await a.metricsText(), "ai_quality_score", { model: "claude-opus-4" })).toBe(0.9);
    expect(sample(await b.metricsText(), "ai_quality_score", { model: "claude-opus-4" }))
      .toBeUndefined();
  });

  it("sums every replica once, and says which peers did not answer", async () => {
    await a.client.recordObservation({ observation: observation({ latencySeconds: 0.07 }) });
    await b.client.recordObservation({ observation: observation({ latencySeconds: 0.07 }) });
    await b.client.recordObservation({
      observation: observation({ errorType: "overloaded", latencySeconds: 0.07 }),
    });

    const fromB = await b.client.getDashboard({});
    const onlyB = await b.client.getDashboard({ localOnly: true });
    const fromA = await a.client.getDashboard({});

    // a: the opus request of the test above and one haiku; b: two haiku.
    expect(fromB).toMatchObject({ replicas: 2, replicasUnreachable: 1 });
    expect(fromB.total).toMatchObject({ requests5m: 4n, errors5m: 1n, errorRate: 0.25 });
    expect(onlyB).toMatchObject({ replicas: 1, replicasUnreachable: 0 });
    expect(onlyB.total?.requests5m).toBe(2n);
    expect(fromA).toMatchObject({ replicas: 2, replicasUnreachable: 0 });
    expect(fromA.total?.requests5m).toBe(4n);
    expect(fromA.models.map((m) => [m.model, m.figures?.requests5m])).toEqual([
      ["claude-haiku-3", 3n],
      ["claude-opus-4", 1n],
    ]);
    expect(deadPort).toBeGreaterThan(0);
  });
});

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}
