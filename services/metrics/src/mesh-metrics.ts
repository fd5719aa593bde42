import { GuardrailAction } from "@mesh/contracts/common/v1/chat_pb";
import type { Observation } from "@mesh/contracts/metrics/v1/metrics_pb";
import { moneyToNanos } from "@mesh/money";
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import { SlidingSums } from "./sliding-sums.js";

/**
 * Error types a label may take, each with the `status` its request is counted under in
 * ai_requests_total: "refused" when the mesh turned the caller away as it should (bad input, a
 * limit, a budget, a guardrail), "cancelled" when the caller left, "error" when the mesh or a
 * provider failed. Only "error" is a fault to page someone about. Any other type is "other",
 * counted as an error.
 */
export const ERROR_TYPES = new Map<string, "refused" | "cancelled" | "error">([
  ["invalid_request", "refused"],
  ["authentication", "refused"],
  ["permission", "refused"],
  ["not_found", "refused"],
  ["rate_limited", "refused"],
  ["budget_exceeded", "refused"],
  ["guardrail_blocked", "refused"],
  ["cancelled", "cancelled"],
  ["provider_error", "error"],
  ["provider_timeout", "error"],
  ["overloaded", "error"],
  ["unavailable", "error"],
  ["internal", "error"],
]);

const ENDPOINTS = new Set(["anthropic-messages", "openai-chat", "grpc", "connect"]);
const CHECKS = new Set(["pii", "injection", "content", "groundedness", "schema"]);

/** Upper bounds of ai_latency_seconds. Model latency runs from tens of milliseconds (cache
 * hits) to minutes (long generations). */
export const LATENCY_BUCKETS: readonly number[] = [
  0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 15, 30, 60, 120,
];
const TTFT_BUCKETS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8];
const QUALITY_BUCKETS = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1];

/** ai_quality_score is the mean of the scores received over this window. */
export const QUALITY_WINDOW_MS = 60 * 60_000;

// A label value must look like a name, as catalog model names do.
const LABEL_VALUE = /^[A-Za-z0-9][A-Za-z0-9._:@/-]{0,99}$/;

/** Limits that keep every label's set of values bounded. */
export interface MeshMetricsOptions {
  /** Distinct model labels before further ones count as "other". */
  maxModels?: number;
  now?: () => number;
}

/** The labels an observation was counted under, for the windows and the feedback lookup. */
export interface RecordedLabels {
  model: string;
  failed: boolean;
  costNanos: number;
}

/** The mesh's Prometheus metrics and how observations and feedback move them. */
export interface MeshMetrics {
  registry: Registry;
  record(observation: Observation): RecordedLabels;
  /** Counts one quality score (0..1) for a model label; returns the label used. */
  recordFeedback(model: string, score: number): string;
  /** The label a model name is counted under ("none" for no model, "other" past the cap). */
  modelLabel(model: string): string;
}

