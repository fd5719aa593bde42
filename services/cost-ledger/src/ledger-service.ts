import { CostLedgerService } from "@mesh/contracts/ledger/v1/ledger_pb";
import type { Logger } from "@mesh/logging";
import { usdFromNanos } from "@mesh/money";
import { GrpcStatus, RpcError, type ServiceImpl } from "@mesh/rpc";
import type pg from "pg";
import { rpcErrorFromDatabase } from "./database-errors.js";
import { querySpend } from "./spend.js";
import { isoFromMicros, timestampMicros, usageRowFromRecord } from "./usage-record.js";
import type { UsageWriter } from "./usage-writer.js";

/** What the ledger's handlers need. */
export interface LedgerDeps {
  pool: pg.Pool;
  writer: UsageWriter;
  logger: Logger;
}

/**
 * The CostLedgerService handlers. RecordUsage: INVALID_ARGUMENT for a bad record, UNAVAILABLE
 * when Postgres cannot be reached (retry or keep it in an outbox), duplicate=true when the
 * request id was already recorded. GetSpend: exact totals over [since, until) of started_at.
 */
export function createLedgerHandlers(deps: LedgerDeps): ServiceImpl<typeof CostLedgerService> {
  const { pool, writer, logger } = deps;

  return {
    async recordUsage(req) {
      const row = usageRowFromRecord(req.record);

      try {
        const { duplicate } = await writer.write(row);
        if (duplicate) logger.info({ requestId: row.requestId }, "usage already recorded");
        return { duplicate };
      } catch (err) {
        const rpcError = rpcErrorFromDatabase(err, "record usage");
        logDatabaseError(logger, err, rpcError, { requestId: row.requestId });
        throw rpcError;
      }
    },

    // TODO(#5): budgets land with issue 5; until then no budget is ever set.
    async reserveBudget() {
      return { reservationId: "", usedFraction: 0 };
    },
    async releaseBudget() {
      return {};
    },
    async getBudgetStatus() {
      return { usedFraction: 0, hasBudget: false };
    },

    async getSpend(req) {
      if (!req.tenant) throw invalid("tenant is required");

      const since = req.since ? isoFromMicros(timestampMicros(req.since, "since")) : undefined;
      const until = req.until ? isoFromMicros(timestampMicros(req.until, "until")) : undefined;
      if (since !== undefined && until !== undefined && since > until) {
        throw invalid(`since (${since}) is after until (${until}); the range is [since, until)`);
      }

      try {
        const totals = await querySpend(pool, { tenant: req.tenant, since, until });
        return {
          total: usdFromNanos(totals.costNanos),
          requests: totals.requests,
          inputTokens: totals.inputTokens,
          outputTokens: totals.outputTokens,
        };
      } catch (err) {
        const rpcError = rpcErrorFromDatabase(err, "read spend");
        logDatabaseError(logger, err, rpcError, { tenant: req.tenant });
        throw rpcError;
      }
    },
  };
}

function logDatabaseError(logger: Logger, err: unknown, rpcError: RpcError, fields: object) {
  if (err === rpcError) return;

  if (rpcError.code === GrpcStatus.UNAVAILABLE) logger.warn({ ...fields, err }, rpcError.message);
  else logger.error({ ...fields, err }, rpcError.message);
}

function invalid(message: string): RpcError {
  return new RpcError(GrpcStatus.INVALID_ARGUMENT, message, "invalid_spend_query");
}
