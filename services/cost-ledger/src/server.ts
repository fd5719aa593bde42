import { CostLedgerService } from "@mesh/contracts/ledger/v1/ledger_pb";
import { onShutdownSignal, startProbeServer } from "@mesh/lifecycle";
import type { Logger } from "@mesh/logging";
import { registerService, startGrpcServer } from "@mesh/rpc";
import type pg from "pg";
import { createAlertDispatcher, type AlertDispatcher } from "./alerts.js";
import { createBudgetDirectory, type BudgetDirectory } from "./budget-directory.js";
import { createBudgetStore, type BudgetStore } from "./budget-store.js";
import type { LedgerConfig } from "./config.js";
import { describeDatabase, openDatabase, type LedgerDatabase } from "./database.js";
import { createLedgerHandlers } from "./ledger-service.js";
import { createLedgerMetrics, type LedgerMetrics } from "./metrics.js";
import { applyMigrations } from "./migrations.js";
import { createUsageWriter, type UsageWriter } from "./usage-writer.js";

/** A running cost ledger. */
export interface CostLedgerHandle {
  grpcPort: number;
  httpPort: number;
  /** The ledger's pool (for tests and tools; the service owns and closes it). */
  pool: pg.Pool;
  /** Schema holding usage_records. */
  schema: string;
  writer: UsageWriter;
  budgets: BudgetStore;
  /** The tenants with a budget, as streamed to WatchBudgetedTenants. */
  directory: BudgetDirectory;
  alerts: AlertDispatcher;
  metrics: LedgerMetrics;
  /** Drains gRPC, closes the pool, stops embedded Postgres, flushes telemetry. */
  stop(): Promise<void>;
}

/** Options beyond the environment. */
export interface StartOptions {
  /** Install SIGTERM/SIGINT handlers (default true); tests starting many services turn it off. */
  handleSignals?: boolean;
}

/**
 * Starts the cost ledger: opens Postgres (DATABASE_URL, or embedded PGlite on
 * LEDGER_DATA_DIR), applies migrations, then serves CostLedgerService over gRPC and
 * /health, /ready (`SELECT 1`) and /metrics over HTTP. Expired reservations are swept and
 * pending budget alerts re-polled in the background. Load after telemetry starts so pg is
 * instrumented.
 */
