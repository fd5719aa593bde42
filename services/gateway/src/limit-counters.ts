import type { Logger } from "@mesh/logging";
import type { Redis } from "ioredis";
import {
  RateLimiterMemory,
  RateLimiterRedis,
  RateLimiterRes,
  type RateLimiterAbstract,
} from "rate-limiter-flexible";

/** One per-minute counter: what it counts (prefix), for whom (id), and its limit. */
export interface Counter {
  prefix: string;
  id: string;
  limit: number;
  /** Who the limit applies to, for messages: "API key" or "tenant acme". */
  owner: string;
}

/** What a counter shows after a take: the basis of the rate-limit headers. */
export interface LimitWindow {
  limit: number;
  remaining: number;
  /** Time until the window resets and the full limit is available again. */
  resetMs: number;
}

/** Points taken from one counter; `windowEndMs` says until when they can be given back. */
export interface Taken {
  counter: Counter;
  window: LimitWindow;
  windowEndMs: number;
}

/** A counter had too few points left; nothing was taken from any counter. */
export class Refusal {
  constructor(
    readonly counter: Counter,
    readonly window: LimitWindow,
    readonly points: number,
  ) {}
}

/** Per-minute counters shared by every replica through Redis, or in this process without it. */
export interface LimitCounters {
  /**
   * Takes `points` from every counter, or from none: resolves with each counter's window,
   * rejects with a Refusal. When the store is down it rejects with StoreDown (fail closed) or
   * resolves with undefined (fail open), as configured.
   */
  take(counters: readonly Counter[], points: number): Promise<Taken[] | undefined>;
  /** Adds points after the fact (usage above a reservation); never refuses. */
  charge(counter: Counter, points: number): Promise<void>;
  /** Gives points back to a window that is still open. */
  refund(taken: Taken, points: number): Promise<void>;
  /** The windows as they stand, without taking anything; undefined when the store is down. */
  peek(counters: readonly Counter[]): Promise<LimitWindow[] | undefined>;
}

/** The limit store could not be reached and the policy is to fail closed. */
export class StoreDown extends Error {
  constructor() {
    super("rate-limit store unreachable");
  }
}

const WINDOW_SECONDS = 60;

/**
 * Builds the counters on rate-limiter-flexible: RateLimiterRedis (an atomic Lua increment per
 * take, so the count is exact however many replicas share it) or RateLimiterMemory. A take
 * that overshoots is undone at once, so refused requests do not use up the limit.
 */
export function createLimitCounters(
  redis: Redis | undefined,
  failureMode: "closed" | "open",
  logger: Logger,
): LimitCounters {
  const limiters = new Map<string, RateLimiterAbstract>();
  let storeDown = false;

  const limiter = (counter: Counter): RateLimiterAbstract => {
    // The limit is part of the limiter, not of the stored key: a changed limit keeps the count.
    const name = `${counter.prefix}|${counter.limit}`;
    let found = limiters.get(name);
    if (!found) {
      const options = {
        keyPrefix: counter.prefix,
        points: counter.limit,
        duration: WINDOW_SECONDS,
      };
      found = redis
        ? new RateLimiterRedis({ ...options, storeClient: redis })
        : new RateLimiterMemory(options);
      limiters.set(name, found);
    }
    return found;
  };

  /** Logs the first failure of an outage and the recovery, never every request. */
  const storeFailed = (err: unknown, refuse = failureMode === "closed") => {
    if (!storeDown) {
      logger.error(
        { err: String(err), failureMode },
        failureMode === "closed"
          ? "rate-limit store unreachable; refusing requests until it is back"
          : "rate-limit store unreachable; serving without limits until it is back",
      );
    }
    storeDown = true;
    if (refuse) throw new StoreDown();
    return undefined;
  };
  const storeWorked = () => {
    if (storeDown) logger.info("rate-limit store reachable again; limits apply");
    storeDown = false;
  };

  return {
    async take(counters, points) {
      if (counters.length === 0) return [];

      const startedAtMs = Date.now();
      const outcomes = await Promise.allSettled(
        counters.map((c) => limiter(c).consume(c.id, points)),
      );
      const failed = outcomes.find((o) => o.status === "rejected");
      if (!failed) {
        storeWorked();
        return outcomes.map((o, i) => {
          const res = (o as PromiseFulfilledResult<RateLimiterRes>).value;
          const counter = counters[i] as Counter;
          return {
            counter,
            window: windowOf(counter, res),
            windowEndMs: startedAtMs + res.msBeforeNext,
          };
        });
      }

      // Every counter that counted the points gives them back, refused ones included.
      await Promise.all(
        outcomes.map((o, i) => {
          const counted = o.status === "fulfilled" || o.reason instanceof RateLimiterRes;
          const counter = counters[i] as Counter;
          return counted ? limiter(counter).reward(counter.id, points).catch(() => undefined) : 0;
        }),
      );
      const refusedAt = outcomes.findIndex(
        (o) => o.status === "rejected" && o.reason instanceof RateLimiterRes,
      );
      if (refusedAt >= 0) {
        storeWorked();
        const counter = counters[refusedAt] as Counter;
        const res = (outcomes[refusedAt] as PromiseRejectedResult).reason as RateLimiterRes;
        throw new Refusal(counter, { ...windowOf(counter, res), remaining: 0 }, points);
      }
      return storeFailed((failed as PromiseRejectedResult).reason);
    },

    async charge(counter, points) {
      if (points <= 0) return;
      await limiter(counter).penalty(counter.id, points).catch((err: unknown) => {
        logger.debug({ err: String(err) }, "usage above the reservation not counted");
      });
    },

    async refund(taken, points) {
      // Once the window has ended the points went with it; giving them back would add credit.
      if (points <= 0 || Date.now() >= taken.windowEndMs) return;
      await limiter(taken.counter).reward(taken.counter.id, points).catch((err: unknown) => {
        logger.debug({ err: String(err) }, "unused reservation not given back");
      });
    },

    async peek(counters) {
      try {
        const windows = await Promise.all(
          counters.map(async (c) => {
            const res = await limiter(c).get(c.id);
            return res
              ? windowOf(c, res)
              : { limit: c.limit, remaining: c.limit, resetMs: WINDOW_SECONDS * 1000 };
          }),
        );
        storeWorked();
        return windows;
      } catch (err) {
        // Only headers depend on a peek, so it never refuses a request.
        return storeFailed(err, false);
      }
    },
  };
}

function windowOf(counter: Counter, res: RateLimiterRes): LimitWindow {
  return {
    limit: counter.limit,
    remaining: Math.max(0, counter.limit - res.consumedPoints),
    resetMs: Math.max(0, res.msBeforeNext),
  };
}

/** The window a caller should see: the one with the least left, then the smallest limit. */
export function tightest(windows: readonly LimitWindow[]): LimitWindow | undefined {
  let best: LimitWindow | undefined;
  for (const w of windows) {
    if (!best || w.remaining < best.remaining ||
      (w.remaining === best.remaining && w.limit < best.limit)) {
      best = w;
    }
  }
  return best;
}
