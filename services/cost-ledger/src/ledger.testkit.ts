import { spawn, type ChildProcess } from "node:child_process";
import { randomUUID } from "node:crypto";
import { connect, createServer, type AddressInfo, type Server, type Socket } from "node:net";
import { fileURLToPath } from "node:url";
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import {
  CostLedgerService,
  UsageRecordSchema,
  UsageStatus,
  type UsageRecord,
} from "@mesh/contracts/ledger/v1/ledger_pb";
import { createLogger } from "@mesh/logging";
import { createGrpcClient, RpcError, type GrpcClient } from "@mesh/rpc";
import type pg from "pg";
import { loadLedgerConfig } from "./config.js";
import { startCostLedgerService, type CostLedgerHandle } from "./server.js";

/**
 * Test helpers shared by the Postgres and PGlite suites.
 * @private
 */

/** The real Postgres the tests use; each test file works in its own fresh schema. */
export const TEST_DATABASE_URL =
  process.env.TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";

/** A schema name no other test run uses. */
export function freshSchemaName(prefix: string): string {
  return `${prefix}_${randomUUID().replaceAll("-", "").slice(0, 12)}`;
}

/** A started ledger plus a gRPC client to it. */
export interface RunningLedger {
  handle: CostLedgerHandle;
  client: GrpcClient<typeof CostLedgerService>;
  stop(): Promise<void>;
}

/** Starts the ledger on ports 0 with the given environment, without signal handlers. */
export async function startTestLedger(env: Record<string, string>): Promise<RunningLedger> {
  const config = loadLedgerConfig({
    LEDGER_GRPC_PORT: "0",
    LEDGER_HTTP_PORT: "0",
    LEDGER_POOL_MAX: "4",
    SHUTDOWN_DEADLINE_MS: "3000",
    ...env,
  });
  const logger = createLogger("cost-ledger-test", process.env.TEST_LOG_LEVEL ?? "silent");
  const handle = await startCostLedgerService(config, logger, async () => undefined, {
    handleSignals: false,
  });
  const client = createGrpcClient(CostLedgerService, `127.0.0.1:${handle.grpcPort}`);

  return {
    handle,
    client,
    async stop() {
      client.close();
      await handle.stop();
    },
  };
}

/** A UsageRecord as a plain object literal. */
export type RecordInit = Exclude<MessageInitShape<typeof UsageRecordSchema>, UsageRecord>;

/** A complete usage record; every field set so a row can be checked column by column. */
export function sampleRecord(overrides: Partial<RecordInit> = {}): RecordInit {
  return {
    requestId: `req-${randomUUID()}`,
    tenant: "acme",
    apiKeyId: "key-1",
    user: "user-7",
    modelRequested: "claude-sonnet",
    model: "claude-sonnet-4",
    provider: "anthropic",
    deployment: "us-east",
    endpoint: "anthropic-messages",
    usage: {
      inputTokens: 1_000,
      outputTokens: 100,
      cacheReadTokens: 800,
      cacheWriteTokens: 200,
      reasoningTokens: 40,
    },
    cost: { currencyCode: "USD", units: 0n, nanos: 4_740_000 },
    latencyMs: 812,
    status: UsageStatus.OK,
    cacheHit: false,
    startedAt: timestampFromMs(Date.parse("2026-11-05T10:00:00.123Z")),
    finishedAt: timestampFromMs(Date.parse("2026-11-05T10:00:00.935Z")),
    ...overrides,
  };
}

/** Builds the protobuf message of a record init, for direct calls to mapping code. */
export function recordMessage(init: RecordInit): UsageRecord {
  return create(UsageRecordSchema, init);
}

/** A usage row read back with every column as exact text (times in UTC, microseconds). */
export async function readRow(
  pool: pg.Pool,
  requestId: string,
): Promise<Record<string, string | boolean> | undefined> {
  const result = await pool.query(
    `SELECT request_id, tenant, api_key_id, user_id, model_requested, model, provider,
            deployment, endpoint, input_tokens::text, output_tokens::text,
            cache_read_tokens::text, cache_write_tokens::text, reasoning_tokens::text,
            cost_nanos::text, currency, latency_ms::text, status, cache_hit,
            ${utc("started_at")}, ${utc("finished_at")},
            recorded_at > now() - interval '1 minute' AS recorded_recently
       FROM usage_records WHERE request_id = $1`,
    [requestId],
  );
  return result.rows[0];
}

