// Write benchmark for the cost ledger (not a test): how many usage rows per second it sustains
// into a real Postgres, through the batching writer alone and through gRPC RecordUsage.
//
//   pnpm --filter @mesh/cost-ledger bench:writes
//
// Env: DATABASE_URL (default postgres://postgres@127.0.0.1:5432/test), BENCH_SECONDS (5 per
// run), BENCH_CONCURRENCY (64 callers). Works in a throwaway schema, dropped at the end.
import { randomUUID } from "node:crypto";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import {
  BudgetPeriod,
  CostLedgerService,
  UsageStatus,
} from "@mesh/contracts/ledger/v1/ledger_pb";
import { createLogger } from "@mesh/logging";
import { createGrpcClient } from "@mesh/rpc";
import pg from "pg";
import { loadLedgerConfig } from "../src/config.js";
import { startCostLedgerService } from "../src/server.js";
import type { UsageRow } from "../src/usage-record.js";
import { createUsageWriter } from "../src/usage-writer.js";

const databaseUrl = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";
const seconds = Number(process.env.BENCH_SECONDS ?? 5);
const concurrency = Number(process.env.BENCH_CONCURRENCY ?? 64);
const schema = `ledger_bench_${randomUUID().replaceAll("-", "").slice(0, 8)}`;
const logger = createLogger("bench-writes", process.env.LOG_LEVEL ?? "warn");

interface Result {
  path: string;
  rows: number;
  seconds: number;
  p50Ms: number;
  p99Ms: number;
  batches?: number;
}

const ledger = await startCostLedgerService(
  loadLedgerConfig({
    DATABASE_URL: databaseUrl,
    DATABASE_SCHEMA: schema,
    LEDGER_GRPC_PORT: "0",
    LEDGER_HTTP_PORT: "0",
  }),
  logger,
  async () => undefined,
  { handleSignals: false },
);

const results: Result[] = [];
try {
  results.push(await benchWriter("writer, unbatched (1 row per INSERT)", 1));
  results.push(await benchWriter("writer, batched (up to 500 rows)", 500));
  results.push(await benchWriter("writer, batched + budget settlement", 500, true));
  results.push(await benchGrpc("gRPC RecordUsage, no budgets", "tenant"));
  results.push(await benchGrpcBatch("gRPC RecordUsageBatch, 100 a call", 100));
  await setBudgets();
  results.push(await benchGrpc("gRPC RecordUsage, 2 budgets/tenant", "budgeted"));
  results.push(await benchReserveAndSettle());

  const stored = await ledger.pool.query("SELECT count(*)::int AS n FROM usage_records");
  const expected = results.reduce((sum, r) => sum + r.rows, 0);
  print(results, concurrency);
  console.log(`rows in usage_records: ${stored.rows[0].n} (expected ${expected})`);
  if (stored.rows[0].n !== expected) process.exitCode = 1;
} finally {
  await ledger.pool.query(`DROP SCHEMA ${pg.escapeIdentifier(schema)} CASCADE`);
  await ledger.stop();
}

// The writer on the ledger's own pool, without gRPC: the database side of the ceiling. With
// `settle`, each batch also runs ledger_settle (tenant locks, budget lookup) as RecordUsage does.
async function benchWriter(path: string, maxBatchRows: number, settle = false): Promise<Result> {
  const writer = createUsageWriter({
    pool: ledger.pool,
    logger,
    maxBatchRows,
    lingerMs: 0,
    maxInFlightBatches: 9,
    ...(settle ? { budgets: ledger.budgets } : {}),
  });

  const run = await drive(async () => {
    await writer.write(benchRow());
  });
  return { path, ...run, batches: writer.stats().batches };
}

// RecordUsage over gRPC from `concurrency` callers: what the gateway would see. The writer
// settles budgets in the same transaction, so tenants with budgets cost a little more.
async function benchGrpc(path: string, tenantPrefix: string): Promise<Result> {
  const clients = grpcClients();
  const before = ledger.writer.stats().batches;

  let next = 0;
  const run = await drive(async () => {
    const client = clients[next++ % clients.length]!;
    await client.recordUsage({ record: benchRecord(tenantPrefix) });
  });

  for (const client of clients) client.close();
  return { path, ...run, batches: ledger.writer.stats().batches - before };
}

// RecordUsageBatch of `size` records a call, as the gateway's outbox sends a backlog or the
// records that arrive together. Rows are records; latency is per call.
async function benchGrpcBatch(path: string, size: number): Promise<Result> {
  const clients = grpcClients();
  const before = ledger.writer.stats().batches;

  let next = 0;
  const run = await drive(async () => {
    const client = clients[next++ % clients.length]!;
    const records = Array.from({ length: size }, () => benchRecord("tenant"));
    await client.recordUsageBatch({ records });
  });

  for (const client of clients) client.close();
  const batches = ledger.writer.stats().batches - before;
  return { path, ...run, rows: run.rows * size, batches };
}

