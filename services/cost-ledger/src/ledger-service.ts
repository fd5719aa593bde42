import type { MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import {
  type Budget,
  BudgetStateSchema,
  CostLedgerService,
  ReservationState,
  type SpendRowSchema,
  SpendGroup,
} from "@mesh/contracts/ledger/v1/ledger_pb";
import type { Logger } from "@mesh/logging";
import { usdFromNanos } from "@mesh/money";
import { GrpcStatus, RpcError, type ServiceImpl } from "@mesh/rpc";
import { startConsumerSpan } from "@mesh/telemetry";
import { SpanStatusCode, trace } from "@opentelemetry/api";
import type pg from "pg";
import type { BudgetDirectory } from "./budget-directory.js";
import type {
  BudgetSnapshot,
  BudgetStore,
  ReservationRow,
  ReservationStateText,
} from "./budget-store.js";
import { periodFromProto, periodToProto } from "./budget-windows.js";
import { rpcErrorFromDatabase } from "./database-errors.js";
import { querySpend, querySpendGroups, type SpendGroupName, type SpendGroupRow } from "./spend.js";
import { isoFromMicros, timestampMicros, usageRowFromRecord, usdNanos } from "./usage-record.js";
import type { UsageWriter } from "./usage-writer.js";

/** What the ledger's handlers need. */
export interface LedgerDeps {
  pool: pg.Pool;
  writer: UsageWriter;
  budgets: BudgetStore;
  directory: Pick<BudgetDirectory, "watch">;
  logger: Logger;
}

const MAX_ID_LENGTH = 200;
/** Records per RecordUsageBatch call at most; the gateway's outbox sends 100. */
const MAX_BATCH_RECORDS = 1_000;
const MAX_ALERT_PERCENTS = 10;

/**
 * The CostLedgerService handlers. RecordUsage: INVALID_ARGUMENT for a bad record, UNAVAILABLE
 * when Postgres cannot be reached (retry or keep it in an outbox), duplicate=true when the
 * request id was already recorded; a record naming a held reservation settles it in the same
 * transaction. RecordUsageBatch: the same per record, a bad record refused in its own result
 * while the others are stored. ReserveBudget: RESOURCE_EXHAUSTED (reason budget_exceeded) when
 * a budget of the tenant or key cannot cover the amount. Every database failure is UNAVAILABLE
 * (retry) or a generic INTERNAL with the detail in the logs.
 */
export function createLedgerHandlers(deps: LedgerDeps): ServiceImpl<typeof CostLedgerService> {
  const { pool, writer, budgets, directory, logger } = deps;

  // Runs a handler body, turning database failures into the caller's status and logging them.
  async function guard<T>(action: string, fields: object, work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (err) {
      const rpcError = rpcErrorFromDatabase(err, action);
      logDatabaseError(logger, err, rpcError, fields);
      throw rpcError;
    }
  }

  return {
    async recordFeedback(req) {
      const requestId = requiredId(req.requestId, "request_id", "invalid_feedback");
      const tenant = requiredId(req.tenant, "tenant", "invalid_feedback");
      if (!(req.score >= 0 && req.score <= 1)) {
        throw new RpcError(
          GrpcStatus.INVALID_ARGUMENT,
          `score ${req.score} is outside 0 to 1`,
          "invalid_feedback",
        );
      }
      if (req.comment.length > 4_096) {
        throw new RpcError(
          GrpcStatus.INVALID_ARGUMENT,
          "comment is longer than 4,096 characters",
          "invalid_feedback",
        );
      }

      // The first score stands: a row that already has one is reported as a duplicate.
      const { rows } = await guard("record feedback", { requestId }, () =>
        pool.query<{ model: string; fresh: boolean }>(
          `WITH scored AS (
             UPDATE usage_records
                SET quality_score = $3, feedback_comment = NULLIF($4, ''), feedback_at = now()
              WHERE request_id = $1 AND tenant = $2 AND quality_score IS NULL
          RETURNING model)
           SELECT model, true AS fresh FROM scored
           UNION ALL
           SELECT model, false AS fresh FROM usage_records
            WHERE request_id = $1 AND tenant = $2 AND NOT EXISTS (SELECT 1 FROM scored)`,
          [requestId, tenant, req.score, req.comment],
        ),
      );
      const row = rows[0];
      if (!row) {
        throw new RpcError(
          GrpcStatus.NOT_FOUND,
          `no request ${requestId} for this tenant; send the x-request-id of an answer`,
          "not_found",
        );
      }
      return { model: row.model, duplicate: !row.fresh };
    },

    async recordUsage(req) {
      const row = usageRowFromRecord(req.record);
      // Sent late (after an outage, from the outbox's backlog) the call is not in the request's
      // trace; the record still is, through the traceparent it carries.
      const late = req.record && outsideCurrentTrace(req.record.traceparent);
      const span = late ? recordSpan(row.requestId, req.record?.traceparent ?? "") : undefined;

      try {
        return await guard("record usage", { requestId: row.requestId }, async () => {
          const { duplicate } = await writer.write(row);
          if (duplicate) logger.info({ requestId: row.requestId }, "usage already recorded");
          return { duplicate };
        });
      } catch (err) {
        span?.setStatus({ code: SpanStatusCode.ERROR, message: String(err) });
        throw err;
      } finally {
        span?.end();
      }
    },

    async recordUsageBatch(req) {
      if (req.records.length > MAX_BATCH_RECORDS) {
        throw new RpcError(
          GrpcStatus.INVALID_ARGUMENT,
          `the batch holds ${req.records.length} records; send at most ${MAX_BATCH_RECORDS} ` +
            "per call",
          "invalid_usage_record",
        );
      }

      // Validated one by one, so a bad record is refused alone and never fails its batch.
      const rows = req.records.map((record) => {
        try {
          return { row: usageRowFromRecord(record) };
        } catch (err) {
          if (!(err instanceof RpcError) || err.code !== GrpcStatus.INVALID_ARGUMENT) throw err;
          return { invalid: err.message };
        }
      });

      // Written together, the writer puts them in one INSERT. Every write settles before the
      // call answers, so a failed one never leaves the caller unsure about the others. Each
      // record is written in a span of its own request's trace: the batch belongs to none.
      const writes = await Promise.allSettled(
        rows.map(async (r, i) => {
          if (!r.row) return undefined;
          const span = recordSpan(r.row.requestId, req.records[i]?.traceparent ?? "");
          try {
            return await writer.write(r.row);
          } catch (err) {
            span.setStatus({ code: SpanStatusCode.ERROR, message: String(err) });
            throw err;
          } finally {
            span.end();
          }
        }),
      );
      const failed = writes.find((w) => w.status === "rejected");
      if (failed) {
        const rpcError = rpcErrorFromDatabase(failed.reason, "record usage");
        logDatabaseError(logger, failed.reason, rpcError, { records: rows.length });
        throw rpcError;
      }

      const results = rows.map((r, i) => {
        const write = writes[i];
        const duplicate = write?.status === "fulfilled" && (write.value?.duplicate ?? false);
        if (duplicate) logger.info({ requestId: r.row?.requestId }, "usage already recorded");
        if (r.invalid) logger.warn({ index: i, error: r.invalid }, "batched usage record refused");
        return { duplicate, invalid: r.invalid ?? "" };
      });
      return { results };
    },

    async reserveBudget(req) {
      const requestId = requiredId(req.requestId, "request_id", "invalid_reservation");
      const tenant = requiredId(req.tenant, "tenant", "invalid_reservation");
      const apiKeyId = optionalId(req.apiKeyId, "api_key_id", "invalid_reservation");
      const amountNanos = usdNanos(req.amount, "amount", "invalid_reservation");
      const input = {
        requestId,
        tenant,
        apiKeyId,
        model: optionalId(req.model, "model", "invalid_reservation"),
        amountNanos,
        tokens: reservedTokens(req.tokens),
        replacesReservationId: optionalId(
          req.replacesReservationId,
          "replaces_reservation_id",
          "invalid_reservation",
        ),
      };

      const outcome = await guard("reserve budget", { requestId, tenant }, () =>
        budgets.reserve(input),
      );
      if (outcome.kind === "no_budget") return { reservationId: "", usedFraction: 0 };

      return {
        reservationId: outcome.reservationId,
        remaining: usdFromNanos(minRemaining(outcome.budgets)),
        usedFraction: maxUsed(outcome.budgets),
        expiresAt: timestampFromDate(outcome.expiresAt),
      };
    },

    async releaseBudget(req) {
      const reservationId = requiredId(req.reservationId, "reservation_id", "invalid_reservation");

      const result = await guard("release budget", { reservationId }, () =>
        budgets.release(reservationId),
      );
      return { released: result.released, state: reservationStateToProto(result.state) };
    },

    async getBudgetStatus(req) {
      const tenant = requiredId(req.tenant, "tenant", "invalid_budget_query");
      const apiKeyId = optionalId(req.apiKeyId, "api_key_id", "invalid_budget_query");

      const snapshots = await guard("read budget status", { tenant }, async () => {
        await budgets.expireTenant(tenant);
        return budgets.listBudgets(tenant, apiKeyId);
      });
      if (snapshots.length === 0) return { usedFraction: 0, hasBudget: false, budgets: [] };

      return {
        usedFraction: maxUsed(snapshots),
        remaining: usdFromNanos(minRemaining(snapshots)),
        hasBudget: true,
        budgets: snapshots.map(budgetStateToProto),
      };
    },

    async setBudget(req) {
      const input = budgetInput(req.budget);

      const snapshot = await guard("set budget", { tenant: input.tenant }, () =>
        budgets.setBudget(input),
      );
      logger.info(
        { tenant: input.tenant, apiKeyId: input.apiKeyId, period: input.period },
        "budget set",
      );
      return { state: budgetStateToProto(snapshot) };
    },

    async deleteBudget(req) {
      const tenant = requiredId(req.tenant, "tenant", "invalid_budget");
      const apiKeyId = optionalId(req.apiKeyId, "api_key_id", "invalid_budget");
      const period = periodFromProto(req.period);
      if (!period) throw invalidBudget("period is required: BUDGET_PERIOD_DAY or _MONTH");

      const deleted = await guard("delete budget", { tenant }, () =>
        budgets.deleteBudget(tenant, apiKeyId, period),
      );
      if (deleted) logger.info({ tenant, apiKeyId, period }, "budget deleted");
      return { deleted };
    },

    async listBudgets(req) {
      const tenant = optionalId(req.tenant, "tenant", "invalid_budget_query");
      const apiKeyId = optionalId(req.apiKeyId, "api_key_id", "invalid_budget_query");
      if (apiKeyId && !tenant) {
        throw new RpcError(
          GrpcStatus.INVALID_ARGUMENT,
          "api_key_id needs a tenant; pass the tenant the key belongs to",
          "invalid_budget_query",
        );
      }

      const snapshots = await guard("list budgets", { tenant }, async () => {
        if (tenant) await budgets.expireTenant(tenant);
        else await budgets.expireDue();
        return budgets.listBudgets(tenant, apiKeyId || undefined);
      });
      return { budgets: snapshots.map(budgetStateToProto) };
    },

    async listReservations(req) {
      const tenant = optionalId(req.tenant, "tenant", "invalid_reservation_query");
      const apiKeyId = optionalId(req.apiKeyId, "api_key_id", "invalid_reservation_query");
      const limit = boundedLimit(req.limit, 100, 1_000, "invalid_reservation_query");

      const list = await guard("list reservations", { tenant }, () =>
        budgets.listReservations(tenant, apiKeyId, limit),
      );
      return {
        reservations: list.reservations.map(reservationToProto),
        totalCount: list.totalCount,
        totalAmount: usdFromNanos(list.totalAmountNanos),
      };
    },

    async querySpend(req) {
      const tenant = optionalId(req.tenant, "tenant", "invalid_spend_query");
      const { since, until } = range(req.since, req.until);
      const groupBy = spendGroups(req.groupBy);
      const limit = boundedLimit(req.limit, 1_000, 10_000, "invalid_spend_query");

      const result = await guard("query spend", { tenant }, () =>
        querySpendGroups(pool, {
          tenant,
          apiKeyId: optionalId(req.apiKeyId, "api_key_id", "invalid_spend_query"),
          model: optionalId(req.model, "model", "invalid_spend_query"),
          since,
          until,
          groupBy,
          limit,
        }),
      );
      return {
        rows: result.rows.map(spendRowToProto),
        total: spendRowToProto(result.total),
        truncated: result.truncated,
      };
    },

    async *watchBudgetedTenants(_req, call) {
      for await (const snapshot of directory.watch(call.signal)) {
        yield { tenants: snapshot.tenants, version: BigInt(snapshot.version) };
      }
    },

    async getSpend(req) {
      if (!req.tenant) throw invalid("tenant is required");

      const { since, until } = range(req.since, req.until);
      const totals = await guard("read spend", { tenant: req.tenant }, () =>
        querySpend(pool, { tenant: req.tenant, since, until }),
      );
      return {
        total: usdFromNanos(totals.costNanos),
        requests: totals.requests,
        inputTokens: totals.inputTokens,
        outputTokens: totals.outputTokens,
      };
    },
  };
}

function range(
  sinceTs: Parameters<typeof timestampMicros>[0] | undefined,
  untilTs: Parameters<typeof timestampMicros>[0] | undefined,
) {
  const micros = (ts: NonNullable<typeof sinceTs>, field: string) =>
    isoFromMicros(timestampMicros(ts, field, "invalid_spend_query"));
  const since = sinceTs ? micros(sinceTs, "since") : undefined;
  const until = untilTs ? micros(untilTs, "until") : undefined;
  if (since !== undefined && until !== undefined && since > until) {
    throw invalid(`since (${since}) is after until (${until}); the range is [since, until)`);
  }
  return { since, until };
}

function budgetInput(budget: Budget | undefined) {
  if (!budget) throw invalidBudget("budget is required");

  const tenant = requiredId(budget.tenant, "budget.tenant", "invalid_budget");
  const apiKeyId = optionalId(budget.apiKeyId, "budget.api_key_id", "invalid_budget");
  const period = periodFromProto(budget.period);
  if (!period) throw invalidBudget("budget.period is required: BUDGET_PERIOD_DAY or _MONTH");
  if (!budget.limit) throw invalidBudget("budget.limit is required (USD; 0 refuses every cost)");

  const percents = budget.alertPercents;
  if (percents.length > MAX_ALERT_PERCENTS) {
    throw invalidBudget(`budget.alert_percents has ${percents.length} entries; at most 10`);
  }
  const bad = percents.find((p) => p < 1 || p > 1_000);
  if (bad !== undefined) {
    throw invalidBudget(`budget.alert_percents has ${bad}; each must be within 1..1000`);
  }
  const limitTokens = budget.limitTokens;
  if (limitTokens !== undefined && limitTokens > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw invalidBudget(`budget.limit_tokens is ${limitTokens}; at most 2^53-1 is allowed`);
  }

  return {
    tenant,
    apiKeyId,
    period,
    limitNanos: usdNanos(budget.limit, "budget.limit", "invalid_budget"),
    limitTokens: limitTokens ?? null,
    alertPercents: [...new Set(percents)].sort((a, b) => a - b),
  };
}

function spendGroups(groups: SpendGroup[]): SpendGroupName[] {
  const names: SpendGroupName[] = [];
  for (const g of groups) {
    const name = SPEND_GROUP_NAMES.get(g);
    if (!name) {
      throw new RpcError(
        GrpcStatus.INVALID_ARGUMENT,
        `group_by has ${g}; use SPEND_GROUP_TENANT, _API_KEY, _MODEL, _DAY or _STATUS`,
        "invalid_spend_query",
      );
    }
    if (!names.includes(name)) names.push(name);
  }
  return names;
}

const SPEND_GROUP_NAMES = new Map<SpendGroup, SpendGroupName>([
  [SpendGroup.TENANT, "tenant"],
  [SpendGroup.API_KEY, "api_key"],
  [SpendGroup.MODEL, "model"],
  [SpendGroup.DAY, "day"],
  [SpendGroup.STATUS, "status"],
]);

function boundedLimit(value: number, fallback: number, max: number, reason: string): number {
  if (value === 0) return fallback;
  if (value > max) {
    throw new RpcError(
      GrpcStatus.INVALID_ARGUMENT,
      `limit is ${value}; at most ${max} are allowed`,
      reason,
    );
  }
  return value;
}

function budgetStateToProto(s: BudgetSnapshot): MessageInitShape<typeof BudgetStateSchema> {
  const b = s.budget;
  return {
    budget: {
      tenant: b.tenant,
      apiKeyId: b.apiKeyId,
      period: periodToProto(b.period),
      limit: usdFromNanos(b.limitNanos),
      ...(b.limitTokens === null ? {} : { limitTokens: b.limitTokens }),
      alertPercents: b.alertPercents,
    },
    windowStart: timestampFromDate(s.windowStart),
    windowEnd: timestampFromDate(s.windowEnd),
    spent: usdFromNanos(s.totals.spentNanos),
    reserved: usdFromNanos(s.totals.reservedNanos),
    remaining: usdFromNanos(s.remainingNanos),
    spentTokens: s.totals.spentTokens,
    reservedTokens: s.totals.reservedTokens,
    usedFraction: s.usedFraction,
    alertPercents: s.alertPercents,
  };
}

function reservationToProto(r: ReservationRow) {
  return {
    reservationId: r.reservationId,
    requestId: r.requestId,
    tenant: r.tenant,
    apiKeyId: r.apiKeyId,
    model: r.model,
    amount: usdFromNanos(r.amountNanos),
    tokens: r.tokens,
    state: reservationStateToProto(r.state),
    createdAt: timestampFromDate(r.createdAt),
    expiresAt: timestampFromDate(r.expiresAt),
  };
}

function reservationStateToProto(state: ReservationStateText): ReservationState {
  switch (state) {
    case "held":
      return ReservationState.HELD;
    case "settled":
      return ReservationState.SETTLED;
    case "released":
      return ReservationState.RELEASED;
    case "expired":
      return ReservationState.EXPIRED;
    case "replaced":
      return ReservationState.REPLACED;
  }
}

function spendRowToProto(r: SpendGroupRow): MessageInitShape<typeof SpendRowSchema> {
  return {
    tenant: r.tenant,
    apiKeyId: r.apiKeyId,
    model: r.model,
    day: r.day,
    status: r.status,
    cost: usdFromNanos(r.costNanos),
    requests: r.requests,
    inputTokens: r.inputTokens,
    outputTokens: r.outputTokens,
    cacheReadTokens: r.cacheReadTokens,
    cacheWriteTokens: r.cacheWriteTokens,
    reasoningTokens: r.reasoningTokens,
  };
}

function minRemaining(snapshots: BudgetSnapshot[]): bigint {
  return snapshots.reduce(
    (min, s) => (s.remainingNanos < min ? s.remainingNanos : min),
    snapshots[0]?.remainingNanos ?? 0n,
  );
}

function maxUsed(snapshots: BudgetSnapshot[]): number {
  return snapshots.reduce((max, s) => Math.max(max, s.usedFraction), 0);
}

/** Token counts are summed in Postgres bigint; past 2^53 they would not round-trip as JSON. */
function reservedTokens(tokens: bigint): bigint {
  if (tokens > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new RpcError(
      GrpcStatus.INVALID_ARGUMENT,
      `tokens is ${tokens}; at most 2^53-1 can be reserved`,
      "invalid_reservation",
    );
  }
  return tokens;
}

function requiredId(value: string, field: string, reason: string): string {
  const text = optionalId(value, field, reason);
  if (!text) throw new RpcError(GrpcStatus.INVALID_ARGUMENT, `${field} is required`, reason);
  return text;
}

function optionalId(value: string, field: string, reason: string): string {
  if (value.length > MAX_ID_LENGTH || value.includes("\u0000")) {
    throw new RpcError(
      GrpcStatus.INVALID_ARGUMENT,
      `${field} must be at most 200 characters without NUL`,
      reason,
    );
  }
  return value;
}

function logDatabaseError(logger: Logger, err: unknown, rpcError: RpcError, fields: object) {
  if (err === rpcError) return;

  if (rpcError.code === GrpcStatus.UNAVAILABLE) logger.warn({ ...fields, err }, rpcError.message);
  else logger.error({ ...fields, err }, rpcError.message);
}

function invalid(message: string): RpcError {
  return new RpcError(GrpcStatus.INVALID_ARGUMENT, message, "invalid_spend_query");
}

function invalidBudget(message: string): RpcError {
  return new RpcError(GrpcStatus.INVALID_ARGUMENT, message, "invalid_budget");
}

const tracer = trace.getTracer("cost-ledger");

/** A span for one usage record under the request span that queued it. */
function recordSpan(requestId: string, traceparent: string) {
  return startConsumerSpan(tracer, "record usage", traceparent, { "mesh.request_id": requestId });
}

/** True when the traceparent names a trace other than the one this call runs in. */
function outsideCurrentTrace(traceparent: string): boolean {
  const traceId = traceparent.split("-")[1];
  if (!traceId) return false;
  return trace.getActiveSpan()?.spanContext().traceId !== traceId;
}
