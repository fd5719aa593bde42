import type { IncomingMessage, ServerResponse } from "node:http";
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import type { Balancer } from "./balancer.js";
import type { BreakerState } from "./resilience.js";

/** ai_breaker_state values: 0 closed, 1 half-open, 2 open (isolated counts as open). */
export const BREAKER_STATE_VALUES: Readonly<Record<BreakerState, number>> = {
  closed: 0,
  half_open: 1,
  open: 2,
  isolated: 2,
};

/** Where the gauges read their values when Prometheus scrapes. */
export interface MetricsSources {
  /** Ids of the deployments of the catalog in use. */
  deployments(): readonly string[];
  breakerState(deploymentId: string): BreakerState;
  balancer: Balancer;
}

/** What the dispatcher reports as it works. */
export interface DispatchMetrics {
  /** One try of one deployment ended: "ok" or the failure kind. */
  attempt(deploymentId: string, outcome: string, seconds: number): void;
  /** A stream failed after output began. */
  streamError(model: string, reason: string): void;
  /**
   * A budget check answered: "reserved", "no_budget", "exceeded", "unavailable", or "skipped"
   * (the ledger's directory says the tenant has no budget; the ledger was not asked).
   */
  budget(result: string): void;
  /** The budget moved a request to a cheaper tier. */
  downtier(fromTier: string, toTier: string): void;
}

/** The orchestrator's Prometheus registry. */
export interface OrchestratorMetrics extends DispatchMetrics {
  readonly registry: Registry;
  /** A catalog load: "ok" or "invalid". */
  reload(result: "ok" | "invalid"): void;
  /** Serves GET /metrics on the probe port; false for any other route. */
  route(req: IncomingMessage, res: ServerResponse): Promise<boolean>;
}

/**
 * Creates the registry served at /metrics: the process metrics of this orchestrator
 * (CPU, memory, event loop, GC) and its own series. Gauges are read at scrape time from
 * the breakers and the balancer, so they are always current.
 */
export function createOrchestratorMetrics(sources: MetricsSources): OrchestratorMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });

  new Gauge({
    name: "ai_breaker_state",
    help: "Circuit breaker state per deployment: 0 closed, 1 half-open, 2 open.",
    labelNames: ["deployment"],
    registers: [registry],
    collect() {
      this.reset();
      for (const id of sources.deployments()) {
        this.set({ deployment: id }, BREAKER_STATE_VALUES[sources.breakerState(id)]);
      }
    },
  });
  new Gauge({
    name: "orchestrator_deployment_in_flight",
    help: "Provider calls running now, per deployment.",
    labelNames: ["deployment"],
    registers: [registry],
    collect() {
      this.reset();
      for (const [id, stats] of sources.balancer.all()) {
        this.set({ deployment: id }, stats.inFlight);
      }
    },
  });
  new Gauge({
    name: "orchestrator_deployment_latency_ewma_seconds",
    help: "Moving average of the latency to first output the balancer uses, per deployment.",
    labelNames: ["deployment"],
    registers: [registry],
    collect() {
      this.reset();
      for (const [id, stats] of sources.balancer.all()) {
        this.set({ deployment: id }, stats.ewmaMs / 1000);
      }
    },
  });

  const attempts = new Counter({
    name: "orchestrator_provider_attempts_total",
    help: "Provider tries by deployment and outcome (ok, or the failure kind).",
    labelNames: ["deployment", "outcome"],
    registers: [registry],
  });
  const attemptSeconds = new Histogram({
    name: "orchestrator_provider_attempt_seconds",
    help: "Duration of each provider try to its first output (unary: the whole call).",
    labelNames: ["deployment"],
    buckets: [0.005, 0.025, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60],
    registers: [registry],
  });
  const streamErrors = new Counter({
    name: "orchestrator_stream_errors_total",
    help: "Streams that failed after output began, by model and reason.",
    labelNames: ["model", "reason"],
    registers: [registry],
  });
  const budgetChecks = new Counter({
    name: "orchestrator_budget_checks_total",
    help: "Budget checks of requests, by result (skipped: tenant without budget, not asked).",
    labelNames: ["result"],
    registers: [registry],
  });
  const downtiers = new Counter({
    name: "orchestrator_budget_downtier_total",
    help: "Requests moved to a cheaper tier because their budget was nearly used.",
    labelNames: ["from", "to"],
    registers: [registry],
  });
  const reloads = new Counter({
    name: "orchestrator_catalog_loads_total",
    help: "Catalog loads at start and on reload, by result.",
    labelNames: ["result"],
    registers: [registry],
  });

  return {
    registry,
    attempt: (deployment, outcome, seconds) => {
      attempts.inc({ deployment, outcome });
      if (outcome === "ok") attemptSeconds.observe({ deployment }, seconds);
    },
    streamError: (model, reason) => streamErrors.inc({ model, reason }),
    budget: (result) => budgetChecks.inc({ result }),
    downtier: (from, to) => downtiers.inc({ from, to }),
    reload: (result) => reloads.inc({ result }),
    async route(req, res) {
      const path = (req.url ?? "/").split("?")[0];
      if (req.method !== "GET" || path !== "/metrics") return false;
      const text = await registry.metrics();
      res.writeHead(200, { "content-type": registry.contentType });
      res.end(text);
      return true;
    },
  };
}

/** Dispatch metrics that record nothing (tests that do not look at metrics). */
export const noDispatchMetrics: DispatchMetrics = {
  attempt: () => undefined,
  streamError: () => undefined,
  budget: () => undefined,
  downtier: () => undefined,
};
