import type { Timestamp } from "@bufbuild/protobuf/wkt";
import type { Money } from "@mesh/contracts/common/v1/money_pb";
import { UsageStatus, type UsageRecord } from "@mesh/contracts/ledger/v1/ledger_pb";
import { formatUsd, moneyToNanos } from "@mesh/money";
import { GrpcStatus, RpcError } from "@mesh/rpc";

/** A request's outcome as stored in usage_records.status. */
export type UsageStatusText = "ok" | "error" | "blocked" | "cancelled";

/**
 * One usage_records row, validated and in the types written to Postgres: counts as numbers
 * (uint32 on the wire), money as integer nano-dollars, times as ISO-8601 with microseconds.
 */
export interface UsageRow {
  requestId: string;
  tenant: string;
  apiKeyId: string;
  userId: string;
  modelRequested: string;
  model: string;
  provider: string;
  deployment: string;
  endpoint: string;
  inputTokens: number;
  outputTokens: number;
  cacheReadTokens: number;
  cacheWriteTokens: number;
  reasoningTokens: number;
  costNanos: bigint;
  currency: string;
  latencyMs: number;
  status: UsageStatusText;
  cacheHit: boolean;
  startedAt: string;
  finishedAt: string;
  /** The reservation this row settles; "" when none. */
  reservationId: string;
  /** Prices the cost was computed at; null when the caller sent none. */
  prices: RowPrices | null;
}

/** A model's prices in nano-dollars per million tokens, as stored beside a usage row. */
export interface RowPrices {
  inputNanosPerMTok: bigint;
  outputNanosPerMTok: bigint;
  cacheReadNanosPerMTok: bigint;
  cacheWriteNanosPerMTok: bigint;
}

/** A column the batch insert writes: its name, Postgres type and value in a row. */
export interface UsageColumn {
  name: string;
  pgType: string;
  value(row: UsageRow): string | number | boolean | null;
}

/**
 * The columns RecordUsage writes, in insert order. recorded_at is left to its default. A new
 * column is one migration plus one entry here.
 */
export const USAGE_COLUMNS: readonly UsageColumn[] = [
  { name: "request_id", pgType: "text", value: (r) => r.requestId },
  { name: "tenant", pgType: "text", value: (r) => r.tenant },
  { name: "api_key_id", pgType: "text", value: (r) => r.apiKeyId },
  { name: "user_id", pgType: "text", value: (r) => r.userId },
  { name: "model_requested", pgType: "text", value: (r) => r.modelRequested },
  { name: "model", pgType: "text", value: (r) => r.model },
  { name: "provider", pgType: "text", value: (r) => r.provider },
  { name: "deployment", pgType: "text", value: (r) => r.deployment },
  { name: "endpoint", pgType: "text", value: (r) => r.endpoint },
  { name: "input_tokens", pgType: "bigint", value: (r) => r.inputTokens },
  { name: "output_tokens", pgType: "bigint", value: (r) => r.outputTokens },
  { name: "cache_read_tokens", pgType: "bigint", value: (r) => r.cacheReadTokens },
  { name: "cache_write_tokens", pgType: "bigint", value: (r) => r.cacheWriteTokens },
  { name: "reasoning_tokens", pgType: "bigint", value: (r) => r.reasoningTokens },
  { name: "cost_nanos", pgType: "bigint", value: (r) => r.costNanos.toString() },
  { name: "currency", pgType: "text", value: (r) => r.currency },
  { name: "latency_ms", pgType: "bigint", value: (r) => r.latencyMs },
  { name: "status", pgType: "text", value: (r) => r.status },
  { name: "cache_hit", pgType: "boolean", value: (r) => r.cacheHit },
  { name: "started_at", pgType: "timestamptz", value: (r) => r.startedAt },
  { name: "finished_at", pgType: "timestamptz", value: (r) => r.finishedAt },
  { name: "reservation_id", pgType: "text", value: (r) => r.reservationId },
  { name: "input_nanos_per_mtok", pgType: "bigint", value: (r) => price(r, "inputNanosPerMTok") },
  {
    name: "output_nanos_per_mtok",
    pgType: "bigint",
    value: (r) => price(r, "outputNanosPerMTok"),
  },
  {
    name: "cache_read_nanos_per_mtok",
    pgType: "bigint",
    value: (r) => price(r, "cacheReadNanosPerMTok"),
  },
  {
    name: "cache_write_nanos_per_mtok",
    pgType: "bigint",
    value: (r) => price(r, "cacheWriteNanosPerMTok"),
  },
];

