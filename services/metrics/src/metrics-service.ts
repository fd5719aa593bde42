import { randomUUID } from "node:crypto";
import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import {
  GetDashboardResponseSchema,
  GetWindowsResponseSchema,
  MetricsService,
  ModelDashboardSchema,
  SubmitFeedbackResponseSchema,
  type GetDashboardResponse,
  type GetWindowsResponse,
  type ModelWindow,
  type Observation,
  type SubmitFeedbackRequest,
  type SubmitFeedbackResponse,
} from "@mesh/contracts/metrics/v1/metrics_pb";
import type { Logger } from "@mesh/logging";
import { GrpcStatus, registerService, RpcError, type ServiceRegistration } from "@mesh/rpc";
import { startConsumerSpan } from "@mesh/telemetry";
import { trace } from "@opentelemetry/api";
import { createDashboardWindows, figuresOf, mergeWindows } from "./dashboard.js";
import { LATENCY_BUCKETS, type MeshMetrics } from "./mesh-metrics.js";
import type { Peers } from "./peers.js";
import { RecentRequests } from "./recent-requests.js";

/** Longest feedback comment accepted, in UTF-16 code units. */
export const MAX_COMMENT_LENGTH = 4_096;

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;
const PEER_TIMEOUT_MS = 2_000;
const tracer = trace.getTracer("metrics");

export interface MetricsServiceDeps {
  metrics: MeshMetrics;
  logger: Logger;
  peers: Peers;
  /** How many observed request ids are kept for feedback lookups. */
  recentCapacity: number;
  now?: () => number;
}

/** The handlers and the state behind them, exposed for tests. */
export interface MetricsServiceImpl {
  registration: ServiceRegistration;
  recent: RecentRequests;
  instanceId: string;
}

/**
 * MetricsService: observations (one or a batch per call) move the Prometheus metrics, the
 * dashboard windows and the request → model memory; feedback and dashboard queries ask the
 * peer replicas when this one cannot answer alone.
 */
export function createMetricsService(deps: MetricsServiceDeps): MetricsServiceImpl {
  const now = deps.now ?? Date.now;
  const { metrics, logger, peers } = deps;
  const recent = new RecentRequests(deps.recentCapacity);
  const windows = createDashboardWindows(LATENCY_BUCKETS);
  const instanceId = randomUUID();

  function localWindows(): GetWindowsResponse {
    return create(GetWindowsResponseSchema, {
      instanceId,
      latencyBucketBounds: [...LATENCY_BUCKETS],
      models: windows.snapshot(now()),
    });
  }

  async function submitFeedback(req: SubmitFeedbackRequest): Promise<SubmitFeedbackResponse> {
    validateFeedback(req);

    let model = req.model || recent.get(req.requestId)?.model;
    if (!model && !req.fromPeer) {
      // Round-robin spread the observations over the replicas; one of them may know it.
      const answer = await askPeersForFeedback(req);
      if (answer) return answer;
    }
    if (!model) {
      throw new RpcError(
        GrpcStatus.NOT_FOUND,
        `request ${req.requestId} is not among the last ${recent.capacity} requests observed; ` +
          "send feedback sooner or pass the request's model",
        "unknown_request",
      );
    }

    model = metrics.modelLabel(model);
    const counted = recent.markScored(req.requestId, model);
    if (counted) metrics.recordFeedback(model, req.score);
    // The gateway's SubmitFeedback stores the score and comment on the ledger row first and
    // only then counts it here, so the comment is not needed (nor ever logged) in this service.
    logger.debug({ requestId: req.requestId, model, duplicate: !counted }, "feedback counted");
    return create(SubmitFeedbackResponseSchema, { model, duplicate: !counted });
  }

  async function askPeersForFeedback(
    req: SubmitFeedbackRequest,
  ): Promise<SubmitFeedbackResponse | undefined> {
    const clients = await peers.list();
    const answers = await Promise.allSettled(
      clients.map((c) =>
        c.submitFeedback(
          // The comment stays here: only the replica the caller reached forwards it.
          { requestId: req.requestId, score: req.score, fromPeer: true },
          { timeoutMs: PEER_TIMEOUT_MS },
        ),
      ),
    );
    for (const a of answers) if (a.status === "fulfilled") return a.value;
    return undefined;
  }

  async function getDashboard(localOnly: boolean): Promise<GetDashboardResponse> {
    const asOf = now();
    const own = localWindows();
    const snapshots = [own];
    let unreachable = 0;

    if (!localOnly) {
      const clients = await peers.list();
      const answers = await Promise.allSettled(
        clients.map((c) => c.getWindows({}, { timeoutMs: PEER_TIMEOUT_MS })),
      );
      const seen = new Set([own.instanceId]);
      for (const a of answers) {
        if (a.status === "rejected") {
          unreachable++;
          logger.warn({ err: String(a.reason) }, "a metrics replica did not answer GetWindows");
        } else if (!seen.has(a.value.instanceId)) {
          seen.add(a.value.instanceId);
          snapshots.push(a.value);
        }
      }
    }

    return dashboardFrom(snapshots, asOf, unreachable);
  }

  /** One finished request into the metrics, the dashboard windows and the feedback memory. */
  function observe(o: Observation): void {
    const labels = metrics.record(o);
    windows.record(now(), {
      model: labels.model,
      latencySeconds: o.latencySeconds,
      failed: labels.failed,
      costNanos: labels.costNanos,
    });
    if (o.requestId && labels.model !== "none") recent.remember(o.requestId, labels.model);
  }

  const registration = registerService(MetricsService, {
    async recordObservation(req) {
      if (!req.observation) {
        throw new RpcError(GrpcStatus.INVALID_ARGUMENT, "observation is required");
      }

      observe(req.observation);
      return {};
    },

    async recordObservations(req) {
      for (const o of req.observations) {
        // Each observation is recorded in a span of its request's trace, not only the batch's.
        const span = startConsumerSpan(tracer, "record metrics observation", o.traceparent, {
          "mesh.request_id": o.requestId,
        });
        observe(o);
        span.end();
      }
      return { recorded: req.observations.length };
    },

    submitFeedback,

    async getDashboard(req) {
      return getDashboard(req.localOnly);
    },

    async getWindows() {
      return localWindows();
    },
  });

  return { registration, recent, instanceId };
}

