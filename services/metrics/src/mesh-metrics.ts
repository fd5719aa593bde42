import { GuardrailAction } from "@mesh/contracts/common/v1/chat_pb";
import type { Observation } from "@mesh/contracts/metrics/v1/metrics_pb";
import { moneyToNanos } from "@mesh/money";
import { Counter, Histogram, Registry, collectDefaultMetrics } from "prom-client";

/** Error types a label may take; anything else is counted as "other". */
export const ERROR_TYPES = new Set([
  "invalid_request",
  "authentication",
  "permission",
  "not_found",
  "rate_limited",
  "budget_exceeded",
  "guardrail_blocked",
  "provider_error",
  "provider_timeout",
  "overloaded",
  "unavailable",
  "cancelled",
  "internal",
]);

const ENDPOINTS = new Set(["anthropic-messages", "openai-chat", "grpc", "connect"]);
const CHECKS = new Set(["pii", "injection", "content", "groundedness", "schema"]);

// Model latency runs from tens of milliseconds (cache hits) to minutes (long generations).
const LATENCY_BUCKETS = [0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 15, 30, 60, 120];
const TTFT_BUCKETS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8];

/** The mesh's Prometheus metrics and how one observation moves them. */
export interface MeshMetrics {
  registry: Registry;
  record(observation: Observation): void;
}

export function createMeshMetrics(): MeshMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });

  const requests = new Counter({
    name: "ai_requests_total",
    help: "Requests finished, by catalog model, endpoint and outcome.",
    labelNames: ["model", "endpoint", "status"],
    registers: [registry],
  });
  const latency = new Histogram({
    name: "ai_latency_seconds",
    help: "Time from request received to last byte sent, by model and endpoint.",
    labelNames: ["model", "endpoint"],
    buckets: LATENCY_BUCKETS,
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

  function record(o: Observation): void {
    const model = o.model || "none";
    const endpoint = ENDPOINTS.has(o.endpoint) ? o.endpoint : "other";
    const errorType = o.errorType ? (ERROR_TYPES.has(o.errorType) ? o.errorType : "other") : "";

    requests.inc({ model, endpoint, status: errorType ? "error" : "ok" });
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
    cost.inc({ model }, Number(moneyToNanos(o.cost)) / 1e9);

    if (o.cacheHit) cacheHits.inc({ model });
    else if (o.cacheable) cacheMisses.inc({ model });

    for (const g of o.guardrails) {
      const check = CHECKS.has(g.check) ? g.check : "other";
      verdicts.inc({ check, action: actionLabel(g.action) });
    }
  }

  return { registry, record };
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