function price(row: UsageRow, key: keyof RowPrices): string | null {
  return row.prices ? row.prices[key].toString() : null;
}

const MAX_ID_LENGTH = 200;
const MICROS_PER_SECOND = 1_000_000n;
// The range of google.protobuf.Timestamp: 0001-01-01 to 9999-12-31.
const MIN_SECONDS = -62_135_596_800n;
const MAX_SECONDS = 253_402_300_799n;

/**
 * Validates a RecordUsage record and turns it into a row. Throws INVALID_ARGUMENT naming the
 * field when the request id or tenant is missing, the cost is negative or not USD, a price is
 * negative, or the status is unspecified. A missing finished_at is the time of recording; a
 * missing started_at is finished_at minus latency_ms.
 */
export function usageRowFromRecord(record: UsageRecord | undefined, now = new Date()): UsageRow {
  if (!record) throw invalid("record is required");

  const requestId = text(record.requestId, "record.request_id");
  if (!requestId) throw invalid("record.request_id is required: the mesh's own request id");
  if (requestId.length > MAX_ID_LENGTH) {
    throw invalid(`record.request_id has ${requestId.length} characters; at most 200 are allowed`);
  }

  const tenant = text(record.tenant, "record.tenant");
  if (!tenant) throw invalid("record.tenant is required");
  if (tenant.length > MAX_ID_LENGTH) {
    throw invalid(`record.tenant has ${tenant.length} characters; at most 200 are allowed`);
  }

  const { costNanos, currency } = cost(record);
  const usage = record.usage;
  const finishedMicros = record.finishedAt
    ? timestampMicros(record.finishedAt, "record.finished_at")
    : BigInt(now.getTime()) * 1_000n;
  const startedMicros = record.startedAt
    ? timestampMicros(record.startedAt, "record.started_at")
    : finishedMicros - BigInt(record.latencyMs) * 1_000n;

  return {
    requestId,
    tenant,
    apiKeyId: text(record.apiKeyId, "record.api_key_id"),
    userId: text(record.user, "record.user"),
    modelRequested: text(record.modelRequested, "record.model_requested"),
    model: text(record.model, "record.model"),
    provider: text(record.provider, "record.provider"),
    deployment: text(record.deployment, "record.deployment"),
    endpoint: text(record.endpoint, "record.endpoint"),
    inputTokens: usage?.inputTokens ?? 0,
    outputTokens: usage?.outputTokens ?? 0,
    cacheReadTokens: usage?.cacheReadTokens ?? 0,
    cacheWriteTokens: usage?.cacheWriteTokens ?? 0,
    reasoningTokens: usage?.reasoningTokens ?? 0,
    costNanos,
    currency,
    latencyMs: record.latencyMs,
    status: statusText(record.status),
    cacheHit: record.cacheHit,
    startedAt: isoFromMicros(startedMicros),
    finishedAt: isoFromMicros(finishedMicros),
    reservationId: boundedText(record.reservationId, "record.reservation_id"),
    prices: prices(record),
  };
}

/** Microseconds since the epoch of a protobuf Timestamp (Postgres keeps microseconds). */
export function timestampMicros(
  ts: Timestamp,
  field: string,
  reason = "invalid_usage_record",
): bigint {
  const secondsOk = ts.seconds >= MIN_SECONDS && ts.seconds <= MAX_SECONDS;
  if (!secondsOk || ts.nanos < 0 || ts.nanos > 999_999_999) {
    throw new RpcError(
      GrpcStatus.INVALID_ARGUMENT,
      `${field} is outside 0001-01-01..9999-12-31 or has nanos outside 0..999999999`,
      reason,
    );
  }

  return ts.seconds * MICROS_PER_SECOND + BigInt(Math.floor(ts.nanos / 1_000));
}

