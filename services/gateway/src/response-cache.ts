import { createHash } from "node:crypto";
import { clone, fromBinary, toBinary, toJsonString } from "@bufbuild/protobuf";
import {
  ChatParamsSchema,
  ChatResultSchema,
  type ChatParams,
  type ChatResult,
} from "@mesh/contracts/common/v1/chat_pb";
import type { Logger } from "@mesh/logging";
import type { Redis } from "ioredis";
import { LRUCache } from "lru-cache";

/** A cached answer and how old it is. */
export interface CachedAnswer {
  result: ChatResult;
  ageMs: number;
}

/** Exact-match cache of deterministic answers, scoped to a tenant. */
export interface ResponseCache {
  /** The answer under `key`, unless it is older than `maxAgeMs`. */
  get(key: string, maxAgeMs?: number): Promise<CachedAnswer | undefined>;
  set(key: string, result: ChatResult): Promise<void>;
}

/** Whether a request's answer may come from, or go into, the cache. */
export function isCacheable(params: ChatParams, forced = false): boolean {
  return forced || params.temperature === 0;
}

/**
 * The cache key: a digest of the tenant and the canonical request. Protobuf JSON writes fields
 * in schema order, and JSON held in string fields (tool schemas, tool choice, response format,
 * tool inputs) is rewritten with sorted keys, so the order of fields in the caller's JSON does
 * not matter. Left out because they cannot change the answer: metadata, the tenant and key id
 * (the tenant is the scope) and prompt-cache markers.
 */
export function cacheKey(tenant: string, params: ChatParams): string {
  const canonical = clone(ChatParamsSchema, params);
  canonical.metadata = {};
  canonical.tenant = "";
  canonical.apiKeyId = "";
  canonical.toolChoiceJson = canonicalJson(canonical.toolChoiceJson);
  canonical.responseFormatJson = canonicalJson(canonical.responseFormatJson);
  for (const tool of canonical.tools) tool.inputSchemaJson = canonicalJson(tool.inputSchemaJson);
  for (const block of canonical.system) block.cacheControl = false;
  for (const message of canonical.messages) {
    for (const { block } of message.content) {
      if (block.case === "text") block.value.cacheControl = false;
      if (block.case === "toolUse") block.value.inputJson = canonicalJson(block.value.inputJson);
      if (block.case === "toolResult") {
        for (const t of block.value.content) t.cacheControl = false;
      }
    }
  }

  const body = toJsonString(ChatParamsSchema, canonical);
  const digest = createHash("sha256").update(tenant).update("\u0000").update(body).digest("hex");
  return `mesh:cache:v2:${digest}`;
}

/** JSON text with object keys sorted at every level; text that is not JSON is kept as is. */
export function canonicalJson(text: string): string {
  if (!text) return text;
  try {
    return JSON.stringify(sortKeys(JSON.parse(text)));
  } catch {
    return text;
  }
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value === null || typeof value !== "object") return value;
  const sorted: Record<string, unknown> = {};
  for (const key of Object.keys(value).sort()) {
    sorted[key] = sortKeys((value as Record<string, unknown>)[key]);
  }
  return sorted;
}

// An entry is the time it was stored (8 bytes, big-endian milliseconds) and the result.
function encode(result: ChatResult, storedAtMs: number): Buffer {
  const head = Buffer.alloc(8);
  head.writeBigUInt64BE(BigInt(storedAtMs));
  return Buffer.concat([head, toBinary(ChatResultSchema, result)]);
}

function decode(bytes: Buffer, maxAgeMs: number | undefined): CachedAnswer | undefined {
  if (bytes.length < 8) return undefined;
  const ageMs = Math.max(0, Date.now() - Number(bytes.readBigUInt64BE(0)));
  if (maxAgeMs !== undefined && ageMs > maxAgeMs) return undefined;
  return { result: fromBinary(ChatResultSchema, bytes.subarray(8)), ageMs };
}

/**
 * Builds the cache: in Redis when there is a connection (shared by every replica, entries
 * expire after `ttlSeconds`), otherwise in an LRU of this process.
 */
export function createResponseCache(
  redis: Redis | undefined,
  ttlSeconds: number,
  maxEntries: number,
  logger: Logger,
): ResponseCache {
  if (!redis) {
    const lru = new LRUCache<string, Buffer>({ max: maxEntries, ttl: ttlSeconds * 1000 });
    return {
      get: async (key, maxAgeMs) => {
        const bytes = lru.get(key);
        return bytes ? decode(bytes, maxAgeMs) : undefined;
      },
      set: async (key, result) => {
        lru.set(key, encode(result, Date.now()));
      },
    };
  }

  // A cache that cannot answer is a miss, never a failed request.
  return {
    get: async (key, maxAgeMs) => {
      try {
        const bytes = await redis.getBuffer(key);
        return bytes ? decode(bytes, maxAgeMs) : undefined;
      } catch (err) {
        logger.debug({ err: String(err) }, "cache read failed; treating as a miss");
        return undefined;
      }
    },
    set: async (key, result) => {
      try {
        await redis.set(key, encode(result, Date.now()), "EX", ttlSeconds);
      } catch (err) {
        logger.debug({ err: String(err) }, "cache write failed");
      }
    },
  };
}
