import type { Logger } from "@mesh/logging";
import { GrpcStatus } from "@mesh/rpc";
import type { Redis } from "ioredis";
import { LRUCache } from "lru-cache";
import {
  generateKeyId,
  generateSecret,
  keyDigest,
  MISSING_KEY_MESSAGE,
  sameDigest,
  secretPrefix,
  unauthenticated,
  type KeyIdentity,
  type Scope,
  type StoredKey,
} from "./api-keys.js";
import { gatewayError } from "./errors.js";
import {
  effectivePolicy,
  type EffectivePolicy,
  type PolicyDefaults,
  type TenantPolicy,
} from "./tenant-policy.js";

/** Where keys and policies are kept: Postgres in production, memory for development. */
export interface KeyBackend {
  readonly kind: "memory" | "postgres";
  findKey(digest: Buffer): Promise<StoredKey | undefined>;
  insertKey(key: StoredKey): Promise<void>;
  /** Newest first. */
  listKeys(filter: { tenant?: string; includeRevoked: boolean }): Promise<StoredKey[]>;
  /** Marks the key revoked (keeping the first revocation time); undefined when unknown. */
  revokeKey(keyId: string, atMs: number): Promise<StoredKey | undefined>;
  findPolicy(tenant: string): Promise<TenantPolicy | undefined>;
  savePolicy(policy: TenantPolicy): Promise<TenantPolicy>;
  /**
   * Inserts the key unless its digest is known; with `onlyWithoutAdmin`, also unless an
   * active admin key exists. Atomic across replicas. True when the key was inserted.
   */
  ensureAdminKey(key: StoredKey, onlyWithoutAdmin: boolean): Promise<boolean>;
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** What the admin API gives to create a key. */
export interface NewKey {
  tenant: string;
  name: string;
  scopes: readonly Scope[];
  allowedModels: readonly string[];
  expiresAtMs?: number | undefined;
}

/** Keys and tenant policies with brief caching, shared by every API of the gateway. */
export interface KeyStore {
  /** Resolves a presented key; throws UNAUTHENTICATED (or UNAVAILABLE when the store is down). */
  authenticate(presented: string | undefined): Promise<KeyIdentity>;
  /** The tenant's policy in force, cached as briefly as keys are. */
  policy(tenant: string): Promise<EffectivePolicy>;
  createKey(input: NewKey): Promise<{ key: StoredKey; secret: string }>;
  listKeys(filter: { tenant?: string; includeRevoked: boolean }): Promise<StoredKey[]>;
  revokeKey(keyId: string): Promise<StoredKey>;
  storedPolicy(tenant: string): Promise<TenantPolicy | undefined>;
  setPolicy(policy: TenantPolicy): Promise<TenantPolicy>;
  /** Makes sure an admin key exists; returns a generated secret to print, if one was made. */
  bootstrapAdmin(configured: string | undefined): Promise<string | undefined>;
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** What createKeyStore needs. */
export interface KeyStoreOptions {
  backend: KeyBackend;
  /** Keys from GATEWAY_API_KEYS: always valid, not revocable through the admin API. */
  staticKeys: readonly StoredKey[];
  defaults: PolicyDefaults;
  /** How long a lookup is reused; a revoked key stops working within this time at most. */
  cacheTtlMs: number;
  /** When set, changes are announced here so every replica drops its cache at once. */
  redis?: Redis | undefined;
  logger: Logger;
}

const INVALIDATION_CHANNEL = "mesh:gateway:keys:invalidate";
const ADMIN_TENANT = "system";

/**
 * Builds the key store. Lookups go by the SHA-256 digest of the presented key and end in a
 * constant-time comparison of digests. Results, including "no such key", are cached for
 * `cacheTtlMs` (at most a few seconds), and every change is also published on Redis, so a
 * revoked key stops working on every replica well within 5 seconds.
 */
export async function createKeyStore(options: KeyStoreOptions): Promise<KeyStore> {
  const { backend, staticKeys, defaults, logger } = options;
  const ttl = Math.max(1, options.cacheTtlMs);
  const keys = new LRUCache<string, { key: StoredKey | null }>({ max: 50_000, ttl });
  const policies = new LRUCache<string, { policy: TenantPolicy | null }>({ max: 10_000, ttl });
  const loadingKeys = new Map<string, Promise<StoredKey | undefined>>();
  let outage = false;

  const clearCaches = () => {
    keys.clear();
    policies.clear();
  };
  const subscriber = options.redis
    ? await subscribe(options.redis, clearCaches, logger)
    : undefined;
  const announce = async () => {
    clearCaches();
    await options.redis?.publish(INVALIDATION_CHANNEL, "changed").catch((err: unknown) => {
      logger.warn({ err: String(err) }, "key change not announced; replicas see it on expiry");
    });
  };

  /** Runs a backend read; an outage is logged once and refused with UNAVAILABLE. */
  async function read<T>(work: () => Promise<T>): Promise<T> {
    try {
      const value = await work();
      if (outage) logger.info({ store: backend.kind }, "key store reachable again");
      outage = false;
      return value;
    } catch (err) {
      if (!outage) {
        logger.error({ err: String(err), store: backend.kind }, "key store unreachable");
      }
      outage = true;
      throw gatewayError(
        GrpcStatus.UNAVAILABLE,
        "internal",
        "API keys cannot be checked right now; retry shortly",
      );
    }
  }

  async function findKey(digest: Buffer): Promise<StoredKey | undefined> {
    const id = digest.toString("hex");
    const cached = keys.get(id);
    if (cached) return cached.key ?? undefined;

    // Concurrent requests with the same key share one lookup.
    let loading = loadingKeys.get(id);
    if (!loading) {
      loading = read(() => backend.findKey(digest)).finally(() => loadingKeys.delete(id));
      loadingKeys.set(id, loading);
    }
    const key = await loading;
    keys.set(id, { key: key ?? null });
    return key;
  }

  async function storedPolicy(tenant: string): Promise<TenantPolicy | undefined> {
    const cached = policies.get(tenant);
    if (cached) return cached.policy ?? undefined;

    const policy = await read(() => backend.findPolicy(tenant));
    policies.set(tenant, { policy: policy ?? null });
    return policy;
  }

  return {
    async authenticate(presented) {
      if (!presented) throw unauthenticated(MISSING_KEY_MESSAGE);

      const digest = keyDigest(presented);
      const key = staticKeys.find((k) => sameDigest(k.digest, digest)) ?? (await findKey(digest));
      if (!key || !sameDigest(key.digest, digest)) throw unauthenticated("invalid API key");
      if (key.revokedAtMs !== undefined) {
        throw unauthenticated("this API key was revoked; ask an admin for a new one");
      }
      if (key.expiresAtMs !== undefined && key.expiresAtMs <= Date.now()) {
        throw unauthenticated(
          `this API key expired at ${new Date(key.expiresAtMs).toISOString()}; ` +
            "ask an admin for a new one",
        );
      }
      return {
        keyId: key.keyId,
        tenant: key.tenant,
        scopes: key.scopes,
        allowedModels: key.allowedModels,
      };
    },

    async policy(tenant) {
      return effectivePolicy(tenant, await storedPolicy(tenant), defaults);
    },

    async createKey(input) {
      const secret = generateSecret();
      const key: StoredKey = {
        ...input,
        keyId: generateKeyId(),
        digest: keyDigest(secret),
        secretPrefix: secretPrefix(secret),
        createdAtMs: Date.now(),
      };
      await backend.insertKey(key);
      // A lookup of this digest may have been cached as "no such key".
      await announce();
      return { key, secret };
    },

    listKeys: (filter) => backend.listKeys(filter),

    async revokeKey(keyId) {
      if (staticKeys.some((k) => k.keyId === keyId)) {
        throw gatewayError(
          GrpcStatus.FAILED_PRECONDITION,
          "invalid_request",
          `key ${keyId} comes from GATEWAY_API_KEYS; remove it there and restart the gateway`,
        );
      }
      const key = await backend.revokeKey(keyId, Date.now());
      if (!key) {
        throw gatewayError(GrpcStatus.NOT_FOUND, "invalid_request", `no API key ${keyId}`);
      }
      await announce();
      return key;
    },

    storedPolicy: (tenant) => backend.findPolicy(tenant),

    async setPolicy(policy) {
      const saved = await backend.savePolicy({ ...policy, updatedAtMs: Date.now() });
      await announce();
      return saved;
    },

    async bootstrapAdmin(configured) {
      const secret = configured ?? generateSecret();
      const key: StoredKey = {
        keyId: generateKeyId(),
        tenant: ADMIN_TENANT,
        name: configured ? "GATEWAY_ADMIN_KEY" : "bootstrap",
        scopes: ["admin"],
        allowedModels: [],
        digest: keyDigest(secret),
        secretPrefix: configured ? "" : secretPrefix(secret),
        createdAtMs: Date.now(),
      };
      const inserted = await backend.ensureAdminKey(key, configured === undefined);
      return inserted && !configured ? secret : undefined;
    },

    ping: () => backend.ping(),

    async close() {
      subscriber?.disconnect();
      await backend.close();
    },
  };
}

/** Drops the caches whenever any replica announces a change. */
async function subscribe(redis: Redis, onChange: () => void, logger: Logger): Promise<Redis> {
  const subscriber = redis.duplicate({ enableOfflineQueue: true, lazyConnect: true });
  subscriber.on("error", () => {
    // The main connection already logs Redis outages; the cache TTL covers the gap.
  });
  subscriber.on("message", onChange);
  // Messages missed while disconnected are covered by clearing on every reconnect.
  subscriber.on("ready", onChange);
  try {
    await subscriber.connect();
    await subscriber.subscribe(INVALIDATION_CHANNEL);
  } catch (err) {
    logger.warn({ err: String(err) }, "key change announcements unavailable; relying on expiry");
  }
  return subscriber;
}