export function createMeshMetrics(options: MeshMetricsOptions = {}): MeshMetrics {
  const now = options.now ?? Date.now;
  const models = boundedLabels(options.maxModels ?? 100);
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });

  const requests = new Counter({
    name: "ai_requests_total",
    help: "Requests finished, by catalog model, endpoint and status: ok, refused (the caller " +
      "was turned away), cancelled (the caller left) or error (the mesh or a provider failed).",
    labelNames: ["model", "endpoint", "status"],
    registers: [registry],
  });
  const latency = new Histogram({
    name: "ai_latency_seconds",
    help: "Time from request received to last byte sent, by model and endpoint.",
    labelNames: ["model", "endpoint"],
    buckets: [...LATENCY_BUCKETS],
    registers: [registry],
  });
  const ttft = new Histogram({
    name: "ai_time_to_first_token_seconds",
    help: "Time from request received to the first streamed token.",
    labelNames: ["model", "endpoint"],
    buckets: TTFT_BUCKETS,
    registers: [registry],
  });
  const tokens = new Counter({
    name: "ai_tokens_total",
    help: "Tokens billed, by direction (input, output, cache_read, cache_write) and model.",
    labelNames: ["direction", "model"],
    registers: [registry],
  });
  const cost = new Counter({
    name: "ai_cost_total",
    help: "Cost in US dollars, by model.",
    labelNames: ["model"],
    registers: [registry],
  });
  const errors = new Counter({
    name: "ai_errors_total",
    help: "Failed requests, by error type and model.",
    labelNames: ["type", "model"],
    registers: [registry],
  });
  const cacheHits = new Counter({
    name: "ai_cache_hits_total",
    help: "Responses served from the response cache.",
    labelNames: ["model"],
    registers: [registry],
  });
  const cacheMisses = new Counter({
    name: "ai_cache_misses_total",
    help: "Cacheable requests that missed the response cache.",
    labelNames: ["model"],
    registers: [registry],
  });
  const verdicts = new Counter({
    name: "ai_guardrail_verdicts_total",
    help: "Guardrail verdicts, by check and action.",
    labelNames: ["check", "action"],
    registers: [registry],
  });
  const feedback = new Histogram({
    name: "ai_quality_feedback_score",
    help: "Quality scores (0 worst, 1 best) received as feedback, by the model that answered.",
    labelNames: ["model"],
    buckets: QUALITY_BUCKETS,
    registers: [registry],
  });

  // Per model: feedback count and score sum by the minute, for the hour's mean.
  const quality = new Map<string, SlidingSums>();
  new Gauge({
    name: "ai_quality_score",
    help: "Mean quality score (0..1) of the feedback this replica received over the last hour.",
    labelNames: ["model"],
    registers: [registry],
    collect() {
      // Recomputed at every scrape; a model without feedback in the hour has no series, since
      // 0 would read as the worst quality.
      this.reset();
      for (const [model, sums] of quality) {
        const [count = 0, sum = 0] = sums.sum(now(), QUALITY_WINDOW_MS);
        if (count > 0) this.set({ model }, sum / count);
        else if (sums.idleFor(now(), QUALITY_WINDOW_MS)) quality.delete(model);
      }
    },
  });

  function modelLabel(model: string): string {
    return model ? models.label(model) : "none";
  }

  function record(o: Observation): RecordedLabels {
    const model = modelLabel(o.model);
    const endpoint = ENDPOINTS.has(o.endpoint) ? o.endpoint : "other";
    const errorType = o.errorType ? (ERROR_TYPES.has(o.errorType) ? o.errorType : "other") : "";

    const status = errorType ? (ERROR_TYPES.get(errorType) ?? "error") : "ok";
    requests.inc({ model, endpoint, status });
    latency.observe({ model, endpoint }, o.latencySeconds);
    if (o.streamed && o.timeToFirstTokenSeconds > 0) {
      ttft.observe({ model, endpoint }, o.timeToFirstTokenSeconds);
    }
    if (errorType) errors.inc({ type: errorType, model });

    const usage = o.usage;
    if (usage) {
      tokens.inc({ direction: "input", model }, usage.inputTokens);
      tokens.inc({ direction: "output", model }, usage.outputTokens);
      tokens.inc({ direction: "cache_read", model }, usage.cacheReadTokens);
      tokens.inc({ direction: "cache_write", model }, usage.cacheWriteTokens);
    }
    const costNanos = Number(moneyToNanos(o.cost));
    cost.inc({ model }, costNanos / 1e9);

    if (o.cacheHit) cacheHits.inc({ model });
    else if (o.cacheable) cacheMisses.inc({ model });

    for (const g of o.guardrails) {
      const check = CHECKS.has(g.check) ? g.check : "other";
      verdicts.inc({ check, action: actionLabel(g.action) });
    }

    return { model, failed: errorType !== "", costNanos };
  }

  function recordFeedback(model: string, score: number): string {
    const label = modelLabel(model);
    feedback.observe({ model: label }, score);

    let sums = quality.get(label);
    if (!sums) {
      sums = new SlidingSums(60_000, 60, 2);
      quality.set(label, sums);
    }
    sums.add(now(), 0, 1);
    sums.add(now(), 1, score);
    return label;
  }

  return { registry, record, recordFeedback, modelLabel };
}

/** A set of label values that stops growing at `max`; later values map to "other". */
function boundedLabels(max: number) {
  const seen = new Set<string>();
  return {
    label(value: string): string {
      if (seen.has(value)) return value;
      if (seen.size >= max || !LABEL_VALUE.test(value)) return "other";
      seen.add(value);
      return value;
    },
  };
}

function actionLabel(action: GuardrailAction): string {
  switch (action) {
    case GuardrailAction.ALLOW:
      return "allow";
    case GuardrailAction.REDACT:
      return "redact";
    case GuardrailAction.BLOCK:
      return "block";
    case GuardrailAction.FLAG:
      return "flag";
    default:
      return "unspecified";
  }
}
