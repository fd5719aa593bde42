import { randomUUID } from "node:crypto";
import type { Logger } from "@mesh/logging";
import type { Redis } from "ioredis";

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

// The gateway's own ids. They are never claimed (each is new), so one sent back by a caller
// would name a second request after the first: a caller cannot choose one.
const GATEWAY_ID_PREFIX = "req_";

/**
 * Keeps a caller's request id when it is safe to log and store and not one of the gateway's
 * own; otherwise makes one.
 */
export function normaliseRequestId(given: string | undefined): string {
  if (given && REQUEST_ID.test(given) && !given.startsWith(GATEWAY_ID_PREFIX)) return given;
  return newRequestId();
}

/** True for an id a caller chose: those need claiming, the gateway's own are new each time. */
export function isCallersId(requestId: string): boolean {
  return !requestId.startsWith(GATEWAY_ID_PREFIX);
}

export function newRequestId(): string {
  return `${GATEWAY_ID_PREFIX}${randomUUID().replaceAll("-", "")}`;
}

/**
 * The mesh's request id keys the ledger row, and a second row with the same id is a no-op (so
 * the outbox can retry). A caller's x-request-id may therefore name one request only: were it
 * sent again, the second model call would be recorded nowhere and bill nothing. Claims
 * remember the ids already used, on every replica through Redis.
 */
export interface RequestIdClaims {
  /** True when `id` was not used before; false when it was, or when that cannot be known. */
  claim(id: string): Promise<boolean>;
}

export interface RequestIdClaimOptions {
  /** How long a used id is remembered; a reuse after that still bills nothing. */
  ttlSeconds: number;
  /** In-process only: ids remembered at most, oldest forgotten first. */
  maxEntries: number;
  logger: Logger;
  now?: () => number;
}

export function createRequestIdClaims(
  redis: Redis | undefined,
  options: RequestIdClaimOptions,
): RequestIdClaims {
  if (redis) return redisClaims(redis, options);
  return memoryClaims(options);
}

function redisClaims(redis: Redis, options: RequestIdClaimOptions): RequestIdClaims {
  return {
    async claim(id) {
      try {
        const set = await redis.set(`mesh:request-id:${id}`, "1", "EX", options.ttlSeconds, "NX");
        return set === "OK";
      } catch (err) {
        // Unknown is treated as used: a fresh id costs the caller its correlation, while a
        // reused one would cost the operator the request's bill.
        options.logger.warn({ err: String(err) }, "request id claim failed; a new id is used");
        return false;
      }
    },
  };
}

function memoryClaims(options: RequestIdClaimOptions): RequestIdClaims {
  const now = options.now ?? Date.now;
  // Insertion order is expiry order: every entry lives the same ttl.
  const used = new Map<string, number>();
  return {
    async claim(id) {
      const at = now();
      for (const [old, expiresAt] of used) {
        if (expiresAt > at) break;
        used.delete(old);
      }
      if (used.has(id)) return false;

      if (used.size >= options.maxEntries) used.delete(used.keys().next().value!);
      used.set(id, at + options.ttlSeconds * 1000);
      return true;
    },
  };
}