function utc(column: string): string {
  return `to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS ${column}`;
}

/** Columns of usage_records in order, with their Postgres types, as migrations create them. */
export const EXPECTED_COLUMNS = [
  "request_id text",
  "tenant text",
  "api_key_id text",
  "user_id text",
  "model_requested text",
  "model text",
  "provider text",
  "deployment text",
  "endpoint text",
  "input_tokens bigint",
  "output_tokens bigint",
  "cache_read_tokens bigint",
  "cache_write_tokens bigint",
  "reasoning_tokens bigint",
  "cost_nanos bigint",
  "currency text",
  "latency_ms bigint",
  "status text",
  "cache_hit boolean",
  "started_at timestamp with time zone",
  "finished_at timestamp with time zone",
  "recorded_at timestamp with time zone",
  "reservation_id text",
  "input_nanos_per_mtok bigint",
  "output_nanos_per_mtok bigint",
  "cache_read_nanos_per_mtok bigint",
  "cache_write_nanos_per_mtok bigint",
  "quality_score double precision",
  "feedback_comment text",
  "feedback_at timestamp with time zone",
];

/** How many migrations the ledger has; a fresh schema runs them all once. */
export const MIGRATION_COUNT = 3;

/** The columns of usage_records in a schema, as "name type" in ordinal order. */
export async function tableColumns(pool: pg.Pool, schema: string): Promise<string[]> {
  const result = await pool.query<{ c: string }>(
    `SELECT column_name || ' ' || data_type AS c FROM information_schema.columns
      WHERE table_schema = $1 AND table_name = 'usage_records' ORDER BY ordinal_position`,
    [schema],
  );
  return result.rows.map((r) => r.c);
}

/** A ledger running as its own Node process, as in production. */
export interface LedgerProcess {
  grpcPort: number;
  httpPort: number;
  client: GrpcClient<typeof CostLedgerService>;
  /** Its JSON log lines so far. */
  logs: string[];
  child: ChildProcess;
  /** Kills it with SIGKILL (no drain, no flush) and waits for the exit. */
  kill(): Promise<void>;
  /** SIGTERM, then waits for the exit. */
  stop(): Promise<void>;
}

const SERVICE_DIR = fileURLToPath(new URL("..", import.meta.url));

/**
 * Starts `src/main.ts` in a child process with the given environment (ports default to free
 * ones chosen here, so a restart can reuse them) and waits until /ready answers 200.
 */
