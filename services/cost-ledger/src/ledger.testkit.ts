import { randomUUID } from "node:crypto";
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import {
  CostLedgerService,
  UsageRecordSchema,
  UsageStatus,
  type UsageRecord,
} from "@mesh/contracts/ledger/v1/ledger_pb";
import { createLogger } from "@mesh/logging";
import { createGrpcClient, type GrpcClient } from "@mesh/rpc";
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
];

/** The columns of usage_records in a schema, as "name type" in ordinal order. */
export async function tableColumns(pool: pg.Pool, schema: string): Promise<string[]> {
  const result = await pool.query<{ c: string }>(
    `SELECT column_name || ' ' || data_type AS c FROM information_schema.columns
      WHERE table_schema = $1 AND table_name = 'usage_records' ORDER BY ordinal_position`,
    [schema],
  );
  return result.rows.map((r) => r.c);
}