export async function startCostLedgerService(
  config: LedgerConfig,
  logger: Logger,
  flushTelemetry: () => Promise<void>,
  options: StartOptions = {},
): Promise<CostLedgerHandle> {
  const db = await openDatabase({
    databaseUrl: config.DATABASE_URL,
    schema: config.DATABASE_SCHEMA,
    dataDir: config.LEDGER_DATA_DIR,
    poolMax: config.LEDGER_POOL_MAX,
    logger,
  });

  try {
    await applyMigrations({ pool: db.pool, schema: db.schema, logger });
  } catch (err) {
    await closeDatabase(db);
    throw err;
  }

  const directory = createBudgetDirectory({
    pool: db.pool,
    schema: db.schema,
    logger,
    listenUrl: db.embedded ? undefined : config.DATABASE_URL,
    reloadMs: config.LEDGER_BUDGET_RELOAD_MS,
  });
  try {
    await directory.start();
  } catch (err) {
    await directory.stop();
    await closeDatabase(db);
    throw err;
  }

  const metrics = createLedgerMetrics(
    {
      budgets: async (limit) => {
        const snapshots = await budgets.listBudgets("", undefined, limit);
        return snapshots.map((s) => ({
          tenant: s.budget.tenant,
          apiKeyId: s.budget.apiKeyId,
          period: s.budget.period,
          remainingNanos: s.remainingNanos,
          reservedNanos: s.totals.reservedNanos,
          usedFraction: s.usedFraction,
        }));
      },
      reservationsInFlight: async () => {
        const result = await db.pool.query<{ n: number }>(
          "SELECT count(*)::int AS n FROM budget_reservations WHERE state = 'held' " +
            "AND expires_at > now()",
        );
        return result.rows[0]?.n ?? 0;
      },
    },
    logger,
    config.LEDGER_METRICS_MAX_BUDGETS,
  );
  const alerts = createAlertDispatcher({
    pool: db.pool,
    logger,
    metrics,
    webhookUrl: config.LEDGER_ALERT_WEBHOOK_URL,
    timeoutMs: config.LEDGER_ALERT_WEBHOOK_TIMEOUT_MS,
    attempts: config.LEDGER_ALERT_RETRY_ATTEMPTS,
    retryInitialMs: config.LEDGER_ALERT_RETRY_INITIAL_MS,
    retryMaxMs: config.LEDGER_ALERT_RETRY_MAX_MS,
    pollMs: config.LEDGER_ALERT_POLL_MS,
    giveUpMs: config.LEDGER_ALERT_GIVE_UP_MS,
  });
  const budgets = createBudgetStore({
    pool: db.pool,
    schema: db.schema,
    logger,
    metrics,
    reservationTtlMs: config.LEDGER_RESERVATION_TTL_MS,
    defaultAlertPercents: config.LEDGER_ALERT_THRESHOLDS,
    alertDelivery: { deliver: alerts.delivers, leaseMs: alerts.leaseMs },
    onAlerts: (fired) => alerts.fired(fired),
    directory,
  });
  const sweeper = startSweeper(budgets, logger, config.LEDGER_RESERVATION_SWEEP_MS);

  const writer = createUsageWriter({
    pool: db.pool,
    logger,
    maxBatchRows: config.LEDGER_BATCH_MAX_ROWS,
    lingerMs: config.LEDGER_BATCH_LINGER_MS,
    // Leave a connection for GetSpend and /ready while writes are at full speed.
    maxInFlightBatches: Math.max(1, config.LEDGER_POOL_MAX - 1),
    maxQueuedRows: config.LEDGER_MAX_QUEUED_ROWS,
    budgets,
  });

  const grpc = await startGrpcServer({
    host: config.GRPC_HOST,
    port: config.LEDGER_GRPC_PORT,
    logger,
    tracerName: "cost-ledger",
    services: [
      registerService(
        CostLedgerService,
        createLedgerHandlers({ pool: db.pool, writer, budgets, directory, logger }),
      ),
    ],
  });

  const http = await startProbeServer({
    host: config.HTTP_HOST,
    port: config.LEDGER_HTTP_PORT,
    checks: { postgres: () => db.ping() },
    routes: async (req, res) => {
      if (req.method !== "GET" || (req.url ?? "").split("?")[0] !== "/metrics") return false;

      const body = await metrics.render();
      res.writeHead(200, { "content-type": metrics.registry.contentType });
      res.end(body);
      return true;
    },
  });

  let stopping: Promise<void> | undefined;
  const steps = [
    // Watch streams never end on their own; the drain would wait for them until its deadline.
    { name: "end budget watches", run: () => directory.stop() },
    { name: "drain grpc", run: () => drain(grpc, http, config.SHUTDOWN_DEADLINE_MS) },
    { name: "flush writes", run: () => writer.flush() },
    { name: "stop sweeper", run: () => sweeper.stop() },
    { name: "stop alert delivery", run: () => alerts.stop() },
    { name: "close pool", run: () => db.endPool() },
    { name: "stop embedded postgres", run: () => db.stopEmbedded() },
    { name: "close probes", run: () => http.close() },
    { name: "flush telemetry", run: flushTelemetry },
  ];
  const stop = () => {
    stopping ??= (async () => {
      for (const step of steps) await step.run();
    })();
    return stopping;
  };
  if (options.handleSignals ?? true) {
    onShutdownSignal(logger, config.SHUTDOWN_DEADLINE_MS, steps);
  }

  logger.info(
    {
      grpcPort: grpc.port,
      httpPort: http.port,
      schema: db.schema,
      database: describeDatabase(db, config.DATABASE_URL),
    },
    "cost ledger listening",
  );
  return {
    grpcPort: grpc.port,
    httpPort: http.port,
    pool: db.pool,
    schema: db.schema,
    writer,
    budgets,
    directory,
    alerts,
    metrics,
    stop,
  };
}

// Releases reservations whose callers vanished; every replica sweeps, the tenant lock keeps
// them from releasing one reservation twice.
function startSweeper(budgets: BudgetStore, logger: Logger, intervalMs: number) {
  let running: Promise<void> | undefined;
  const timer = setInterval(() => {
    if (running) return;
    running = budgets
      .expireDue()
      .then(() => undefined)
      .catch((err: unknown) => {
        logger.warn({ err }, "could not expire reservations; retrying next interval");
      })
      .finally(() => {
        running = undefined;
      });
  }, intervalMs);
  timer.unref();

  return {
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}

async function drain(
  grpc: Awaited<ReturnType<typeof startGrpcServer>>,
  http: Awaited<ReturnType<typeof startProbeServer>>,
  deadlineMs: number,
): Promise<void> {
  http.markNotReady();
  // Keep a second of the deadline for closing the pool and flushing telemetry.
  await grpc.shutdown(Math.max(deadlineMs - 1_000, 0));
}

async function closeDatabase(db: LedgerDatabase): Promise<void> {
  await db.endPool().catch(() => undefined);
  await db.stopEmbedded().catch(() => undefined);
}
