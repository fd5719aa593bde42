import { randomBytes } from "node:crypto";
import { createLogger } from "@mesh/logging";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { keyDigest, type StoredKey } from "./api-keys.js";
import type { KeyBackend } from "./key-store.js";
import { createPostgresKeyBackend } from "./key-store-postgres.js";

const DATABASE_URL = process.env.TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";
const schema = `gwkeys_${randomBytes(4).toString("hex")}`;
const logger = createLogger("gateway-test", "silent");
let backends: KeyBackend[] = [];

const open = () =>
  createPostgresKeyBackend({ databaseUrl: DATABASE_URL, schema, poolMax: 2, logger }).then((b) => {
    backends.push(b);
    return b;
  });

function key(secret: string, over: Partial<StoredKey> = {}): StoredKey {
  return {
    keyId: `key_${randomBytes(6).toString("hex")}`,
    tenant: "acme",
    name: "test",
    scopes: ["inference"],
    allowedModels: ["claude-haiku-3"],
    digest: keyDigest(secret),
    secretPrefix: secret.slice(0, 10),
    createdAtMs: Date.now(),
    ...over,
  };
}

beforeAll(async () => {
  // Two replicas starting together both create the schema and tables.
  await Promise.all([open(), open()]);
});

afterAll(async () => {
  for (const b of backends) await b.close();
  const client = new pg.Client({ connectionString: DATABASE_URL });
  await client.connect();
  await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  await client.end();
});

describe("createPostgresKeyBackend", () => {
  it("stores a key by its digest only and finds it again", async () => {
    const [db] = backends as [KeyBackend];
    const stored = key("secret-one-0123456789", { expiresAtMs: Date.now() + 60_000 });

    await db.insertKey(stored);
    const found = await db.findKey(keyDigest("secret-one-0123456789"));
    const client = new pg.Client({ connectionString: DATABASE_URL });
    await client.connect();
    const { rows } = await client.query(`SELECT * FROM "${schema}".gateway_api_keys`);
    await client.end();

    expect(found).toMatchObject({
      keyId: stored.keyId,
      tenant: "acme",
      scopes: ["inference"],
      allowedModels: ["claude-haiku-3"],
      expiresAtMs: stored.expiresAtMs,
      revokedAtMs: undefined,
    });
    expect(JSON.stringify(rows)).not.toContain("secret-one-0123456789");
    expect(await db.findKey(keyDigest("secret-two"))).toBeUndefined();
  });

  it("revokes once and lists newest first, revoked keys on request", async () => {
    const [db, other] = backends as [KeyBackend, KeyBackend];
    const older = key("s-older", { tenant: "listing", createdAtMs: Date.now() - 1_000 });
    const newer = key("s-newer", { tenant: "listing" });
    await db.insertKey(older);
    await db.insertKey(newer);

    const revoked = await db.revokeKey(older.keyId, 1_000);
    const again = await other.revokeKey(older.keyId, 2_000);
    const active = await other.listKeys({ tenant: "listing", includeRevoked: false });
    const all = await other.listKeys({ tenant: "listing", includeRevoked: true });

    expect(revoked?.revokedAtMs).toBe(1_000);
    expect(again?.revokedAtMs).toBe(1_000);
    expect(await db.revokeKey("key_missing", 1)).toBeUndefined();
    expect(active.map((k) => k.keyId)).toEqual([newer.keyId]);
    expect(all.map((k) => k.keyId)).toEqual([newer.keyId, older.keyId]);
  });

  it("saves a tenant policy, unset limits staying unset", async () => {
    const [db] = backends as [KeyBackend];

    await db.savePolicy({ tenant: "p", keyRequestsPerMinute: 10, allowedModels: [] });
    const saved = await db.savePolicy({
      tenant: "p",
      tokensPerMinute: 5_000_000_000,
      allowedModels: ["m"],
      cacheEnabled: false,
    });

    expect(saved).toMatchObject({
      tenant: "p",
      keyRequestsPerMinute: undefined,
      tokensPerMinute: 5_000_000_000,
      allowedModels: ["m"],
      cacheEnabled: false,
    });
    expect(await db.findPolicy("p")).toMatchObject({ tokensPerMinute: 5_000_000_000 });
    expect(await db.findPolicy("nobody")).toBeUndefined();
  });

  it("creates one bootstrap admin key however many replicas start together", async () => {
    const candidates = backends.flatMap((b, i) =>
      [0, 1].map((j) =>
        b.ensureAdminKey(key(`admin-${i}-${j}`, { tenant: "system", scopes: ["admin"] }), true),
      ),
    );

    const inserted = await Promise.all(candidates);
    const configured = await backends[0]?.ensureAdminKey(
      key("configured", { scopes: ["admin"] }),
      false,
    );

    expect(inserted.filter(Boolean)).toHaveLength(1);
    expect(configured).toBe(true);
  });
});
