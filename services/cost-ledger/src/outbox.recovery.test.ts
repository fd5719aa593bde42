import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { CostLedgerService, UsageStatus } from "@mesh/contracts/ledger/v1/ledger_pb";
import { createLogger } from "@mesh/logging";
import { usdFromNanos } from "@mesh/money";
import {
  createUsageOutbox,
  type SubmitOutcome,
  type UsageOutbox,
  type UsageOutboxOptions,
} from "@mesh/outbox";
import { createGrpcClient } from "@mesh/rpc";
import pg from "pg";
import { afterAll, describe, expect, it } from "vitest";
import {
  freePort,
  freshSchemaName,
  spawnLedger,
  startTcpProxy,
  startTestLedger,
  TEST_DATABASE_URL,
} from "./ledger.testkit.js";

// Callers go through @mesh/outbox: whatever fails over, every request ends as exactly one row.
const admin = new pg.Pool({ connectionString: TEST_DATABASE_URL, max: 2 });
const schemas: string[] = [];
const dirs: string[] = [];
const logger = createLogger("outbox-test", process.env.TEST_LOG_LEVEL ?? "silent");
const OUTAGE_MS = Number(process.env.TEST_PG_OUTAGE_MS ?? 10_000);

afterAll(async () => {
  for (const s of schemas) await admin.query(`DROP SCHEMA IF EXISTS ${s} CASCADE`);
  await admin.end();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function fresh() {
  const schema = freshSchemaName("ledger_outbox");
  const dir = mkdtempSync(join(tmpdir(), "ledger-outbox-"));
  schemas.push(schema);
  dirs.push(dir);
  return { schema, dir };
}

/** How the outbox talks to the ledger: a call per record, or batches as the gateway sends. */
type Mode = "single" | "batch";

function outboxTo(address: string, dir: string, mode: Mode) {
  const client = createGrpcClient(CostLedgerService, address);
  const sent = { batches: 0 };
  const batching: Partial<UsageOutboxOptions> = {
    sendBatch: async (records) => {
      sent.batches++;
      return (await client.recordUsageBatch({ records }, { timeoutMs: 3_000 })).results;
    },
    maxBatch: 100,
    coalesceMs: 5,
  };
  const outbox = createUsageOutbox({
    send: async (record) => {
      await client.recordUsage({ record }, { timeoutMs: 3_000 });
    },
    dir,
    logger,
    retryInitialMs: 100,
    retryMaxMs: 500,
    ...(mode === "batch" ? batching : {}),
  });
  return { outbox, sent, close: () => client.close() };
}

// Record i costs i + 1 nano-dollars, so the total of n records is n(n + 1)/2.
function loadRecord(tenant: string, i: number) {
  const now = Date.now();
  return {
    requestId: `req-${i}-${randomUUID()}`,
    tenant,
    model: "claude-haiku-3",
    usage: { inputTokens: 10, outputTokens: 1 },
    cost: usdFromNanos(BigInt(i + 1)),
    status: UsageStatus.OK,
    startedAt: timestampFromMs(now),
    finishedAt: timestampFromMs(now),
  };
}

/** Submits `count` records from 10 callers, a few ms apart; `at(n)` runs after the nth. */
async function runLoad(
  outbox: UsageOutbox,
  tenant: string,
  count: number,
  at: Map<number, () => Promise<void>>,
): Promise<SubmitOutcome[]> {
  const outcomes: SubmitOutcome[] = [];
  let next = 0;
  const hooks: Promise<void>[] = [];
  await Promise.all(
    Array.from({ length: 10 }, async () => {
      while (next < count) {
        const i = next++;
        outcomes.push(await outbox.submit(loadRecord(tenant, i)));
        const hook = at.get(outcomes.length);
        if (hook) hooks.push(hook());
        await new Promise((r) => setTimeout(r, 5));
      }
    }),
  );
  await Promise.all(hooks);
  return outcomes;
}

async function stored(schema: string, tenant: string) {
  const result = await admin.query(
    `SELECT count(*)::int AS rows, count(DISTINCT request_id)::int AS ids,
            COALESCE(sum(cost_nanos), 0)::text AS nanos
       FROM ${schema}.usage_records WHERE tenant = $1`,
    [tenant],
  );
  return result.rows[0];
}

describe.each([
  ["one RecordUsage per record", "single"],
  ["RecordUsageBatch, coalescing submits", "batch"],
] as const)("usage outbox in front of the ledger, %s", (_, mode) => {
  it("loses nothing and duplicates nothing when the ledger is killed mid-load", async () => {
    const { schema, dir } = fresh();
    const env = {
      DATABASE_URL: TEST_DATABASE_URL,
      DATABASE_SCHEMA: schema,
      LEDGER_GRPC_PORT: String(await freePort()),
      LEDGER_HTTP_PORT: String(await freePort()),
    };
    let ledger = await spawnLedger(env);
    const { outbox, sent, close } = outboxTo(`127.0.0.1:${env.LEDGER_GRPC_PORT}`, dir, mode);
    const tenant = `kill-${randomUUID().slice(0, 8)}`;

    try {
      const outcomes = await runLoad(
        outbox,
        tenant,
        500,
        new Map([
          [
            150,
            async () => {
              await ledger.kill();
              await new Promise((r) => setTimeout(r, 1_000));
              ledger = await spawnLedger(env);
            },
          ],
        ]),
      );
      const drained = await outbox.drain(60_000);

      expect(outcomes.filter((o) => o === "queued").length).toBeGreaterThan(0);
      expect(outcomes.filter((o) => o === "dropped")).toEqual([]);
      expect(drained).toBe(true);
      // 1 + 2 + … + 500
      expect(await stored(schema, tenant)).toEqual({ rows: 500, ids: 500, nanos: "125250" });
      expect(sent.batches > 0).toBe(mode === "batch");
    } finally {
      await outbox.close();
      close();
      await ledger.stop();
    }
  });

  it(`loses nothing when postgres is away for ${OUTAGE_MS / 1000} s during a load`, async () => {
    const { schema, dir } = fresh();
    const proxy = await startTcpProxy(new URL(TEST_DATABASE_URL).port || "5432");
    const url = new URL(TEST_DATABASE_URL);
    url.host = `127.0.0.1:${proxy.port}`;
    const ledger = await startTestLedger({ DATABASE_URL: url.toString(), DATABASE_SCHEMA: schema });
    const { outbox, sent, close } = outboxTo(`127.0.0.1:${ledger.handle.grpcPort}`, dir, mode);
    const tenant = `pg-${randomUUID().slice(0, 8)}`;

    try {
      const outcomes = await runLoad(
        outbox,
        tenant,
        500,
        new Map([
          [
            100,
            async () => {
              await proxy.close();
              await new Promise((r) => setTimeout(r, OUTAGE_MS));
              await proxy.reopen();
            },
          ],
        ]),
      );
      const drained = await outbox.drain(60_000);

      expect(outcomes.filter((o) => o === "queued").length).toBeGreaterThan(0);
      expect(drained).toBe(true);
      expect(await stored(schema, tenant)).toEqual({ rows: 500, ids: 500, nanos: "125250" });
      expect(sent.batches > 0).toBe(mode === "batch");
    } finally {
      await outbox.close();
      close();
      await ledger.stop();
      await proxy.close();
    }
  });
});