// A request's full ledger path: ReserveBudget, then RecordUsage settling the reservation.
// Rows counted are usage rows; each also took one reservation.
async function benchReserveAndSettle(): Promise<Result> {
  const clients = grpcClients();
  const before = ledger.writer.stats().batches;

  let next = 0;
  const run = await drive(async () => {
    const client = clients[next++ % clients.length]!;
    const record = benchRecord("budgeted");
    const reserved = await client.reserveBudget({
      requestId: record.requestId,
      tenant: record.tenant,
      apiKeyId: record.apiKeyId,
      model: record.model,
      amount: { currencyCode: "USD", units: 0n, nanos: 2_000_000 },
    });
    await client.recordUsage({ record: { ...record, reservationId: reserved.reservationId } });
  });

  for (const client of clients) client.close();
  const batches = ledger.writer.stats().batches - before;
  return { path: "gRPC ReserveBudget + RecordUsage", ...run, batches };
}

function grpcClients() {
  return Array.from({ length: 4 }, () =>
    createGrpcClient(CostLedgerService, `127.0.0.1:${ledger.grpcPort}`),
  );
}

// Seven tenants, each with a daily and a monthly budget large enough never to refuse.
async function setBudgets(): Promise<void> {
  const client = createGrpcClient(CostLedgerService, `127.0.0.1:${ledger.grpcPort}`);
  for (let t = 0; t < 7; t++) {
    for (const period of [BudgetPeriod.DAY, BudgetPeriod.MONTH]) {
      await client.setBudget({
        budget: {
          tenant: `budgeted-${t}`,
          period,
          limit: { currencyCode: "USD", units: 1_000_000_000n },
        },
      });
    }
  }
  client.close();
}

async function drive(once: () => Promise<void>) {
  const latencies: number[] = [];
  const started = performance.now();
  const deadline = started + seconds * 1_000;

  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < deadline) {
        const t0 = performance.now();
        await once();
        latencies.push(performance.now() - t0);
      }
    }),
  );

  latencies.sort((a, b) => a - b);
  const at = (q: number) =>
    latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0;
  return {
    rows: latencies.length,
    seconds: (performance.now() - started) / 1_000,
    p50Ms: at(0.5),
    p99Ms: at(0.99),
  };
}

function benchRecord(tenantPrefix: string) {
  const now = Date.now();
  return {
    requestId: randomUUID(),
    tenant: `${tenantPrefix}-${now % 7}`,
    apiKeyId: "key-bench",
    model: "claude-haiku-3",
    provider: "simulator",
    endpoint: "grpc",
    usage: { inputTokens: 1_000, outputTokens: 100 },
    cost: { currencyCode: "USD", units: 0n, nanos: 375_000 },
    latencyMs: 3,
    status: UsageStatus.OK,
    startedAt: timestampFromMs(now - 3),
    finishedAt: timestampFromMs(now),
  };
}

function benchRow(): UsageRow {
  const now = new Date();
  return {
    requestId: randomUUID(),
    tenant: `tenant-${now.getTime() % 7}`,
    apiKeyId: "key-bench",
    userId: "",
    modelRequested: "",
    model: "claude-haiku-3",
    provider: "simulator",
    deployment: "",
    endpoint: "grpc",
    inputTokens: 1_000,
    outputTokens: 100,
    cacheReadTokens: 0,
    cacheWriteTokens: 0,
    reasoningTokens: 0,
    costNanos: 375_000n,
    currency: "USD",
    latencyMs: 3,
    status: "ok",
    cacheHit: false,
    startedAt: now.toISOString(),
    finishedAt: now.toISOString(),
    reservationId: "",
    prices: null,
  };
}

function print(rows: Result[], callers: number): void {
  const host = new URL(databaseUrl).host;
  console.log(`\ncost ledger writes into ${host}, ${callers} concurrent callers`);
  console.log("path                                   rows/s   rows    p50 ms  p99 ms  batches");
  for (const r of rows) {
    console.log(
      [
        r.path.padEnd(37).slice(0, 37),
        Math.round(r.rows / r.seconds).toString().padStart(7),
        r.rows.toString().padStart(7),
        r.p50Ms.toFixed(2).padStart(8),
        r.p99Ms.toFixed(2).padStart(7),
        (r.batches ?? 0).toString().padStart(8),
      ].join(" "),
    );
  }
}
