import { randomUUID } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { BudgetPeriod } from "@mesh/contracts/ledger/v1/ledger_pb";
import { moneyToNanos, usdFromNanos } from "@mesh/money";
import { GrpcStatus, RpcError } from "@mesh/rpc";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AlertWebhookBody } from "./alerts.js";
import {
  freshSchemaName,
  sampleRecord,
  spawnLedger,
  TEST_DATABASE_URL,
  type LedgerProcess,
} from "./ledger.testkit.js";

// Two ledger processes on one schema: budgets must hold across replicas, not just in one.
const schema = freshSchemaName("ledger_replicas");
const admin = new pg.Pool({ connectionString: TEST_DATABASE_URL, max: 2 });
const webhook = startWebhook();
let replicas: LedgerProcess[] = [];

beforeAll(async () => {
  const env = {
    DATABASE_URL: TEST_DATABASE_URL,
    DATABASE_SCHEMA: schema,
    LEDGER_ALERT_WEBHOOK_URL: `http://127.0.0.1:${await webhook.port}/alerts`,
    LEDGER_ALERT_RETRY_INITIAL_MS: "50",
    LEDGER_ALERT_RETRY_MAX_MS: "200",
    LEDGER_ALERT_POLL_MS: "500",
  };
  // Started one after the other; the concurrent start is covered in ledger.postgres.test.ts.
  replicas = [await spawnLedger(env), await spawnLedger(env)];
});

afterAll(async () => {
  await Promise.all(replicas.map((r) => r.stop()));
  await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await admin.end();
  webhook.server.close();
});

const uniq = (prefix: string) => `${prefix}-${randomUUID().slice(0, 8)}`;

async function reserveAll(tenant: string, count: number, amountNanos: bigint) {
  return Promise.allSettled(
    Array.from({ length: count }, (_, i) =>
      replicas[i % 2]!.client.reserveBudget({
        requestId: `req-${i}-${randomUUID()}`,
        tenant,
        amount: usdFromNanos(amountNanos),
      }),
    ),
  );
}

async function budgetTotals(tenant: string) {
  const status = await replicas[0]!.client.getBudgetStatus({ tenant });
  const b = status.budgets[0]!;
  return { spent: moneyToNanos(b.spent), reserved: moneyToNanos(b.reserved) };
}

