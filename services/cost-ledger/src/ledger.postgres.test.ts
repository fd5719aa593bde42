import { GrpcStatus, RpcError } from "@mesh/rpc";
import pg from "pg";
import { afterAll, describe, expect, it } from "vitest";
import { describeLedgerContract } from "./ledger-contract.testkit.js";
import {
  freshSchemaName,
  MIGRATION_COUNT,
  readRow,
  sampleRecord,
  startTcpProxy,
  startTestLedger,
  TEST_DATABASE_URL,
} from "./ledger.testkit.js";
import { MIGRATIONS_TABLE } from "./migrations.js";

// Every schema this file creates; all are dropped at the end.
const schemas: string[] = [];
function schemaForTest(): string {
  const name = freshSchemaName("ledger_test");
  schemas.push(name);
  return name;
}

const admin = new pg.Pool({ connectionString: TEST_DATABASE_URL, max: 2 });
afterAll(async () => {
  for (const schema of schemas) await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await admin.end();
});

const contractSchema = schemaForTest();
describeLedgerContract("postgres", () => ({
  DATABASE_URL: TEST_DATABASE_URL,
  DATABASE_SCHEMA: contractSchema,
}));

describe("cost ledger on postgres, schema isolation", () => {
  it("points every pooled connection at DATABASE_SCHEMA, and only there", async () => {
    const schema = schemaForTest();
    const ledger = await startTestLedger({
      DATABASE_URL: TEST_DATABASE_URL,
      DATABASE_SCHEMA: schema,
    });

    try {
      // Hold all four connections at once so each one is a separate session.
      const clients = await Promise.all([1, 2, 3, 4].map(() => ledger.handle.pool.connect()));
      const paths = await Promise.all(clients.map((c) => c.query("SHOW search_path")));
      for (const c of clients) c.release();
      const tables = await admin.query(
        `SELECT table_schema FROM information_schema.tables
          WHERE table_name = 'usage_records' AND table_schema = ANY($1)`,
        [[schema, "public"]],
      );

      expect(paths.map((p) => p.rows[0].search_path)).toEqual([schema, schema, schema, schema]);
      expect(tables.rows).toEqual([{ table_schema: schema }]);
    } finally {
      await ledger.stop();
    }
  });
});

describe("cost ledger on postgres, when things go wrong", () => {
  it("answers UNAVAILABLE while postgres is unreachable and recovers when it is back", async () => {
    const proxy = await startTcpProxy(new URL(TEST_DATABASE_URL).port || "5432");
    const url = new URL(TEST_DATABASE_URL);
    url.host = `127.0.0.1:${proxy.port}`;
    const ledger = await startTestLedger({
      DATABASE_URL: url.toString(),
      DATABASE_SCHEMA: schemaForTest(),
    });

    try {
      await proxy.close();
      const record = sampleRecord();
      const batched = sampleRecord();
      const error = await ledger.client.recordUsage({ record }).catch((err: unknown) => err);
      const batchError = await ledger.client
        .recordUsageBatch({ records: [batched] })
        .catch((err: unknown) => err);
      const spendError = await ledger.client.getSpend({ tenant: "acme" }).catch((e: unknown) => e);
      const ready = await fetch(`http://127.0.0.1:${ledger.handle.httpPort}/ready`);

      expect(error).toBeInstanceOf(RpcError);
      expect((error as RpcError).code).toBe(GrpcStatus.UNAVAILABLE);
      expect((error as RpcError).reason).toBe("database_unavailable");
      expect((batchError as RpcError).code).toBe(GrpcStatus.UNAVAILABLE);
      expect((batchError as RpcError).reason).toBe("database_unavailable");
      expect((spendError as RpcError).code).toBe(GrpcStatus.UNAVAILABLE);
      expect(ready.status).toBe(503);

      await proxy.reopen();
      const retried = await ledger.client.recordUsage({ record });
      const retriedBatch = await ledger.client.recordUsageBatch({ records: [batched] });
      const readyAgain = await fetch(`http://127.0.0.1:${ledger.handle.httpPort}/ready`);

      expect(retried.duplicate).toBe(false);
      expect(retriedBatch.results).toMatchObject([{ duplicate: false, invalid: "" }]);
      expect((await readRow(ledger.handle.pool, batched.requestId!))?.cost_nanos).toBe("4740000");
      expect((await readRow(ledger.handle.pool, record.requestId!))?.cost_nanos).toBe("4740000");
      expect(readyAgain.status).toBe(200);
    } finally {
      await ledger.stop();
      await proxy.close();
    }
  });

  it("lets two replicas start on a fresh schema at once, migrating it once", async () => {
    const env = { DATABASE_URL: TEST_DATABASE_URL, DATABASE_SCHEMA: schemaForTest() };

    const [a, b] = await Promise.all([startTestLedger(env), startTestLedger(env)]);
    try {
      const ran = await a.handle.pool.query(`SELECT count(*)::int AS n FROM ${MIGRATIONS_TABLE}`);
      const record = sampleRecord();
      const viaA = await a.client.recordUsage({ record });
      const viaB = await b.client.recordUsage({ record });

      expect(ran.rows[0].n).toBe(MIGRATION_COUNT);
      expect([viaA.duplicate, viaB.duplicate]).toEqual([false, true]);
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }
  });
});