/** ISO-8601 UTC text with six fractional digits, exact for any microsecond instant. */
export function isoFromMicros(micros: bigint): string {
  const millis = micros / 1_000n - (micros % 1_000n < 0n ? 1n : 0n);
  const subMillis = micros - millis * 1_000n;
  const iso = new Date(Number(millis)).toISOString();
  return `${iso.slice(0, -1)}${subMillis.toString().padStart(3, "0")}Z`;
}

function cost(record: UsageRecord): { costNanos: bigint; currency: string } {
  const costNanos = usdNanos(record.cost, "record.cost", "invalid_usage_record");
  return { costNanos, currency: "USD" };
}

/** The largest amount a bigint column of nano-dollars holds. */
const MAX_NANOS = 9_223_372_036_854_775_807n;

/**
 * Integer nano-dollars of a non-negative USD Money (absent = 0). Throws INVALID_ARGUMENT with
 * `reason`, naming `field`, for another currency, nanos out of range, mixed signs or a
 * negative amount, or one past what the ledger can hold.
 */
export function usdNanos(money: Money | undefined, field: string, reason: string): bigint {
  if (!money) return 0n;

  const fail = (message: string) => new RpcError(GrpcStatus.INVALID_ARGUMENT, message, reason);
  const currency = money.currencyCode || "USD";
  if (currency !== "USD") {
    throw fail(`${field}.currency_code is "${currency}"; the ledger records USD only`);
  }
  if (money.nanos <= -1_000_000_000 || money.nanos >= 1_000_000_000) {
    throw fail(`${field}.nanos is ${money.nanos}; it must lie within ±999,999,999`);
  }
  if ((money.units > 0n && money.nanos < 0) || (money.units < 0n && money.nanos > 0)) {
    throw fail(`${field}.units and ${field}.nanos must have the same sign`);
  }

  const nanos = moneyToNanos(money);
  if (nanos < 0n) {
    throw fail(`${field} is -${formatUsd(-nanos)} USD; it must not be negative`);
  }
  if (nanos > MAX_NANOS) {
    throw fail(`${field} is ${formatUsd(nanos)} USD; the ledger holds at most ` +
      `${formatUsd(MAX_NANOS)} USD (a signed 64-bit count of nano-dollars)`);
  }
  return nanos;
}

function prices(record: UsageRecord): RowPrices | null {
  const p = record.prices;
  if (!p) return null;

  const entries = [
    ["input_nanos_per_mtok", p.inputNanosPerMtok],
    ["output_nanos_per_mtok", p.outputNanosPerMtok],
    ["cache_read_nanos_per_mtok", p.cacheReadNanosPerMtok],
    ["cache_write_nanos_per_mtok", p.cacheWriteNanosPerMtok],
  ] as const;
  for (const [field, value] of entries) {
    if (value < 0n) {
      throw invalid(`record.prices.${field} is ${value}; prices must not be negative`);
    }
  }
  return {
    inputNanosPerMTok: p.inputNanosPerMtok,
    outputNanosPerMTok: p.outputNanosPerMtok,
    cacheReadNanosPerMTok: p.cacheReadNanosPerMtok,
    cacheWriteNanosPerMTok: p.cacheWriteNanosPerMtok,
  };
}

function statusText(status: UsageStatus): UsageStatusText {
  switch (status) {
    case UsageStatus.OK:
      return "ok";
    case UsageStatus.ERROR:
      return "error";
    case UsageStatus.BLOCKED:
      return "blocked";
    case UsageStatus.CANCELLED:
      return "cancelled";
    default:
      throw invalid(`record.status is ${status}; use OK, ERROR, BLOCKED or CANCELLED`);
  }
}

// Postgres text cannot hold NUL, and a row that fails in the database fails its whole batch.
function text(value: string, field: string): string {
  if (value.includes("\u0000")) throw invalid(`${field} contains a NUL character`);
  return value;
}

function boundedText(value: string, field: string): string {
  const checked = text(value, field);
  if (checked.length > MAX_ID_LENGTH) {
    throw invalid(`${field} has ${checked.length} characters; at most 200 are allowed`);
  }
  return checked;
}

function invalid(message: string): RpcError {
  return new RpcError(GrpcStatus.INVALID_ARGUMENT, message, "invalid_usage_record");
}
