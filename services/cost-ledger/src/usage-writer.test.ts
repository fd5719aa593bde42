import { createLogger } from "@mesh/logging";
import { GrpcStatus, RpcError } from "@mesh/rpc";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openDatabase, type LedgerDatabase } from "./database.js";
import {
  freshSchemaName,
  recordMessage,
  sampleRecord,
  TEST_DATABASE_URL,
} from "./ledger.testkit.js";
import { applyMigrations } from "./migrations.js";
import { usageRowFromRecord, type UsageRow } from "./usage-record.js";
import { createUsageWriter, type UsageWriterOptions } from "./usage-writer.js";

const logger = createLogger("usage-writer-test", "silent");
let db: LedgerDatabase;

beforeAll(async () => {
  db = await openDatabase({
    databaseUrl: TEST_DATABASE_URL,
    schema: freshSchemaName("ledger_writer"),
    poolMax: 4,
    logger,
  });
  await applyMigrations({ pool: db.pool, schema: db.schema, logger });
});

afterAll(async () => {
  await db.pool.query(`DROP SCHEMA ${db.schema} CASCADE`);
  await db.endPool();
});

function row(overrides: Parameters<typeof sampleRecord>[0] = {}): UsageRow {
  return usageRowFromRecord(recordMessage(sampleRecord(overrides)));
}

function writer(options: Partial<UsageWriterOptions> = {}) {
  return createUsageWriter({
    pool: db.pool,
    logger,
    maxBatchRows: 500,
    lingerMs: 0,
    maxInFlightBatches: 3,
    ...options,
  });
}

async function countRows(tenant: string): Promise<number> {
  const result = await db.pool.query(
    "SELECT count(*)::int AS n FROM usage_records WHERE tenant = $1",
    [tenant],
  );
  return result.rows[0].n;
}

describe("createUsageWriter", () => {
  it("sends rows queued in the same turn as one INSERT", async () => {
    const w = writer();
    const rows = Array.from({ length: 50 }, () => row({ tenant: "one-batch" }));

    const results = await Promise.all(rows.map((r) => w.write(r)));

    expect(results.every((r) => r.duplicate === false)).toBe(true);
    expect(w.stats().batches).toBe(1);
    expect(await countRows("one-batch")).toBe(50);
  });

  it("splits a burst into batches of at most maxBatchRows", async () => {
    const w = writer({ maxBatchRows: 20 });
    const rows = Array.from({ length: 50 }, () => row({ tenant: "three-batches" }));

    await Promise.all(rows.map((r) => w.write(r)));

    expect(w.stats().batches).toBe(3);
    expect(await countRows("three-batches")).toBe(50);
  });

  it("tells each caller of a repeated id in one batch whether it was the first", async () => {
    const w = writer();
    const first = row({ tenant: "repeat-in-batch" });
    const repeat = { ...first, costNanos: 999n };

    const results = await Promise.all([w.write(first), w.write(repeat), w.write(first)]);
    const stored = await db.pool.query(
      "SELECT cost_nanos::text FROM usage_records WHERE request_id = $1",
      [first.requestId],
    );

    expect(results.map((r) => r.duplicate)).toEqual([false, true, true]);
    expect(w.stats().batches).toBe(1);
    expect(stored.rows).toEqual([{ cost_nanos: "4740000" }]);
  });

  it("reports a row stored by an earlier batch as duplicate", async () => {
    const w = writer();
    const r = row({ tenant: "earlier-batch" });

    const first = await w.write(r);
    const second = await w.write(r);

    expect([first.duplicate, second.duplicate]).toEqual([false, true]);
  });

  it("fails only the row the database rejects, not its batch neighbours", async () => {
    const w = writer();
    const good = Array.from({ length: 3 }, () => row({ tenant: "bad-neighbour" }));
    // Validation would refuse this; it stands for any row the database rejects.
    const bad = { ...row({ tenant: "bad-neighbour" }), costNanos: -1n };

    const outcomes = await Promise.allSettled([...good, bad].map((r) => w.write(r)));

    expect(outcomes.map((o) => o.status)).toEqual([
      "fulfilled",
      "fulfilled",
      "fulfilled",
      "rejected",
    ]);
    expect(String((outcomes[3] as PromiseRejectedResult).reason)).toContain("cost_nanos_check");
    expect(await countRows("bad-neighbour")).toBe(3);
  });

  it("refuses writes as UNAVAILABLE once maxQueuedRows are waiting", async () => {
    const w = writer({ maxQueuedRows: 2, lingerMs: 20 });

    const writes = [1, 2, 3].map(() => w.write(row({ tenant: "full" })));

    const outcomes = await Promise.allSettled(writes);
    const refused = (outcomes[2] as PromiseRejectedResult).reason as RpcError;

    expect(outcomes.map((o) => o.status)).toEqual(["fulfilled", "fulfilled", "rejected"]);
    expect(refused.code).toBe(GrpcStatus.UNAVAILABLE);
    expect(refused.reason).toBe("ledger_overloaded");
  });

  it("flush resolves once every queued row is stored", async () => {
    const w = writer({ lingerMs: 30 });
    const pending = Array.from({ length: 5 }, () => w.write(row({ tenant: "flushed" })));

    await w.flush();

    expect(w.stats()).toMatchObject({ queuedRows: 0, inFlightBatches: 0 });
    expect(await countRows("flushed")).toBe(5);
    await Promise.all(pending);
  });
});