function validateFeedback(req: SubmitFeedbackRequest): void {
  if (!REQUEST_ID.test(req.requestId)) {
    throw new RpcError(
      GrpcStatus.INVALID_ARGUMENT,
      "request_id must be the x-request-id the gateway answered with (1 to 128 of A-Z a-z " +
        "0-9 . _ : -)",
      "invalid_request",
    );
  }
  if (!(req.score >= 0 && req.score <= 1)) {
    throw new RpcError(
      GrpcStatus.INVALID_ARGUMENT,
      `score must be between 0 and 1, got ${req.score}`,
      "invalid_request",
    );
  }
  if (req.comment.length > MAX_COMMENT_LENGTH) {
    throw new RpcError(
      GrpcStatus.INVALID_ARGUMENT,
      `comment is ${req.comment.length} characters; shorten it to ${MAX_COMMENT_LENGTH}`,
      "invalid_request",
    );
  }
}

/** Sums the replicas' windows per model and mesh-wide, and turns them into figures. */
function dashboardFrom(
  snapshots: GetWindowsResponse[],
  asOfMs: number,
  unreachable: number,
): GetDashboardResponse {
  const bounds = snapshots[0]?.latencyBucketBounds ?? [...LATENCY_BUCKETS];
  const byModel = new Map<string, ModelWindow[]>();
  for (const s of snapshots) {
    if (s.latencyBucketBounds.join() !== bounds.join()) {
      throw new RpcError(
        GrpcStatus.FAILED_PRECONDITION,
        "metrics replicas use different latency buckets; finish the rollout and ask again",
      );
    }
    for (const w of s.models) byModel.set(w.model, [...(byModel.get(w.model) ?? []), w]);
  }

  const perModel = [...byModel.keys()].sort().map((model) => {
    const merged = mergeWindows(byModel.get(model) ?? []);
    return { merged, entry: { model, figures: figuresOf(merged, bounds) } };
  });
  const all = mergeWindows(perModel.map((m) => m.merged));

  return create(GetDashboardResponseSchema, {
    total: figuresOf(all, bounds),
    models: perModel.map((m) => create(ModelDashboardSchema, m.entry)),
    asOf: timestampFromMs(asOfMs),
    replicas: snapshots.length,
    replicasUnreachable: unreachable,
  });
}
