import { createHash } from "node:crypto";
import { fileURLToPath } from "node:url";
import type { Logger } from "@mesh/logging";
import { runner } from "node-pg-migrate";
import type pg from "pg";

/**
 * The folder of SQL migrations, named `<yyyyMMddHHmmssSSS>_<name>.sql` (node-pg-migrate's
 * utc format) with `-- Up Migration` and `-- Down Migration` sections; applied in name order.
 */
export const MIGRATIONS_DIR = fileURLToPath(new URL("../migrations", import.meta.url));

/** Table, in the ledger's schema, recording which migrations ran. */
export const MIGRATIONS_TABLE = "ledger_migrations";

/** Options for one migration run. */
export interface MigrateOptions {
  pool: pg.Pool;
  schema: string;
  logger: Logger;
  /** How long to wait for another replica's run to finish before giving up. */
  lockWaitMs?: number;
}

/**
 * Applies pending migrations from MIGRATIONS_DIR to the schema (creating it when missing),
 * all in one transaction, and returns the names applied; a second run applies nothing.
 * Replicas starting together queue on an advisory lock scoped to the schema.
 */
export async function applyMigrations(options: MigrateOptions): Promise<string[]> {
  const { pool, schema, logger } = options;
  const deadline = Date.now() + (options.lockWaitMs ?? 60_000);

  for (let attempt = 1; ; attempt++) {
    const client = await pool.connect();
    let broken: Error | undefined;
    try {
      const applied = await runner({
        dbClient: client,
        dir: MIGRATIONS_DIR,
        schema,
        createSchema: true,
        migrationsSchema: schema,
        migrationsTable: MIGRATIONS_TABLE,
        direction: "up",
        checkOrder: true,
        singleTransaction: true,
        lockValue: lockKey(schema),
        logger: migrationLogger(logger),
      });

      const names = applied.map((m) => m.name);
      const message = names.length > 0 ? "migrations applied" : "schema up to date";
      logger.info({ schema, applied: names }, message);
      return names;
    } catch (err) {
      broken = err as Error;
      const busy = broken.message?.includes("Another migration is already running");
      if (!busy || Date.now() > deadline) throw err;

      // node-pg-migrate only tries the lock once; another replica is migrating, so wait.
      logger.info({ schema, attempt }, "another process is migrating the ledger; waiting");
      await new Promise((resolve) => setTimeout(resolve, Math.min(250 * attempt, 2_000)));
    } finally {
      // A failed run may leave the session mid-transaction or holding settings; discard it.
      client.release(broken);
    }
  }
}

// node-pg-migrate's default lock id is shared by every schema and app on the server; one per
// ledger schema lets isolated test schemas migrate side by side.
function lockKey(schema: string): number {
  const digest = createHash("sha256").update(`cost-ledger:${schema}`).digest();
  return digest.readUInt32BE(0) & 0x7fffffff;
}

function migrationLogger(logger: Logger) {
  return {
    debug: (msg: string) => logger.debug({ source: "node-pg-migrate" }, msg),
    info: (msg: string) => logger.debug({ source: "node-pg-migrate" }, msg),
    warn: (msg: string) => logger.warn({ source: "node-pg-migrate" }, msg),
    error: (msg: string) => logger.error({ source: "node-pg-migrate" }, msg),
  };
}
