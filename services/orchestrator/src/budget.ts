import { CostLedgerService } from "@mesh/contracts/ledger/v1/ledger_pb";
import type { Logger } from "@mesh/logging";
import { usdFromNanos } from "@mesh/money";
import { createGrpcClient, GrpcStatus, RpcError, type GrpcClient } from "@mesh/rpc";
import { ConstantBackoff, handleWhen, retry } from "cockatiel";
import { followBudgetedTenants, type FollowOptions } from "./budgeted-tenants.js";

// A burst of requests on one budget queues at the ledger, and a ledger replica may be
// restarting: one more try before refusing the request. Safe because the ledger answers a
// repeated request id with the reservation it already holds, rather than reserving twice.
const reserveRetry = retry(
  handleWhen((err) => err instanceof RpcError &&
    (err.code === GrpcStatus.DEADLINE_EXCEEDED || err.code === GrpcStatus.UNAVAILABLE)),
  { maxAttempts: 1, backoff: new ConstantBackoff(50) },
);

/** One worst-case reservation to ask the ledger for. */
export interface ReserveRequest {
  requestId: string;
  tenant: string;
  apiKeyId: string;
  /** Catalog model whose prices the amount is at. */
  model: string;
  amountNanos: bigint;
  tokens: number;
  /** The reservation this one replaces (fallback to a model with other prices). */
  replaces: string;
}

/** The ledger's answer: "" means no budget applies (nothing to settle or release). */
export interface Reservation {
  reservationId: string;
  /** Highest share (0..1) of any budget used or reserved, after this reservation. */
  usedFraction: number;
  /** True when the ledger was not asked: its directory says the tenant has no budget. */
  skipped?: boolean;
}

/** Budget checks before a model is called; the orchestrator's view of the cost ledger. */
export interface BudgetGuard {
  /**
   * Reserves the worst case. Throws RpcError RESOURCE_EXHAUSTED budget_exceeded when the
   * budget cannot cover it, UNAVAILABLE budget_unavailable when the ledger cannot be asked
   * and the failure mode is closed.
   */
  reserve(request: ReserveRequest): Promise<Reservation>;
  /** Drops a reservation whose request produced nothing; failures are logged, not thrown. */
  release(reservationId: string): Promise<void>;
  close(): void;
}

/** What to do when the ledger cannot be reached. */
export type BudgetFailureMode = "closed" | "open";

export interface LedgerBudgetOptions {
  address: string;
  timeoutMs: number;
  /**
   * closed: fail the request (UNAVAILABLE budget_unavailable), so no spend escapes a budget
   * while the ledger is down. open: serve without a reservation and log a warning.
   */
  failureMode: BudgetFailureMode;
  logger: Logger;
  /** Reconnect waits of the budgeted-tenants watch (tests shorten them). */
  watchRetryMs?: FollowOptions["retryMs"];
}

/**
 * A BudgetGuard over the cost ledger's ReserveBudget and ReleaseBudget RPCs. It follows the
 * ledger's WatchBudgetedTenants stream and does not ask the ledger about tenants that have no
 * budget (their usage is still billed and counted); while the stream is down it asks always.
 */
export function createLedgerBudget(options: LedgerBudgetOptions): BudgetGuard {
  const client: GrpcClient<typeof CostLedgerService> = createGrpcClient(
    CostLedgerService,
    options.address,
    "orchestrator",
  );
  const budgeted = followBudgetedTenants(client, {
    logger: options.logger,
    ...(options.watchRetryMs ? { retryMs: options.watchRetryMs } : {}),
  });

  return {
    async reserve(request) {
      budgeted.start();
      // A swap must reach the ledger, which holds the reservation being replaced.
      if (request.replaces === "" && budgeted.hasNoBudget(request.tenant)) {
        return { reservationId: "", usedFraction: 0, skipped: true };
      }
      try {
        const response = await reserveRetry.execute(() => client.reserveBudget(
          {
            requestId: request.requestId,
            tenant: request.tenant,
            apiKeyId: request.apiKeyId,
            model: request.model,
            amount: usdFromNanos(request.amountNanos),
            tokens: BigInt(request.tokens),
            replacesReservationId: request.replaces,
          },
          { timeoutMs: options.timeoutMs, headers: { "x-request-id": request.requestId } },
        ));
        return { reservationId: response.reservationId, usedFraction: response.usedFraction };
      } catch (err) {
        if (err instanceof RpcError && err.code === GrpcStatus.RESOURCE_EXHAUSTED) {
          throw new RpcError(
            GrpcStatus.RESOURCE_EXHAUSTED,
            err.message || "the budget cannot cover this request; raise the budget or wait",
            err.reason || "budget_exceeded",
            err.retryAfterMs,
          );
        }
        return ledgerDown(err, request.requestId);
      }
    },

    async release(reservationId) {
      if (reservationId === "") return;
      try {
        await client.releaseBudget({ reservationId }, { timeoutMs: options.timeoutMs });
      } catch (err) {
        options.logger.warn({ err, reservationId }, "could not release a budget reservation");
      }
    },

    close: () => {
      budgeted.close();
      client.close();
    },
  };

  function ledgerDown(err: unknown, requestId: string): Reservation {
    if (options.failureMode === "open") {
      options.logger.warn({ err, requestId, ledger: options.address },
        "cost ledger unreachable; serving without a budget check (failure mode open)");
      return { reservationId: "", usedFraction: 0 };
    }
    options.logger.error({ err, requestId, ledger: options.address },
      "cost ledger unreachable; refusing the request (failure mode closed)");
    throw new RpcError(
      GrpcStatus.UNAVAILABLE,
      "the cost ledger could not be asked whether the budget covers this request; retry later",
      "budget_unavailable",
    );
  }
}

/** A BudgetGuard that reserves nothing (budgets off). */
export const noBudget: BudgetGuard = {
  reserve: async () => ({ reservationId: "", usedFraction: 0 }),
  release: async () => undefined,
  close: () => undefined,
};
