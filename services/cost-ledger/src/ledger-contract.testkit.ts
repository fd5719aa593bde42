import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { BudgetPeriod, UsageStatus } from "@mesh/contracts/ledger/v1/ledger_pb";
import { moneyToNanos, usdFromNanos } from "@mesh/money";
import { GrpcStatus, RpcError } from "@mesh/rpc";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { applyMigrations, MIGRATIONS_TABLE } from "./migrations.js";
import {
  EXPECTED_COLUMNS,
  readRow,
  sampleRecord,
  startTestLedger,
  tableColumns,
  watchBudgets,
  type RunningLedger,
} from "./ledger.testkit.js";
import { createLogger } from "@mesh/logging";

/**
 * The behaviour every backend must show, run once against real Postgres and once against
 * PGlite. `env` is the ledger's environment (DATABASE_URL or LEDGER_DATA_DIR, schema).
 * @private
 */
export function describeLedgerContract(backend: string, env: () => Record<string, string>) {
  describe(`cost ledger on ${backend}`, () => {
    let ledger: RunningLedger;
    const silent = createLogger("test", "silent");

    beforeAll(async () => {
      ledger = await startTestLedger(env());
    });

    afterAll(async () => {
      await ledger?.stop();
    });

    it("creates the documented columns; running migrations again changes nothing", async () => {
      const { pool, schema } = ledger.handle;

      const again = await applyMigrations({ pool, schema, logger: silent });
      const twice = await Promise.all([
        applyMigrations({ pool, schema, logger: silent }),
        applyMigrations({ pool, schema, logger: silent }),
      ]);
      const ran = await pool.query(`SELECT name FROM ${MIGRATIONS_TABLE}`);

      expect(again).toEqual([]);
      expect(twice).toEqual([[], []]);
      expect(ran.rows).toEqual([
        { name: "20261201000000000_usage-records" },
        { name: "20261210000000000_budgets" },
        { name: "20261211000000000_feedback" },
      ]);
      expect(await tableColumns(pool, schema)).toEqual(EXPECTED_COLUMNS);
    });

    it("stores every field of a record exactly", async () => {
      const record = sampleRecord({
        cost: { currencyCode: "USD", units: 12n, nanos: 345_678_901 },
        startedAt: { seconds: 1_793_872_800n, nanos: 123_456_789 },
        finishedAt: { seconds: 1_793_872_801n, nanos: 7_000 },
        cacheHit: true,
        status: UsageStatus.CANCELLED,
      });

      const reply = await ledger.client.recordUsage({ record });
      const row = await readRow(ledger.handle.pool, record.requestId!);

      expect(reply.duplicate).toBe(false);
      expect(row).toEqual({
        request_id: record.requestId,
        tenant: "acme",
        api_key_id: "key-1",
        user_id: "user-7",
        model_requested: "claude-sonnet",
        model: "claude-sonnet-4",
        provider: "anthropic",
        deployment: "us-east",
        endpoint: "anthropic-messages",
        input_tokens: "1000",
        output_tokens: "100",
        cache_read_tokens: "800",
        cache_write_tokens: "200",
        reasoning_tokens: "40",
        cost_nanos: "12345678901",
        currency: "USD",
        latency_ms: "812",
        status: "cancelled",
        cache_hit: true,
        started_at: "2026-11-05T10:00:00.123456Z",
        finished_at: "2026-11-05T10:00:01.000007Z",
        recorded_recently: true,
      });
    });

    it("treats a second write of the same request id as a no-op reporting duplicate", async () => {
      const record = sampleRecord();
      const first = await ledger.client.recordUsage({ record });
      const before = await readRow(ledger.handle.pool, record.requestId!);

      const second = await ledger.client.recordUsage({
        record: { ...record, tenant: "other", cost: { currencyCode: "USD", units: 9n } },
      });
      const after = await readRow(ledger.handle.pool, record.requestId!);

      expect(first.duplicate).toBe(false);
      expect(second.duplicate).toBe(true);
      expect(after).toEqual(before);
      expect(after?.tenant).toBe("acme");
      expect(after?.cost_nanos).toBe("4740000");
    });

    it("lands all of 50 concurrent records, each told it was new", async () => {
      const tenant = `concurrent-${Date.now()}`;
      const records = Array.from({ length: 50 }, (_, i) =>
        sampleRecord({ tenant, cost: { currencyCode: "USD", nanos: 1_000_003 * (i + 1) } }),
      );

      const replies = await Promise.all(
        records.map((record) => ledger.client.recordUsage({ record })),
      );
      const stored = await ledger.handle.pool.query(
        `SELECT count(*)::int AS n, sum(cost_nanos)::text AS nanos
           FROM usage_records WHERE tenant = $1`,
        [tenant],
      );

      expect(replies.map((r) => r.duplicate)).toEqual(Array(50).fill(false));
      // 1,000,003 × (1 + 2 + … + 50) = 1,000,003 × 1,275
      expect(stored.rows[0]).toEqual({ n: 50, nanos: "1275003825" });
    });

    it("stores a batch as RecordUsage would, refusing a bad record alone", async () => {
      const tenant = `batch-${Date.now()}`;
      const at = (nanos: number) => sampleRecord({ tenant, cost: usdFromNanos(BigInt(nanos)) });
      const earlier = at(1);
      await ledger.client.recordUsage({ record: earlier });
      const [first, second] = [at(1_000_000), at(20_000_000)];
      const negative = at(5);
      negative.cost = { currencyCode: "USD", units: -1n, nanos: -5 };
      const noTenant = sampleRecord({ tenant: "" });

      const reply = await ledger.client.recordUsageBatch({
        records: [first, negative, earlier, second, { ...first, latencyMs: 1 }, noTenant],
      });
      const stored = await ledger.handle.pool.query(
        `SELECT count(*)::int AS n, sum(cost_nanos)::text AS nanos
           FROM usage_records WHERE tenant = $1`,
        [tenant],
      );
      const refused = await ledger.handle.pool.query(
        "SELECT count(*)::int AS n FROM usage_records WHERE request_id = ANY($1)",
        [[negative.requestId, noTenant.requestId]],
      );

      expect(reply.results.map((r) => r.duplicate)).toEqual([
        false, false, true, false, true, false,
      ]);
      expect(reply.results.map((r) => r.invalid === "")).toEqual([
        true, false, true, true, true, false,
      ]);
      expect(reply.results[1]?.invalid).toContain("must not be negative");
      expect(reply.results[5]?.invalid).toBe("record.tenant is required");
      // The earlier row, then first and second once each: 1 + 1,000,000 + 20,000,000.
      expect(stored.rows[0]).toEqual({ n: 3, nanos: "21000001" });
      expect(refused.rows[0]).toEqual({ n: 0 });
      expect((await readRow(ledger.handle.pool, first.requestId!))?.latency_ms).toBe("812");
      expect(await ledger.client.recordUsageBatch({ records: [] })).toMatchObject({
        results: [],
      });
    });

    it("settles a batch's reservations once, even when the batch is sent again", async () => {
      const tenant = `batch-budget-${Date.now()}`;
      const now = timestampFromMs(Date.now());
      await ledger.client.setBudget({
        budget: { tenant, period: BudgetPeriod.DAY, limit: usdFromNanos(10_000_000n) },
      });
      const records = [];
      for (const [i, cost] of [3_000_000n, 2_500_000n].entries()) {
        const requestId = `batch-budget-req-${i}-${Date.now()}`;
        const reserved = await ledger.client.reserveBudget({
          requestId,
          tenant,
          amount: usdFromNanos(4_000_000n),
        });
        records.push(sampleRecord({
          requestId,
          tenant,
          reservationId: reserved.reservationId,
          cost: usdFromNanos(cost),
          startedAt: now,
          finishedAt: now,
        }));
      }

      const once = await ledger.client.recordUsageBatch({ records });
      const again = await ledger.client.recordUsageBatch({ records });
      const status = await ledger.client.getBudgetStatus({ tenant });

      expect(once.results).toMatchObject([{ duplicate: false }, { duplicate: false }]);
      expect(again.results).toMatchObject([{ duplicate: true }, { duplicate: true }]);
      expect(moneyToNanos(status.budgets[0]?.spent)).toBe(5_500_000n);
      expect(moneyToNanos(status.budgets[0]?.reserved)).toBe(0n);
      expect(moneyToNanos(status.remaining)).toBe(4_500_000n);
    });

    it("refuses a batch of more than 1,000 records whole, storing none", async () => {
      const tenant = `batch-big-${Date.now()}`;
      const records = Array.from({ length: 1_001 }, () => sampleRecord({ tenant }));

      const error = await ledger.client.recordUsageBatch({ records }).catch((e: unknown) => e);
      const stored = await ledger.handle.pool.query(
        "SELECT count(*)::int AS n FROM usage_records WHERE tenant = $1",
        [tenant],
      );

      expect((error as RpcError).code).toBe(GrpcStatus.INVALID_ARGUMENT);
      expect((error as RpcError).message).toBe(
        "the batch holds 1001 records; send at most 1000 per call",
      );
      expect(stored.rows[0]).toEqual({ n: 0 });
    });

    it("sums spend over [since, until) exactly to the nano-dollar", async () => {
      const tenant = `spend-${Date.now()}`;
      const at = (iso: string) => timestampFromMs(Date.parse(iso));
      const rows = [
        // Included: the first instant of the window, and rows inside it.
        { at: "2026-11-01T00:00:00.000Z", units: 0n, nanos: 1, input: 10, output: 1 },
        { at: "2026-11-15T12:00:00.000Z", units: 3n, nanos: 999_999_999, input: 2e9, output: 3 },
        { at: "2026-11-30T23:59:59.999Z", units: 9_000_000_000n, nanos: 7, input: 5, output: 4e9 },
        // Excluded: the window's end is open, and a millisecond before its start.
        { at: "2026-12-01T00:00:00.000Z", units: 1n, nanos: 0, input: 1, output: 1 },
        { at: "2026-10-31T23:59:59.999Z", units: 1n, nanos: 0, input: 1, output: 1 },
      ];
      for (const r of rows) {
        await ledger.client.recordUsage({
          record: sampleRecord({
            tenant,
            startedAt: at(r.at),
            finishedAt: at(r.at),
            usage: { inputTokens: r.input, outputTokens: r.output },
            cost: { currencyCode: "USD", units: r.units, nanos: r.nanos },
          }),
        });
      }
      await ledger.client.recordUsage({ record: sampleRecord({ tenant: `${tenant}-neighbour` }) });

      const spend = await ledger.client.getSpend({
        tenant,
        since: at("2026-11-01T00:00:00.000Z"),
        until: at("2026-12-01T00:00:00.000Z"),
      });
      const everything = await ledger.client.getSpend({ tenant });
      const nothing = await ledger.client.getSpend({ tenant: "nobody-at-all" });

      // 0.000000001 + 3.999999999 + 9,000,000,000.000000007 = 9,000,000,004.000000007
      expect(spend.total).toMatchObject({ currencyCode: "USD", units: 9_000_000_004n, nanos: 7 });
      expect(spend.requests).toBe(3n);
      expect(spend.inputTokens).toBe(2_000_000_015n);
      expect(spend.outputTokens).toBe(4_000_000_004n);
      expect(everything.total).toMatchObject({ units: 9_000_000_006n, nanos: 7 });
      expect(everything.requests).toBe(5n);
      expect(nothing.total).toMatchObject({ currencyCode: "USD", units: 0n, nanos: 0 });
      expect(nothing.requests).toBe(0n);
    });

    it.each([
      ["a missing request id", { requestId: "" }, "record.request_id is required"],
      ["a missing tenant", { tenant: "" }, "record.tenant is required"],
      ["a negative cost", { cost: { units: -1n, nanos: -5 } }, "must not be negative"],
      ["a cost in euros", { cost: { currencyCode: "EUR", units: 1n } }, "records USD only"],
      ["no status", { status: UsageStatus.UNSPECIFIED }, "record.status"],
    ])("rejects %s with INVALID_ARGUMENT and stores nothing", async (_, overrides, message) => {
      const requestId = `bad-${Date.now()}-${Math.random()}`;
      const record = sampleRecord({ requestId, ...overrides });

      const error = await ledger.client.recordUsage({ record }).catch((err: unknown) => err);
      const stored = await ledger.handle.pool.query(
        "SELECT count(*)::int AS n FROM usage_records WHERE request_id = $1",
        [record.requestId],
      );

      expect(error).toBeInstanceOf(RpcError);
      expect((error as RpcError).code).toBe(GrpcStatus.INVALID_ARGUMENT);
      expect((error as RpcError).message).toContain(message);
      expect(stored.rows[0].n).toBe(0);
    });

    it("rejects a spend query without a tenant or with since after until", async () => {
      const noTenant = await ledger.client.getSpend({}).catch((err: unknown) => err);
      const backwards = await ledger.client
        .getSpend({ tenant: "acme", since: timestampFromMs(2_000), until: timestampFromMs(1_000) })
        .catch((err: unknown) => err);

      expect((noTenant as RpcError).code).toBe(GrpcStatus.INVALID_ARGUMENT);
      expect((noTenant as RpcError).message).toBe("tenant is required");
      expect((backwards as RpcError).code).toBe(GrpcStatus.INVALID_ARGUMENT);
    });

    it("reserves, settles at the actual cost and fires the 80% alert once", async () => {
      const tenant = `budget-${Date.now()}`;
      const now = timestampFromMs(Date.now());
      await ledger.client.setBudget({
        budget: { tenant, period: BudgetPeriod.DAY, limit: usdFromNanos(1_000_000n) },
      });
      const reserved = await ledger.client.reserveBudget({
        requestId: "budget-req-1",
        tenant,
        amount: usdFromNanos(900_000n),
      });
      const refused = await ledger.client
        .reserveBudget({ requestId: "budget-req-2", tenant, amount: usdFromNanos(200_000n) })
        .catch((err: unknown) => err as RpcError);

      await ledger.client.recordUsage({
        record: sampleRecord({
          requestId: "budget-req-1",
          tenant,
          reservationId: reserved.reservationId,
          cost: usdFromNanos(850_000n),
          startedAt: now,
          finishedAt: now,
        }),
      });
      const status = await ledger.client.getBudgetStatus({ tenant });
      const alerts = await ledger.handle.pool.query(
        "SELECT threshold_percent, delivery FROM budget_alerts WHERE tenant = $1",
        [tenant],
      );
      const page = await (await fetch(`http://127.0.0.1:${ledger.handle.httpPort}/metrics`)).text();

      expect((refused as RpcError).reason).toBe("budget_exceeded");
      expect(moneyToNanos(status.budgets[0]?.spent)).toBe(850_000n);
      expect(moneyToNanos(status.budgets[0]?.reserved)).toBe(0n);
      expect(moneyToNanos(status.remaining)).toBe(150_000n);
      expect(alerts.rows).toEqual([{ threshold_percent: 80, delivery: "skipped" }]);
      expect(page).toContain(
        'ai_budget_alerts_total{scope="tenant",period="day",threshold="80"} 1',
      );
    });

    it("streams the tenants with budgets, pushing a change before SetBudget or DeleteBudget " +
      "answers", async () => {
      const tenant = `watched-${Date.now()}`;
      const limit = usdFromNanos(1_000_000n);
      const listed = await ledger.client.listBudgets({});
      const watch = watchBudgets(ledger.client);

      const first = await watch.until(() => true);
      const atSet = await ledger.client
        .setBudget({ budget: { tenant, period: BudgetPeriod.DAY, limit } })
        .then(() => watch.latest());
      await ledger.client.setBudget({
        budget: { tenant, apiKeyId: "key-1", period: BudgetPeriod.MONTH, limit },
      });
      const atFirstDelete = await ledger.client
        .deleteBudget({ tenant, period: BudgetPeriod.DAY })
        .then(() => watch.latest());
      const atLastDelete = await ledger.client
        .deleteBudget({ tenant, apiKeyId: "key-1", period: BudgetPeriod.MONTH })
        .then(() => watch.latest());
      watch.stop();

      const before = [...new Set(listed.budgets.map((b) => b.budget!.tenant))].sort();
      expect(first).toEqual(before);
      expect(atSet).toEqual([...before, tenant].sort());
      // The key's budget is still there: the tenant stays listed.
      expect(atFirstDelete).toEqual([...before, tenant].sort());
      expect(atLastDelete).toEqual(before);
      // One snapshot at start, one when the tenant came, one when it went.
      const versions = watch.snapshots.map((s) => s.version);
      expect(versions).toEqual([versions[0]!, versions[0]! + 1n, versions[0]! + 2n]);
    });

    it("answers /ready once Postgres answers SELECT 1", async () => {
      const res = await fetch(`http://127.0.0.1:${ledger.handle.httpPort}/ready`);

      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ status: "ready", checks: { postgres: "ok" } });
    });
  });
}
