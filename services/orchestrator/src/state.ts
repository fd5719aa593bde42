import type { Logger } from "@mesh/logging";
import type { Balancer } from "./balancer.js";
import type { BudgetGuard } from "./budget.js";
import { loadCatalogFile, type Catalog } from "./catalog.js";
import type { OrchestratorConfig } from "./config.js";
import { Dispatcher } from "./dispatch.js";
import type { DispatchMetrics } from "./metrics.js";
import { createProviders } from "./providers/registry.js";
import type { Resilience } from "./resilience.js";
import type { OrchestratorState } from "./service.js";

/** What outlives a catalog reload: breakers, balancer stats, the ledger client, metrics. */
export interface SharedParts {
  resilience: Resilience;
  balancer: Balancer;
  budget: BudgetGuard;
  metrics: DispatchMetrics;
}

/**
 * Loads the catalog named by the config and builds its providers and dispatcher. Throws a
 * CatalogError listing every problem when the catalog is invalid.
 */
export function buildState(
  config: OrchestratorConfig,
  shared: SharedParts,
  logger: Logger,
  env: NodeJS.ProcessEnv = process.env,
): OrchestratorState {
  const catalog = loadCatalogFile(config.ORCHESTRATOR_CATALOG, {
    env,
    forceSimulator: config.ORCHESTRATOR_FORCE_SIMULATOR,
  });
  const providers = createProviders(catalog, {
    timeoutMs: config.ORCHESTRATOR_PROVIDER_TIMEOUT_MS,
    connectTimeoutMs: config.ORCHESTRATOR_CONNECT_TIMEOUT_MS,
    logger,
    simulator: {
      latencyMs: config.SIMULATOR_LATENCY_MS,
      failModels: config.SIMULATOR_FAIL_MODELS,
      failureRate: config.SIMULATOR_FAILURE_RATE,
      failureStatus: config.SIMULATOR_FAILURE_STATUS,
      seed: config.SIMULATOR_SEED,
    },
  });
  const dispatcher = new Dispatcher(providers, shared.resilience, logger, {
    balancer: shared.balancer,
    budget: shared.budget,
    metrics: shared.metrics,
    timeouts: {
      firstTokenMs: config.ORCHESTRATOR_FIRST_TOKEN_TIMEOUT_MS,
      totalMs: config.ORCHESTRATOR_PROVIDER_TIMEOUT_MS,
    },
    downtierAt: config.ORCHESTRATOR_BUDGET_DOWNTIER_AT,
    captureContent: config.ORCHESTRATOR_CAPTURE_CONTENT,
  });
  return Object.freeze({ catalog, dispatcher });
}

/**
 * Logs what the catalog resolved to: each model's serving deployments, and loudly, models
 * that answer from the simulator because their real deployments are disabled.
 */
export function logCatalog(catalog: Catalog, logger: Logger): void {
  const routes = Object.fromEntries(
    catalog.models.map((m) => [m.name, m.active.map((d) => `${d.name} (${d.provider})`)]),
  );
  logger.info({ catalog: catalog.source, routes }, "model catalog loaded");

  const simulated = catalog.models.filter(
    (m) => m.active.length > 0 && m.active.every((d) => d.provider === "simulator"),
  );
  if (simulated.length === 0) return;

  const reasons = new Set(
    simulated.flatMap((m) => m.deployments.map((d) => d.disabledReason).filter(Boolean)),
  );
  const names = simulated.map((m) => m.name);
  const why = [...reasons].join("; ") || "no real deployment";
  logger.warn(
    { models: names, reasons: [...reasons] },
    `${why}: ${names.join(", ")} route to the SIMULATOR; answers are simulated, not from a model`,
  );
}

/** Models that no enabled deployment can serve, for the start-up log. */
export function unservableModels(catalog: Catalog): string[] {
  return catalog.models.filter((m) => m.active.length === 0).map((m) => m.name);
}
