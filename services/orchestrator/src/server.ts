import { onShutdownSignal, startProbeServer } from "@mesh/lifecycle";
import type { Logger } from "@mesh/logging";
import { startGrpcServer } from "@mesh/rpc";
import type { OrchestratorConfig } from "./config.js";
import { Resilience, systemClock, type Clock } from "./resilience.js";
import { orchestratorService, type OrchestratorState } from "./service.js";
import { buildState, logCatalog, unservableModels } from "./state.js";

/** A running orchestrator. */
export interface OrchestratorHandle {
  grpcPort: number;
  httpPort: number;
  /** The catalog and dispatcher in use right now. */
  state(): OrchestratorState;
  /** Loads the catalog again; on failure keeps the current one and throws. */
  reload(): OrchestratorState;
  resilience: Resilience;
  stop(): Promise<void>;
}

/** Things tests replace; production uses the defaults. */
export interface OrchestratorOverrides {
  clock?: Clock;
  env?: NodeJS.ProcessEnv;
  /** Install SIGTERM/SIGINT/SIGHUP handlers (default true). */
  handleSignals?: boolean;
}

/**
 * Starts the orchestrator: loads and validates the catalog (throwing every problem at
 * once), builds each deployment's client once, then serves OrchestratorService over gRPC
 * and /health and /ready over HTTP. SIGHUP reloads the catalog; requests in flight keep
 * the state they started with.
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

  let current = buildState(config, resilience, logger, env);
  logCatalog(current.catalog, logger);
  const unservable = unservableModels(current.catalog);
  if (unservable.length > 0) {
    logger.warn({ models: unservable }, "these models have no enabled deployment");
  }

  const reload = () => {
    const next = buildState(config, resilience, logger, env);
    current = next;
    logCatalog(next.catalog, logger);
    return next;
  };

  const grpc = await startGrpcServer({
    host: config.GRPC_HOST,
    port: config.ORCHESTRATOR_GRPC_PORT,
    logger,
    tracerName: "orchestrator",
    services: [
      orchestratorService({
        state: () => current,
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
        if (current.catalog.models.every((m) => m.active.length === 0)) {
          throw new Error("no model in the catalog has an enabled deployment");
        }
      },
    },
  });

  const stop = async () => {
    http.markNotReady();
    await grpc.shutdown(Math.max(0, config.SHUTDOWN_DEADLINE_MS - 1_000));
    await http.close();
    await flushTelemetry();
  };

  if (overrides.handleSignals ?? true) {
    onShutdownSignal(logger, config.SHUTDOWN_DEADLINE_MS, [{ name: "stop", run: stop }]);
    process.on("SIGHUP", () => {
      try {
        reload();
      } catch (err) {
        logger.error({ err }, "catalog reload failed; keeping the current catalog");
      }
    });
  }

  logger.info({ grpcPort: grpc.port, httpPort: http.port }, "orchestrator listening");
  return {
    grpcPort: grpc.port,
    httpPort: http.port,
    state: () => current,
    reload,
    resilience,
    stop,
  };
}
