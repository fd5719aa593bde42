import { randomUUID } from "node:crypto";
import { BudgetPeriod, CostLedgerService } from "@mesh/contracts/ledger/v1/ledger_pb";
import { usdFromNanos } from "@mesh/money";
import { createGrpcClient } from "@mesh/rpc";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { budgetChannel } from "./budget-directory.js";
import {
  freshSchemaName,
  startTestLedger,
  TEST_DATABASE_URL,
  watchBudgets,
  type BudgetWatch,
  type RunningLedger,
} from "./ledger.testkit.js";

// Three ledgers on one schema, as replicas. A and B reload only every 10 minutes, so what they
// learn of each other's changes within the test comes from NOTIFY; C reloads every 200 ms.
const schema = freshSchemaName("ledger_directory");
const admin = new pg.Pool({ connectionString: TEST_DATABASE_URL, max: 2 });
let a: RunningLedger;
let b: RunningLedger;
let c: RunningLedger;

beforeAll(async () => {
  const env = { DATABASE_URL: TEST_DATABASE_URL, DATABASE_SCHEMA: schema };
  a = await startTestLedger({ ...env, LEDGER_BUDGET_RELOAD_MS: "600000" });
  b = await startTestLedger({ ...env, LEDGER_BUDGET_RELOAD_MS: "600000" });
  c = await startTestLedger({ ...env, LEDGER_BUDGET_RELOAD_MS: "200" });
});

afterAll(async () => {
  await Promise.all([a, b, c].map((l) => l?.stop()));
  await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await admin.end();
});

const uniq = (prefix: string) => `${prefix}-${randomUUID().slice(0, 8)}`;
const limit = usdFromNanos(5_000_000n);

describe("tenants with budgets across ledger replicas", () => {
  it("reaches another replica's watchers within moments of SetBudget and DeleteBudget",
    async () => {
      const tenant = uniq("replicated");
      const watch = watchBudgets(b.client);
      await watch.until(() => true);

      await a.client.setBudget({ budget: { tenant, period: BudgetPeriod.DAY, limit } });
      const withTenant = await watch.until((t) => t.includes(tenant), { timeoutMs: 2_000 });
      const from = watch.snapshots.length;
      await a.client.deleteBudget({ tenant, period: BudgetPeriod.DAY });
      const without = await watch.until((t) => !t.includes(tenant), { from, timeoutMs: 2_000 });
      watch.stop();

      expect(withTenant).toContain(tenant);
      expect(without).not.toContain(tenant);
    });

  it("picks up a budget written in SQL directly at its next reload", async () => {
    const tenant = uniq("sql");
    const watch = watchBudgets(c.client);
    await watch.until(() => true);

    await admin.query(
      `INSERT INTO ${schema}.budgets (tenant, api_key_id, period, limit_nanos)
       VALUES ($1, 'key-9', 'month', 1000)`,
      [tenant],
    );
    const seen = await watch.until((t) => t.includes(tenant), { timeoutMs: 3_000 });
    watch.stop();

    expect(seen).toContain(tenant);
  });

  it("ends watch streams while it cannot LISTEN, then serves changes made meanwhile",
    async () => {
      const tenant = uniq("outage");
      const watch = watchBudgets(b.client);
      await watch.until(() => true);

      const cut = await admin.query<{ cut: boolean }>(
        `SELECT pg_terminate_backend(pid) AS cut FROM pg_stat_activity
          WHERE application_name = 'cost-ledger-budgets' AND query = $1`,
        [`LISTEN "${budgetChannel(schema)}"`],
      );
      const ended = await watch.ended;
      await a.client.setBudget({ budget: { tenant, period: BudgetPeriod.DAY, limit } });
      const again = await watchAgain(b);
      const first = await again.until(() => true);
      again.stop();

      expect(cut.rows).toEqual([{ cut: true }, { cut: true }, { cut: true }]);
      expect(ended).toBe("budgets_not_followed");
      expect(first).toContain(tenant);
    });
});

describe("stopping a ledger with watchers", () => {
  it("ends their streams, so the drain does not wait for them", async () => {
    const env = { DATABASE_URL: TEST_DATABASE_URL, DATABASE_SCHEMA: schema };
    const d = await startTestLedger(env);
    const client = createGrpcClient(CostLedgerService, `127.0.0.1:${d.handle.grpcPort}`);
    const watch = watchBudgets(client);
    await watch.until(() => true);

    const started = Date.now();
    await d.stop();
    const took = Date.now() - started;
    const ended = await watch.ended;
    client.close();

    // The drain would otherwise wait out its 2 s (SHUTDOWN_DEADLINE_MS 3 s less 1 s).
    expect(took).toBeLessThan(1_500);
    expect(ended).toBe("ok");
  });
});

// Opens watch streams until one is accepted (the replica is following changes again).
async function watchAgain(ledger: RunningLedger): Promise<BudgetWatch> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const watch = watchBudgets(ledger.client);
    const outcome = await Promise.race([
      watch.until(() => true).then(() => "open"),
      watch.ended,
    ]);
    if (outcome === "open") return watch;
    if (Date.now() > deadline) throw new Error(`watch still refused: ${outcome}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
