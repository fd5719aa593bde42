import { createLogger } from "@mesh/logging";
import { GrpcStatus, RpcError } from "@mesh/rpc";
import { describe, expect, it } from "vitest";
import { keyDigest, parseStaticKeys, presentedKey, requireScope } from "./api-keys.js";
import { createKeyStore, type KeyBackend } from "./key-store.js";
import { createMemoryKeyBackend } from "./key-store-memory.js";
import { allowedModels } from "./tenant-policy.js";

const logger = createLogger("gateway-test", "silent");
const defaults = {
  requestsPerMinute: 0,
  tokensPerMinute: 0,
  keyRequestsPerMinute: 60,
  keyTokensPerMinute: 1_000,
  cacheEnabled: true,
};

async function store(backend: KeyBackend = createMemoryKeyBackend(), cacheTtlMs = 2_000) {
  return createKeyStore({
    backend,
    staticKeys: parseStaticKeys("static-key-1=acme, bare-key"),
    defaults,
    cacheTtlMs,
    logger,
  });
}

async function refusal(work: Promise<unknown>): Promise<RpcError> {
  const err = await work.then(() => undefined, (e: unknown) => e);
  if (!(err instanceof RpcError)) throw new Error("expected a refusal");
  return err;
}

describe("createKeyStore", () => {
  it("accepts keys from GATEWAY_API_KEYS with the inference scope", async () => {
    const keys = await store();

    const acme = await keys.authenticate("static-key-1");
    const bare = await keys.authenticate("bare-key");

    expect(acme).toMatchObject({ tenant: "acme", scopes: ["inference", "metrics:read"] });
    expect(acme.keyId).toBe(`key_${keyDigest("static-key-1").toString("hex").slice(0, 12)}`);
    expect(bare.tenant).toBe("default");
  });

  it("refuses a missing or unknown key as UNAUTHENTICATED", async () => {
    const keys = await store();

    const missing = await refusal(keys.authenticate(undefined));
    const unknown = await refusal(keys.authenticate("static-key-2"));

    expect(missing.code).toBe(GrpcStatus.UNAUTHENTICATED);
    expect(missing.message).toContain("x-api-key");
    expect(unknown.message).toBe("invalid API key");
  });

  it("issues a key that works at once, keeps only its digest, and lists it", async () => {
    const backend = createMemoryKeyBackend();
    const keys = await store(backend);

    const { key, secret } = await keys.createKey({
      tenant: "beta",
      name: "ci",
      scopes: ["inference"],
      allowedModels: ["claude-haiku-3"],
    });
    const listed = await keys.listKeys({ tenant: "beta", includeRevoked: false });

    expect(await keys.authenticate(secret)).toEqual({
      keyId: key.keyId,
      tenant: "beta",
      scopes: ["inference"],
      allowedModels: ["claude-haiku-3"],
    });
    expect(listed.map((k) => k.keyId)).toEqual([key.keyId]);
    expect(JSON.stringify(listed)).not.toContain(secret);
    expect(listed[0]?.digest.equals(keyDigest(secret))).toBe(true);
  });

  it("stops a revoked key at once on this replica", async () => {
    const keys = await store();
    const { key, secret } = await keys.createKey({
      tenant: "beta",
      name: "",
      scopes: ["inference"],
      allowedModels: [],
    });
    await keys.authenticate(secret);

    await keys.revokeKey(key.keyId);

    expect((await refusal(keys.authenticate(secret))).message).toContain("revoked");
    expect(await keys.listKeys({ includeRevoked: false })).toEqual([]);
  });

  it("stops a key revoked elsewhere once the cached lookup expires", async () => {
    const backend = createMemoryKeyBackend();
    const keys = await store(backend, 200);
    const { key, secret } = await keys.createKey({
      tenant: "beta",
      name: "",
      scopes: ["inference"],
      allowedModels: [],
    });
    await keys.authenticate(secret);

    // Another replica revoked it: this store was not told.
    await backend.revokeKey(key.keyId, Date.now());
    const stillCached = await keys.authenticate(secret);
    await new Promise((r) => setTimeout(r, 250));

    expect(stillCached.keyId).toBe(key.keyId);
    expect((await refusal(keys.authenticate(secret))).message).toContain("revoked");
  });

  it("refuses an expired key", async () => {
    const keys = await store();
    const { secret } = await keys.createKey({
      tenant: "beta",
      name: "",
      scopes: ["inference"],
      allowedModels: [],
      expiresAtMs: Date.now() + 50,
    });

    await keys.authenticate(secret);
    await new Promise((r) => setTimeout(r, 80));

    expect((await refusal(keys.authenticate(secret))).message).toMatch(/^this API key expired at /);
  });

  it("refuses to revoke a key that comes from the environment, or does not exist", async () => {
    const keys = await store();
    const { keyId } = await keys.authenticate("static-key-1");

    expect((await refusal(keys.revokeKey(keyId))).code).toBe(GrpcStatus.FAILED_PRECONDITION);
    expect((await refusal(keys.revokeKey("key_nope"))).code).toBe(GrpcStatus.NOT_FOUND);
  });

  it("fills a tenant's policy with the defaults and applies changes at once", async () => {
    const keys = await store();

    const before = await keys.policy("acme");
    await keys.setPolicy({ tenant: "acme", keyRequestsPerMinute: 5, allowedModels: ["m"] });
    const after = await keys.policy("acme");

    expect(before).toEqual({ tenant: "acme", ...defaults, allowedModels: [] });
    expect(after).toMatchObject({ keyRequestsPerMinute: 5, keyTokensPerMinute: 1_000 });
    expect(after.allowedModels).toEqual(["m"]);
  });

  it("generates a bootstrap admin key once, and accepts a configured one", async () => {
    const backend = createMemoryKeyBackend();
    const keys = await store(backend);

    const first = await keys.bootstrapAdmin(undefined);
    const again = await keys.bootstrapAdmin(undefined);
    const configured = await keys.bootstrapAdmin("configured-admin-key-123");

    expect(first).toMatch(/^msk_/);
    expect(again).toBeUndefined();
    expect(configured).toBeUndefined();
    expect((await keys.authenticate(first ?? "")).scopes).toEqual(["admin"]);
    expect((await keys.authenticate("configured-admin-key-123")).tenant).toBe("system");
  });

  it("answers UNAVAILABLE, not UNAUTHENTICATED, when its store is down", async () => {
    const backend = createMemoryKeyBackend();
    backend.findKey = async () => {
      throw new Error("connection refused");
    };
    const keys = await store(backend);

    const err = await refusal(keys.authenticate("some-key"));

    expect(err.code).toBe(GrpcStatus.UNAVAILABLE);
    expect(err.message).toBe("API keys cannot be checked right now; retry shortly");
  });
});

describe("key helpers", () => {
  it("reads the key from x-api-key or a Bearer token", () => {
    const headers = (h: Record<string, string>) => (name: string) => h[name];

    expect(presentedKey(headers({ "x-api-key": " k1 " }))).toBe("k1");
    expect(presentedKey(headers({ authorization: "Bearer k2" }))).toBe("k2");
    expect(presentedKey(headers({ authorization: "Basic k3" }))).toBeUndefined();
  });

  it("refuses a key without the needed scope", () => {
    const who = { keyId: "k", tenant: "t", scopes: ["inference" as const], allowedModels: [] };

    expect(() => requireScope(who, "admin")).toThrow("lacks the admin scope");
    expect(() => requireScope(who, "inference")).not.toThrow();
  });

  it("intersects the key's and the tenant's model lists", () => {
    expect(allowedModels([], [])).toBeUndefined();
    expect(allowedModels(["a"], [])).toEqual(["a"]);
    expect(allowedModels([], ["b"])).toEqual(["b"]);
    expect(allowedModels(["a", "b"], ["b", "c"])).toEqual(["b"]);
    expect(allowedModels(["a"], ["c"])).toEqual([]);
  });
});
