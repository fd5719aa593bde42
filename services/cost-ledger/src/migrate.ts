import { createLogger } from "@mesh/logging";
import { loadLedgerConfig } from "./config.js";
import { describeDatabase, openDatabase } from "./database.js";
import { applyMigrations } from "./migrations.js";

// `pnpm --filter @mesh/cost-ledger migrate`: applies the ledger's migrations and exits, for a
// Kubernetes Job or an init container ahead of the ledger's pods. Exit code 0 means up to date.
const logger = createLogger("cost-ledger-migrate");

async function migrate(): Promise<void> {
  const config = loadLedgerConfig();
  const db = await openDatabase({
    databaseUrl: config.DATABASE_URL,
    schema: config.DATABASE_SCHEMA,
    dataDir: config.LEDGER_DATA_DIR,
    poolMax: 1,
    logger,
  });

  try {
    logger.info({ database: describeDatabase(db, config.DATABASE_URL) }, "migrating the ledger");
    await applyMigrations({ pool: db.pool, schema: db.schema, logger });
  } finally {
    await db.endPool();
    await db.stopEmbedded();
  }
}

try {
  await migrate();
  process.exit(0);
} catch (err) {
  logger.fatal({ err }, "ledger migration failed");
  process.exit(1);
}
