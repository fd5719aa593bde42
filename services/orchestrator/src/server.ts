import { readFileSync, watch, type FSWatcher } from "node:fs";
import { basename, dirname } from "node:path";
import { onShutdownSignal, startProbeServer } from "@mesh/lifecycle";
import type { Logger } from "@mesh/logging";
import { startGrpcServer } from "@mesh/rpc";
import { Balancer } from "./balancer.js";
import { createLedgerBudget, noBudget, type BudgetGuard } from "./budget.js";
import { CatalogError } from "./catalog.js";
import type { OrchestratorConfig } from "./config.js";
import { createOrchestratorMetrics, type OrchestratorMetrics } from "./metrics.js";
import { Resilience, systemClock, type Clock } from "./resilience.js";
import { orchestratorService, type OrchestratorState } from "./service.js";
import { buildState, logCatalog, unservableModels, type SharedParts } from "./state.js";

/** A running orchestrator. */
export interface OrchestratorHandle {
  grpcPort: number;
  httpPort: number;
  /** The catalog and dispatcher in use right now. */
  state(): OrchestratorState;
  /** Loads the catalog again; on failure keeps the current one, logs every problem, throws. */
  reload(): OrchestratorState;
  resilience: Resilience;
  balancer: Balancer;
  metrics: OrchestratorMetrics;
  stop(): Promise<void>;
}

/** Things tests replace; production uses the defaults. */
export interface OrchestratorOverrides {
  clock?: Clock;
  env?: NodeJS.ProcessEnv;
  /** Install SIGTERM/SIGINT/SIGHUP handlers (default true). */
  handleSignals?: boolean;
  /** Budget checks instead of the ledger client LEDGER_ADDR names. */
  budget?: BudgetGuard;
  /** Random numbers for load balancing (default Math.random). */
  random?: () => number;
}

/**
 * Starts the orchestrator: loads and validates the catalog (throwing every problem at
 * once), builds each deployment's client once, then serves OrchestratorService over gRPC
 * and /health, /ready and /metrics over HTTP. The catalog is reloaded on SIGHUP and when
 * its file changes; requests in flight keep the state they started with, and an invalid
 * new catalog leaves the current one in place.
 */
