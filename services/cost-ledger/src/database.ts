import type { Logger } from "@mesh/logging";
import pg from "pg";
import {
  resolveLedgerDataDir,
  startEmbeddedPostgres,
  type EmbeddedPostgres,
} from "./embedded-postgres.js";

/** Where the ledger's Postgres is and how many connections it may hold. */
export interface DatabaseOptions {
  /** A real server; when absent an embedded PGlite is started on `dataDir`. */
  databaseUrl?: string | undefined;
  /** Schema holding the ledger's tables; created by the migrations when missing. */
  schema: string;
  /** LEDGER_DATA_DIR as configured (may be relative or unset). */
  dataDir?: string | undefined;
  poolMax: number;
  logger: Logger;
}

/** The ledger's one connection pool, plus the embedded server behind it when there is one. */
export interface LedgerDatabase {
  readonly pool: pg.Pool;
  readonly schema: string;
  /** Set when no DATABASE_URL was given and PGlite serves the pool. */
  readonly embedded: EmbeddedPostgres | undefined;
  /** Resolves when Postgres answers `SELECT 1`. */
  ping(): Promise<void>;
  /** Closes the pool's connections; pending queries finish first. */
  endPool(): Promise<void>;
  /** Stops the embedded server, if any; call after endPool. */
  stopEmbedded(): Promise<void>;
}

// Extra socket slots beyond the pool: the server frees a slot a tick after a client closes, so
// a pool replacing an idle connection at once could otherwise be refused.
const EMBEDDED_SPARE_CONNECTIONS = 4;

/**
 * Opens the ledger's Postgres: a pool on DATABASE_URL, or on an embedded PGlite served over
 * a local socket, so one code path serves both. Every pooled connection searches only the
 * configured schema. Create it once per process, after telemetry starts (pg is instrumented).
 */
export async function openDatabase(options: DatabaseOptions): Promise<LedgerDatabase> {
  const { logger, schema } = options;

  let embedded: EmbeddedPostgres | undefined;
  let connectionString = options.databaseUrl;
  if (!connectionString) {
    embedded = await startEmbeddedPostgres({
      dataDir: resolveLedgerDataDir(options.dataDir),
      maxConnections: options.poolMax + EMBEDDED_SPARE_CONNECTIONS,
      logger,
    });
    connectionString = embedded.connectionString;
  }

  // pg-pool runs onConnect (and awaits it) before handing a new client out; @types/pg lacks it.
  const setSearchPath = `SET search_path TO ${pg.escapeIdentifier(schema)}`;
  const poolConfig: pg.PoolConfig & { onConnect(client: pg.PoolClient): Promise<unknown> } = {
    connectionString,
    max: options.poolMax,
    application_name: "cost-ledger",
    // Fail fast when Postgres is down so callers get UNAVAILABLE and can retry elsewhere.
    connectionTimeoutMillis: 5_000,
    idleTimeoutMillis: 30_000,
    onConnect: (client) => client.query(setSearchPath),
  };
  const pool = new pg.Pool(poolConfig);

  // An idle client losing its server emits here; without a listener the process would crash.
  pool.on("error", (err) => {
    logger.warn({ err }, "idle postgres connection failed; the pool will replace it");
  });

  let stopped = false;
  return {
    pool,
    schema,
    embedded,
    async ping() {
      await pool.query("SELECT 1");
    },
    async endPool() {
      if (!pool.ended) await pool.end();
    },
    async stopEmbedded() {
      if (stopped || !embedded) return;

      stopped = true;
      await embedded.stop();
    },
  };
}

/** Where the database is, for logs: host, port and name, never credentials. */
export function describeDatabase(
  db: LedgerDatabase,
  databaseUrl: string | undefined,
): Record<string, unknown> {
  if (db.embedded) {
    return { kind: "pglite", dataDir: db.embedded.dataDir, port: db.embedded.port };
  }

  try {
    const url = new URL(databaseUrl ?? "");
    const database = url.pathname.slice(1);
    return { kind: "postgres", host: url.hostname, port: url.port, database };
  } catch {
    return { kind: "postgres" };
  }
}