describe("budgets across two ledger processes", () => {
  it.each([
    ["exactly 7", 7_000_000n, 7],
    ["2.5", 2_500_000n, 2],
  ])(
    "lets exactly as many of 200 concurrent reservations through as fit (%s)",
    async (_, limitNanos, fits) => {
      const tenant = uniq("race");
      await replicas[0]!.client.setBudget({
        budget: { tenant, period: BudgetPeriod.DAY, limit: usdFromNanos(limitNanos) },
      });

      const outcomes = await reserveAll(tenant, 200, 1_000_000n);
      const granted = outcomes.filter((o) => o.status === "fulfilled");
      const refused = outcomes.filter((o) => o.status === "rejected");
      const held = await budgetTotals(tenant);

      expect(granted).toHaveLength(fits);
      expect(refused).toHaveLength(200 - fits);
      for (const r of refused) {
        const err = r.reason as RpcError;
        expect([err.code, err.reason]).toEqual([GrpcStatus.RESOURCE_EXHAUSTED, "budget_exceeded"]);
      }
      expect(held).toEqual({ spent: 0n, reserved: BigInt(fits) * 1_000_000n });

      // Settle the first at part of its worst case through the other replica, release the rest.
      const ids = granted.map((g) => g.value.reservationId);
      await replicas[1]!.client.recordUsage({
        record: sampleRecord({
          tenant,
          reservationId: ids[0],
          cost: usdFromNanos(600_000n),
          startedAt: timestampFromMs(Date.now()),
        }),
      });
      await Promise.all(
        ids.slice(1).map((id, i) => replicas[i % 2]!.client.releaseBudget({ reservationId: id })),
      );
      const settled = await budgetTotals(tenant);
      const inFlight = await replicas[1]!.client.listReservations({ tenant });

      expect(settled).toEqual({ spent: 600_000n, reserved: 0n });
      expect(inFlight.totalCount).toBe(0n);
    },
  );

  it("fires 80% and 100% alerts once each, under concurrency and a flaky webhook", async () => {
    const tenant = uniq("alerts");
    await replicas[1]!.client.setBudget({
      budget: { tenant, period: BudgetPeriod.DAY, limit: usdFromNanos(1_000_000_000n) },
    });
    webhook.failNext = 1;
    const now = Date.now();

    // 40 rows of $0.025 spread over both replicas: spend climbs to exactly $1.00.
    await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        replicas[i % 2]!.client.recordUsage({
          record: sampleRecord({
            tenant,
            cost: usdFromNanos(25_000_000n),
            startedAt: timestampFromMs(now),
            finishedAt: timestampFromMs(now),
          }),
        }),
      ),
    );
    await waitFor(() => webhook.delivered(tenant).length >= 2, 15_000);
    // Give a stray duplicate the chance to show up before counting.
    await new Promise((r) => setTimeout(r, 1_500));

    const delivered = webhook.delivered(tenant);
    const attempts = webhook.received.filter((r) => r.body.tenant === tenant);
    const rows = await admin.query(
      `SELECT threshold_percent, delivery, attempts, spent_nanos::text AS spent
         FROM ${schema}.budget_alerts WHERE tenant = $1 ORDER BY threshold_percent`,
      [tenant],
    );
    const pages = await Promise.all(
      replicas.map(async (r) => (await fetch(`http://127.0.0.1:${r.httpPort}/metrics`)).text()),
    );
    const fired = pages.reduce((sum, page) => sum + sumSeries(page, "ai_budget_alerts_total"), 0);
    const logLines = replicas
      .flatMap((r) => r.logs)
      .filter((l) => l.includes('"budget alert fired"') && l.includes(tenant));

    expect(delivered.map((b) => b.threshold_percent).sort()).toEqual([100, 80]);
    expect(new Set(delivered.map((b) => b.alert_id)).size).toBe(2);
    expect(attempts).toHaveLength(3);
    expect(delivered.find((b) => b.threshold_percent === 100)).toMatchObject({
      scope: "tenant",
      period: "day",
      limit_usd: "1.000000000",
      spent_usd: "1.000000000",
    });
    expect(rows.rows.map((r) => [r.threshold_percent, r.delivery])).toEqual([
      [80, "delivered"],
      [100, "delivered"],
    ]);
    expect(rows.rows.reduce((n, r) => n + r.attempts, 0)).toBe(3);
    expect(fired).toBe(2);
    expect(logLines).toHaveLength(2);
  });
});

interface ReceivedAlert {
  status: number;
  idempotencyKey: string;
  body: AlertWebhookBody;
}

// An alert receiver that can be told to fail its next requests with HTTP 500.
function startWebhook() {
  const received: ReceivedAlert[] = [];
  const state = {
    failNext: 0,
    received,
    server: undefined as unknown as Server,
    port: undefined as unknown as Promise<number>,
    delivered(tenant: string): AlertWebhookBody[] {
      return received
        .filter((r) => r.status === 200 && r.body.tenant === tenant)
        .map((r) => r.body);
    },
  };
  state.server = createServer((req, res) => {
    let text = "";
    req.setEncoding("utf8");
    req.on("data", (chunk: string) => (text += chunk));
    req.on("end", () => {
      const status = state.failNext > 0 ? 500 : 200;
      if (status === 500) state.failNext--;
      received.push({
        status,
        idempotencyKey: String(req.headers["idempotency-key"]),
        body: JSON.parse(text) as AlertWebhookBody,
      });
      res.writeHead(status).end();
    });
  });
  state.port = new Promise((resolve) =>
    state.server.listen(0, "127.0.0.1", () =>
      resolve((state.server.address() as AddressInfo).port),
    ),
  );
  return state;
}

async function waitFor(condition: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function sumSeries(page: string, name: string): number {
  return page
    .split("\n")
    .filter((l) => l.startsWith(`${name}{`))
    .reduce((sum, l) => sum + Number(l.slice(l.lastIndexOf(" ") + 1)), 0);
}
