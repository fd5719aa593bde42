import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { describeLedgerContract } from "./ledger-contract.testkit.js";
import { MIGRATION_COUNT, readRow, sampleRecord, startTestLedger } from "./ledger.testkit.js";
import { MIGRATIONS_TABLE } from "./migrations.js";

const root = mkdtempSync(join(tmpdir(), "ledger-pglite-"));
const dataDir = join(root, "ledger");
// A schema other than public, so DATABASE_SCHEMA is exercised on PGlite too.
const env = { LEDGER_DATA_DIR: dataDir, DATABASE_SCHEMA: "ledger" };

afterAll(() => {
  rmSync(root, { recursive: true, force: true });
});

describeLedgerContract("pglite", () => env);

describe("cost ledger on pglite, across restarts", () => {
  it("keeps recorded usage when the service restarts on the same data folder", async () => {
    const record = sampleRecord({ tenant: "restart-tenant" });
    const first = await startTestLedger(env);
    await first.client.recordUsage({ record });
    const rowBefore = await readRow(first.handle.pool, record.requestId!);
    const spendBefore = await first.client.getSpend({ tenant: "restart-tenant" });
    await first.stop();

    const second = await startTestLedger(env);
    try {
      const rowAfter = await readRow(second.handle.pool, record.requestId!);
      const spendAfter = await second.client.getSpend({ tenant: "restart-tenant" });
      const again = await second.client.recordUsage({ record });
      const ran = await second.handle.pool.query(
        `SELECT count(*)::int AS n FROM ${MIGRATIONS_TABLE}`,
      );

      expect(rowAfter).toEqual(rowBefore);
      expect(rowAfter?.cost_nanos).toBe("4740000");
      expect(spendAfter).toEqual(spendBefore);
      expect(spendAfter.total).toMatchObject({ units: 0n, nanos: 4_740_000 });
      expect(again.duplicate).toBe(true);
      expect(ran.rows[0].n).toBe(MIGRATION_COUNT);
    } finally {
      await second.stop();
    }
  });

  it("refuses a second ledger on a data folder that is already open", async () => {
    const running = await startTestLedger(env);
    try {
      await expect(startTestLedger(env)).rejects.toThrow(/already open in this process/);
    } finally {
      await running.stop();
    }
  });

  it("refuses a folder locked by another live process, and takes over a stale lock", async () => {
    const otherDir = join(root, "locked");
    writeFileSync(`${otherDir}.lock`, String(process.ppid));

    await expect(startTestLedger({ ...env, LEDGER_DATA_DIR: otherDir })).rejects.toThrow(
      `ledger data folder ${otherDir} is in use by process ${process.ppid}`,
    );

    writeFileSync(`${otherDir}.lock`, "999999999");
    const ledger = await startTestLedger({ ...env, LEDGER_DATA_DIR: otherDir });
    await ledger.stop();
  });
});
