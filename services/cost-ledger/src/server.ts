import { CostLedgerService } from "@mesh/contracts/ledger/v1/ledger_pb";
import { onShutdownSignal, startProbeServer } from "@mesh/lifecycle";
import type { Logger } from "@mesh/logging";
import { registerService, startGrpcServer } from "@mesh/rpc";
import type pg from "pg";
import type { LedgerConfig } from "./config.js";
import { describeDatabase, openDatabase, type LedgerDatabase } from "./database.js";
import { createLedgerHandlers } from "./ledger-service.js";
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
 * /health, /ready (`SELECT 1`) over HTTP. Load after telemetry starts so pg is instrumented.
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

  const writer = createUsageWriter({
    pool: db.pool,
    logger,
    maxBatchRows: config.LEDGER_BATCH_MAX_ROWS,
    lingerMs: config.LEDGER_BATCH_LINGER_MS,
    // Leave a connection for GetSpend and /ready while writes are at full speed.
    maxInFlightBatches: Math.max(1, config.LEDGER_POOL_MAX - 1),
    maxQueuedRows: config.LEDGER_MAX_QUEUED_ROWS,
  });

  const grpc = await startGrpcServer({
    host: config.GRPC_HOST,
    port: config.LEDGER_GRPC_PORT,
    logger,
    tracerName: "cost-ledger",
    services: [
      registerService(CostLedgerService, createLedgerHandlers({ pool: db.pool, writer, logger })),
    ],
  });

  const http = await startProbeServer({
    host: config.HTTP_HOST,
    port: config.LEDGER_HTTP_PORT,
    checks: { postgres: () => db.ping() },
  });

  let stopping: Promise<void> | undefined;
  const steps = [
    { name: "drain grpc", run: () => drain(grpc, http, config.SHUTDOWN_DEADLINE_MS) },
    { name: "flush writes", run: () => writer.flush() },
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
    stop,
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