export async function startOrchestratorService(
  config: OrchestratorConfig,
  logger: Logger,
  flushTelemetry: () => Promise<void>,
  overrides: OrchestratorOverrides = {},
): Promise<OrchestratorHandle> {
  const resilience = new Resilience(
    {
      maxRetries: config.ORCHESTRATOR_MAX_RETRIES,
      initialDelayMs: config.ORCHESTRATOR_RETRY_INITIAL_DELAY_MS,
      maxDelayMs: config.ORCHESTRATOR_RETRY_MAX_DELAY_MS,
      maxRetryAfterMs: config.ORCHESTRATOR_MAX_RETRY_AFTER_MS,
      breakerFailures: config.ORCHESTRATOR_BREAKER_FAILURES,
      breakerCooldownMs: config.ORCHESTRATOR_BREAKER_COOLDOWN_MS,
    },
    overrides.clock ?? systemClock,
  );
  const env = overrides.env ?? process.env;
  const balancer = new Balancer(overrides.random ? { random: overrides.random } : {});
  const budget = overrides.budget ?? (config.ORCHESTRATOR_BUDGETS
    ? createLedgerBudget({
      address: config.LEDGER_ADDR,
      timeoutMs: config.ORCHESTRATOR_LEDGER_TIMEOUT_MS,
      failureMode: config.ORCHESTRATOR_BUDGET_FAILURE_MODE,
      logger,
    })
    : noBudget);

  let current: OrchestratorState | undefined;
  const metrics = createOrchestratorMetrics({
    deployments: () =>
      current?.catalog.models.flatMap((m) => m.deployments.filter((d) => d.enabled))
        .map((d) => d.id) ?? [],
    breakerState: (id) => resilience.breakerState(id),
    balancer,
  });
  const shared: SharedParts = { resilience, balancer, budget, metrics };

  try {
    current = buildState(config, shared, logger, env);
  } catch (err) {
    budget.close();
    throw err;
  }
  metrics.reload("ok");
  logCatalog(current.catalog, logger);
  const unservable = unservableModels(current.catalog);
  if (unservable.length > 0) {
    logger.warn({ models: unservable }, "these models have no enabled deployment");
  }

  const reload = (): OrchestratorState => {
    try {
      const next = buildState(config, shared, logger, env);
      current = next;
      metrics.reload("ok");
      logCatalog(next.catalog, logger);
      return next;
    } catch (err) {
      metrics.reload("invalid");
      if (err instanceof CatalogError) {
        logger.error(
          { catalog: config.ORCHESTRATOR_CATALOG, problems: err.problems },
          `catalog reload failed; keeping the current catalog. ${err.message}`,
        );
      } else {
        logger.error({ err }, "catalog reload failed; keeping the current catalog");
      }
      throw err;
    }
  };
  const state = () => current as OrchestratorState;

  const grpc = await startGrpcServer({
    host: config.GRPC_HOST,
    port: config.ORCHESTRATOR_GRPC_PORT,
    logger,
    tracerName: "orchestrator",
    services: [
      orchestratorService({
        state,
        logger,
        routing: {
          defaultMaxTokens: config.ORCHESTRATOR_DEFAULT_MAX_TOKENS,
          fallbackExplicit: config.ORCHESTRATOR_FALLBACK_EXPLICIT_MODEL,
        },
      }),
    ],
  });

  const http = await startProbeServer({
    host: config.HTTP_HOST,
    port: config.ORCHESTRATOR_HTTP_PORT,
    checks: {
      catalog: async () => {
        if (state().catalog.models.every((m) => m.active.length === 0)) {
          throw new Error("no model in the catalog has an enabled deployment");
        }
      },
    },
    routes: (req, res) => metrics.route(req, res),
  });

  const stopWatching = config.ORCHESTRATOR_CATALOG_WATCH
    ? watchCatalog(config.ORCHESTRATOR_CATALOG, config.ORCHESTRATOR_CATALOG_WATCH_DEBOUNCE_MS,
      logger, () => {
        try {
          reload();
          logger.info({ catalog: config.ORCHESTRATOR_CATALOG }, "catalog file changed; reloaded");
        } catch {
          // reload() has logged every problem; the current catalog stays.
        }
      })
    : () => undefined;

  const stop = async () => {
    stopWatching();
    http.markNotReady();
    await grpc.shutdown(Math.max(0, config.SHUTDOWN_DEADLINE_MS - 1_000));
    await http.close();
    budget.close();
    await flushTelemetry();
  };

  if (overrides.handleSignals ?? true) {
    onShutdownSignal(logger, config.SHUTDOWN_DEADLINE_MS, [{ name: "stop", run: stop }]);
    process.on("SIGHUP", () => {
      try {
        reload();
      } catch {
        // reload() has logged every problem; the current catalog stays.
      }
    });
  }

  logger.info({ grpcPort: grpc.port, httpPort: http.port }, "orchestrator listening");
  return {
    grpcPort: grpc.port,
    httpPort: http.port,
    state,
    reload,
    resilience,
    balancer,
    metrics,
    stop,
  };
}

/**
 * Calls onChange (debounced) when the catalog file's content changes. The directory is
 * watched rather than the file: editors replace a file by renaming a new one over it, and
 * a Kubernetes ConfigMap volume swaps its `..data` symlink, and a watch on the old file
 * sees neither. Events whose content is unchanged are ignored. Returns a stop function.
 */
export function watchCatalog(
  path: string,
  debounceMs: number,
  logger: Logger,
  onChange: () => void,
): () => void {
  const name = basename(path);
  let last = readOrUndefined(path);
  let timer: NodeJS.Timeout | undefined;

  const check = () => {
    const text = readOrUndefined(path);
    if (text === undefined || text === last) return;
    last = text;
    onChange();
  };

  let watcher: FSWatcher;
  try {
    watcher = watch(dirname(path), (_event, filename) => {
      if (filename && filename !== name && !filename.startsWith("..")) return;
      clearTimeout(timer);
      timer = setTimeout(check, debounceMs);
    });
  } catch (err) {
    logger.warn({ err, catalog: path }, "cannot watch the catalog file; reload with SIGHUP");
    return () => undefined;
  }
  watcher.on("error", (err) => {
    logger.warn({ err, catalog: path }, "catalog watch failed; reload with SIGHUP");
  });

  return () => {
    clearTimeout(timer);
    watcher.close();
  };
}

function readOrUndefined(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return undefined;
  }
}
