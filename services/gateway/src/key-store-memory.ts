import { sameDigest, type StoredKey } from "./api-keys.js";
import type { KeyBackend } from "./key-store.js";
import type { TenantPolicy } from "./tenant-policy.js";

/**
 * Keys and policies in this process only, for development and tests without Postgres.
 * They are lost on restart and not shared between replicas.
 */
export function createMemoryKeyBackend(): KeyBackend {
  const keys: StoredKey[] = [];
  const policies = new Map<string, TenantPolicy>();

  return {
    kind: "memory",
    findKey: async (digest) => copy(keys.find((k) => sameDigest(k.digest, digest))),
    insertKey: async (key) => {
      keys.push({ ...key });
    },
    listKeys: async ({ tenant, includeRevoked }) =>
      keys
        .filter((k) => (tenant ? k.tenant === tenant : true))
        .filter((k) => includeRevoked || k.revokedAtMs === undefined)
        .sort((a, b) => b.createdAtMs - a.createdAtMs)
        .map((k) => ({ ...k })),
    revokeKey: async (keyId, atMs) => {
      const key = keys.find((k) => k.keyId === keyId);
      if (key) key.revokedAtMs ??= atMs;
      return copy(key);
    },
    findPolicy: async (tenant) => {
      const policy = policies.get(tenant);
      return policy && { ...policy };
    },
    savePolicy: async (policy) => {
      policies.set(policy.tenant, { ...policy });
      return policy;
    },
    ensureAdminKey: async (key, onlyWithoutAdmin) => {
      if (keys.some((k) => sameDigest(k.digest, key.digest))) return false;
      const active = (k: StoredKey) => k.scopes.includes("admin") && k.revokedAtMs === undefined;
      if (onlyWithoutAdmin && keys.some(active)) return false;
      keys.push({ ...key });
      return true;
    },
    ping: async () => undefined,
    close: async () => undefined,
  };
}

// Callers get copies, as they would from a database, so a cached lookup never changes later.
function copy(key: StoredKey | undefined): StoredKey | undefined {
  return key && { ...key };
}