export async function spawnLedger(env: Record<string, string>): Promise<LedgerProcess> {
  const grpcPort = Number(env.LEDGER_GRPC_PORT ?? (await freePort()));
  const httpPort = Number(env.LEDGER_HTTP_PORT ?? (await freePort()));
  const baseEnv: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (value !== undefined && !/^(ANTHROPIC|OPENAI|OTEL)_/.test(key)) baseEnv[key] = value;
  }

  const child = spawn(process.execPath, ["--import", "tsx", "src/main.ts"], {
    cwd: SERVICE_DIR,
    env: {
      ...baseEnv,
      LOG_LEVEL: "info",
      SHUTDOWN_DEADLINE_MS: "3000",
      ...env,
      LEDGER_GRPC_PORT: String(grpcPort),
      LEDGER_HTTP_PORT: String(httpPort),
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const logs: string[] = [];
  for (const stream of [child.stdout, child.stderr]) {
    let rest = "";
    stream.setEncoding("utf8");
    stream.on("data", (chunk: string) => {
      const lines = (rest + chunk).split("\n");
      rest = lines.pop() ?? "";
      logs.push(...lines.filter((l) => l));
    });
  }
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));

  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) {
      throw new Error(`ledger exited with ${child.exitCode}:\n${logs.slice(-10).join("\n")}`);
    }
    const ready = await fetch(`http://127.0.0.1:${httpPort}/ready`).catch(() => undefined);
    if (ready?.status === 200) break;
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`ledger not ready within 60 s:\n${logs.slice(-10).join("\n")}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }

  const client = createGrpcClient(CostLedgerService, `127.0.0.1:${grpcPort}`);
  const end = async (signal: NodeJS.Signals) => {
    client.close();
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    await exited;
  };
  return {
    grpcPort,
    httpPort,
    client,
    logs,
    child,
    kill: () => end("SIGKILL"),
    stop: () => end("SIGTERM"),
  };
}

/** A TCP port free right now on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** Catalog prices of claude-sonnet-4 in nano-dollars per million tokens ($3/$15/$0.30/$3.75). */
export const SONNET_PRICES = {
  inputNanosPerMtok: 3_000_000_000n,
  outputNanosPerMtok: 15_000_000_000n,
  cacheReadNanosPerMtok: 300_000_000n,
  cacheWriteNanosPerMtok: 3_750_000_000n,
};

/** Reads one gauge or counter sample from a Prometheus text page; undefined when absent. */
export function metricValue(page: string, series: string): number | undefined {
  const line = page.split("\n").find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

/** A TCP relay a test can cut and restore. */
export interface TcpProxy {
  port: number;
  /** Stops listening and cuts every open connection, as a Postgres outage would. */
  close(): Promise<void>;
  /** Listens again on the same port. */
  reopen(): Promise<void>;
}

/** A TCP relay in front of the real Postgres, so a test can take the database away and back. */
export async function startTcpProxy(targetPort: string): Promise<TcpProxy> {
  const sockets = new Set<Socket>();
  let server: Server | undefined;
  let port = 0;

  const listen = async () => {
    server = createServer((client) => {
      const upstream = connect(Number(targetPort), "127.0.0.1");
      for (const s of [client, upstream]) {
        sockets.add(s);
        s.on("error", () => undefined);
        s.on("close", () => {
          sockets.delete(s);
          client.destroy();
          upstream.destroy();
        });
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve) => server!.listen(port, "127.0.0.1", resolve));
    port = (server!.address() as AddressInfo).port;
  };

  await listen();
  return {
    get port() {
      return port;
    },
    async close() {
      const closing = server;
      server = undefined;
      for (const s of sockets) s.destroy();
      if (closing) await new Promise<void>((resolve) => closing.close(() => resolve()));
    },
    reopen: listen,
  };
}

/** A WatchBudgetedTenants stream a test reads along. */
export interface BudgetWatch {
  /** Every snapshot received so far, oldest first. */
  snapshots: Array<{ tenants: string[]; version: bigint }>;
  /** The tenants of the latest snapshot; undefined before the first. */
  latest(): string[] | undefined;
  /**
   * The first snapshot, received or to come, from index `from` (default 0) on, whose tenants
   * pass the test.
   */
  until(
    test: (tenants: string[]) => boolean,
    options?: { from?: number; timeoutMs?: number },
  ): Promise<string[]>;
  /** How the stream ended: "ok", or the error's gRPC reason (or code when it has none). */
  ended: Promise<string>;
  /** Cancels the stream. */
  stop(): void;
}

/** Opens WatchBudgetedTenants on a client and records what arrives. */
export function watchBudgets(client: GrpcClient<typeof CostLedgerService>): BudgetWatch {
  const abort = new AbortController();
  const snapshots: BudgetWatch["snapshots"] = [];
  const waiters = new Set<() => void>();

  const ended = (async () => {
    try {
      for await (const s of client.watchBudgetedTenants({}, { signal: abort.signal })) {
        snapshots.push({ tenants: s.tenants, version: s.version });
        for (const wake of [...waiters]) wake();
      }
      return "ok";
    } catch (err) {
      if (err instanceof RpcError) return err.reason || `code ${err.code}`;
      throw err;
    }
  })();

  return {
    snapshots,
    latest: () => snapshots.at(-1)?.tenants,
    until(test, { from = 0, timeoutMs = 5_000 } = {}) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const found = snapshots.slice(from).find((s) => test(s.tenants));
          if (!found) return;
          waiters.delete(check);
          clearTimeout(timer);
          resolve(found.tenants);
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          const seen = JSON.stringify(snapshots.map((s) => s.tenants));
          reject(new Error(`no such budget snapshot within ${timeoutMs} ms; got ${seen}`));
        }, timeoutMs);
        waiters.add(check);
        check();
      });
    },
    ended,
    stop: () => abort.abort(),
  };
}
