import { GrpcStatus } from "@mesh/rpc";
import type { Redis } from "ioredis";
import {
  RateLimiterMemory,
  RateLimiterRedis,
  RateLimiterRes,
  type RateLimiterAbstract,
} from "rate-limiter-flexible";
import { gatewayError } from "./errors.js";

/** What a limit check leaves for the response headers. */
export interface LimitState {
  limit: number;
  remaining: number;
  resetMs: number;
}

/** Counts requests per API key per minute, shared by every replica when Redis is used. */
export interface RateLimits {
  consumeRequest(keyId: string): Promise<LimitState>;
}

export function createRateLimits(redis: Redis | undefined, requestsPerMinute: number): RateLimits {
  const options = { keyPrefix: "mesh:rl:req", points: requestsPerMinute, duration: 60 };
  const limiter: RateLimiterAbstract = redis
    ? new RateLimiterRedis({ ...options, storeClient: redis })
    : new RateLimiterMemory(options);

  return {
    async consumeRequest(keyId) {
      try {
        const res = await limiter.consume(keyId, 1);
        return {
          limit: requestsPerMinute,
          remaining: res.remainingPoints,
          resetMs: res.msBeforeNext,
        };
      } catch (err) {
        if (err instanceof RateLimiterRes) {
          throw gatewayError(
            GrpcStatus.RESOURCE_EXHAUSTED,
            "rate_limited",
            `rate limit of ${requestsPerMinute} requests per minute reached for this key; ` +
              `retry after ${Math.ceil(err.msBeforeNext / 1000)} s`,
            err.msBeforeNext,
          );
        }
        // Limits fail closed: without the shared counter the gateway cannot keep its promise.
        throw gatewayError(
          GrpcStatus.UNAVAILABLE,
          "internal",
          "rate limiter unavailable; retry shortly",
        );
      }
    },
  };
}
