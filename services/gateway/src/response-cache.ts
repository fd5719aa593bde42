import { createHash } from "node:crypto";
import { fromBinary, toBinary, toJsonString } from "@bufbuild/protobuf";
import {
  ChatParamsSchema,
  ChatResultSchema,
  type ChatParams,
  type ChatResult,
} from "@mesh/contracts/common/v1/chat_pb";
import type { Logger } from "@mesh/logging";
import type { Redis } from "ioredis";
import { LRUCache } from "lru-cache";

/** Exact-match cache of deterministic answers, scoped to a tenant. */
export interface ResponseCache {
  get(key: string): Promise<ChatResult | undefined>;
  set(key: string, result: ChatResult): Promise<void>;
}

/** Whether a request's answer may come from, or go into, the cache. */
export function isCacheable(params: ChatParams): boolean {
  return params.temperature === 0;
}

/**
 * The cache key: a digest of the tenant and the canonical request. Protobuf JSON writes fields
 * in schema order, so the order of fields in the caller's JSON does not matter. Metadata and
 * tenant are left out of the body because they do not change the answer (tenant is the scope).
 */
export function cacheKey(tenant: string, params: ChatParams): string {
  const body = toJsonString(ChatParamsSchema, { ...params, metadata: {}, tenant: "" });
  const digest = createHash("sha256").update(tenant).update("\u0000").update(body).digest("hex");
  return `mesh:cache:v1:${digest}`;
}

export function createResponseCache(
  redis: Redis | undefined,
  ttlSeconds: number,
  maxEntries: number,
  logger: Logger,
): ResponseCache {
  if (!redis) {
    const lru = new LRUCache<string, Uint8Array>({ max: maxEntries, ttl: ttlSeconds * 1000 });
    return {
      get: async (key) => {
        const bytes = lru.get(key);
        return bytes ? fromBinary(ChatResultSchema, bytes) : undefined;
      },
      set: async (key, result) => {
        lru.set(key, toBinary(ChatResultSchema, result));
      },
    };
  }

  // A cache that cannot answer is a miss, never a failed request.
  return {
    get: async (key) => {
      try {
        const bytes = await redis.getBuffer(key);
        return bytes ? fromBinary(ChatResultSchema, bytes) : undefined;
      } catch (err) {
        logger.debug({ err: String(err) }, "cache read failed; treating as a miss");
        return undefined;
      }
    },
    set: async (key, result) => {
      try {
        await redis.set(key, Buffer.from(toBinary(ChatResultSchema, result)), "EX", ttlSeconds);
      } catch (err) {
        logger.debug({ err: String(err) }, "cache write failed");
      }
    },
  };
}
