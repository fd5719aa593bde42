import type { CostLedgerService } from "@mesh/contracts/ledger/v1/ledger_pb";
import type { Logger } from "@mesh/logging";
import { GrpcStatus, RpcError, type GrpcClient } from "@mesh/rpc";

/** The ledger's list of tenants that have a budget, as far as this process knows it. */
export interface BudgetedTenants {
  /**
   * Starts watching, once; later calls do nothing. Call it when the first request needs a
   * budget check, not before: a dial to a ledger that is not up yet would put the channel
   * the reservations share into reconnect backoff, failing them fast once it is up.
   */
  start(): void;
  /**
   * True only when a snapshot arrived on a live watch stream and does not list the tenant:
   * the tenant has no budget and its requests need no reservation. False when unsure.
   */
  hasNoBudget(tenant: string): boolean;
  /** Stops watching. */
  close(): void;
}

export interface FollowOptions {
  logger: Logger;
  /** Waits between reconnects after a failed watch; doubles up to `max`. */
  retryMs?: { initial: number; max: number };
}

const RETRY = { initial: 200, max: 5_000 };
// A ledger without WatchBudgetedTenants stays so until it is upgraded.
const UNIMPLEMENTED_RETRY_MS = 60_000;

/**
 * Follows the ledger's WatchBudgetedTenants stream from `start` on, reconnecting with backoff.
 * The directory is known only while a stream is live and has sent a snapshot; while it is
 * not, every tenant counts as maybe budgeted, so callers reserve as they would without it.
 */
export function followBudgetedTenants(
  client: Pick<GrpcClient<typeof CostLedgerService>, "watchBudgetedTenants" | "address">,
  options: FollowOptions,
): BudgetedTenants {
  const { logger } = options;
  const retry = options.retryMs ?? RETRY;
  const abort = new AbortController();
  let started = false;
  let tenants: Set<string> | undefined;
  let wasKnown = false;
  let toldUnimplemented = false;
  let timer: NodeJS.Timeout | undefined;
  let wake: (() => void) | undefined;

  async function watchOnce(): Promise<{ received: boolean; err?: unknown }> {
    let received = false;
    try {
      for await (const snapshot of client.watchBudgetedTenants({}, { signal: abort.signal })) {
        tenants = new Set(snapshot.tenants);
        if (!received && !wasKnown) {
          logger.info({ ledger: client.address, budgeted: tenants.size },
            "following the ledger's tenants with budgets; others skip the reservation");
        }
        received = true;
        wasKnown = true;
      }
      return { received };
    } catch (err) {
      return { received, err };
    } finally {
      tenants = undefined;
    }
  }

  async function run(): Promise<void> {
    let delay = retry.initial;
    while (!abort.signal.aborted) {
      const { received, err } = await watchOnce();
      if (abort.signal.aborted) return;

      // A stream that worked was cut (ledger restart, connection recycling): rejoin at once.
      if (received) delay = 0;
      const unimplemented = err instanceof RpcError && err.code === GrpcStatus.UNIMPLEMENTED;
      if (wasKnown) {
        wasKnown = false;
        // A stream the ledger ended cleanly is a ledger stopping or restarting, not a fault.
        const level = err === undefined ? "info" : "warn";
        logger[level]({ err, ledger: client.address },
          "lost the ledger's tenants with budgets; reserving for every tenant until back");
      } else if (unimplemented && !toldUnimplemented) {
        toldUnimplemented = true;
        logger.info({ ledger: client.address },
          "the ledger cannot stream tenants with budgets; reserving for every tenant");
      }
      const wait = unimplemented ? UNIMPLEMENTED_RETRY_MS : delay;
      delay = Math.min(Math.max(delay * 2, retry.initial), retry.max);
      await sleep(wait);
    }
  }

  function sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      wake = resolve;
      timer = setTimeout(resolve, ms);
      timer.unref();
    });
  }

  return {
    start() {
      if (started || abort.signal.aborted) return;
      started = true;
      void run();
    },
    hasNoBudget: (tenant) => tenants !== undefined && !tenants.has(tenant),
    close() {
      abort.abort();
      clearTimeout(timer);
      wake?.();
      tenants = undefined;
    },
  };
}
