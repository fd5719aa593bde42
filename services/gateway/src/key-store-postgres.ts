import type { Logger } from "@mesh/logging";
import pg from "pg";
import type { Scope, StoredKey } from "./api-keys.js";
import type { KeyBackend } from "./key-store.js";
import type { TenantPolicy } from "./tenant-policy.js";

/** Where the gateway's Postgres is and how many connections it may hold. */
export interface PostgresKeyOptions {
  databaseUrl: string;
  /** Schema holding the gateway's tables; created when missing. */
  schema: string;
  poolMax: number;
  logger: Logger;
}

// One lock id for the gateway's schema changes and admin bootstrap, so replicas starting
// together run them one at a time.
const GATEWAY_LOCK_ID = 0x6d657368_01;

const MIGRATION = `
CREATE TABLE IF NOT EXISTS gateway_api_keys (
  key_id text PRIMARY KEY,
  tenant text NOT NULL,
  name text NOT NULL DEFAULT '',
  key_digest bytea NOT NULL UNIQUE,
  secret_prefix text NOT NULL DEFAULT '',
  scopes text[] NOT NULL,
  allowed_models text[] NOT NULL DEFAULT '{}',
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz,
  revoked_at timestamptz
);
CREATE INDEX IF NOT EXISTS gateway_api_keys_by_tenant
  ON gateway_api_keys (tenant, created_at DESC);
CREATE TABLE IF NOT EXISTS gateway_tenant_policies (
  tenant text PRIMARY KEY,
  requests_per_minute bigint,
  tokens_per_minute bigint,
  key_requests_per_minute bigint,
  key_tokens_per_minute bigint,
  allowed_models text[] NOT NULL DEFAULT '{}',
  cache_enabled boolean,
  updated_at timestamptz NOT NULL DEFAULT now()
);
`;

const KEY_COLUMNS = `key_id, tenant, name, key_digest, secret_prefix, scopes, allowed_models,
  created_at, expires_at, revoked_at`;

/**
 * Keys and tenant policies in Postgres, shared by every replica. Only the SHA-256 digest of a
 * key is stored. The tables are created at start when missing.
 */
export async function createPostgresKeyBackend(options: PostgresKeyOptions): Promise<KeyBackend> {
  const { logger, schema } = options;
  const setSearchPath = `SET search_path TO ${pg.escapeIdentifier(schema)}`;
  // pg-pool awaits onConnect before handing a new client out; @types/pg lacks it.
  const poolConfig: pg.PoolConfig & { onConnect(client: pg.PoolClient): Promise<unknown> } = {
    connectionString: options.databaseUrl,
    max: options.poolMax,
    application_name: "gateway",
    connectionTimeoutMillis: 3_000,
    idleTimeoutMillis: 30_000,
    onConnect: (client) => client.query(setSearchPath),
  };
  const pool = new pg.Pool(poolConfig);
  pool.on("error", (err) => {
    logger.warn({ err: err.message }, "idle postgres connection failed; the pool will replace it");
  });

  await migrate(pool, schema);

  return {
    kind: "postgres",

    async findKey(digest) {
      const { rows } = await pool.query(
        `SELECT ${KEY_COLUMNS} FROM gateway_api_keys WHERE key_digest = $1`,
        [digest],
      );
      return rows[0] ? keyFromRow(rows[0]) : undefined;
    },

    async insertKey(key) {
      await insertKey(pool, key);
    },

    async listKeys({ tenant, includeRevoked }) {
      const { rows } = await pool.query(
        `SELECT ${KEY_COLUMNS} FROM gateway_api_keys
          WHERE ($1::text IS NULL OR tenant = $1) AND ($2 OR revoked_at IS NULL)
          ORDER BY created_at DESC, key_id`,
        [tenant ?? null, includeRevoked],
      );
      return rows.map(keyFromRow);
    },

    async revokeKey(keyId, atMs) {
      const { rows } = await pool.query(
        `UPDATE gateway_api_keys SET revoked_at = COALESCE(revoked_at, $2)
          WHERE key_id = $1 RETURNING ${KEY_COLUMNS}`,
        [keyId, new Date(atMs)],
      );
      return rows[0] ? keyFromRow(rows[0]) : undefined;
    },

    async findPolicy(tenant) {
      const { rows } = await pool.query(
        "SELECT * FROM gateway_tenant_policies WHERE tenant = $1",
        [tenant],
      );
      return rows[0] ? policyFromRow(rows[0]) : undefined;
    },

    async savePolicy(policy) {
      const { rows } = await pool.query(
        `INSERT INTO gateway_tenant_policies (tenant, requests_per_minute, tokens_per_minute,
           key_requests_per_minute, key_tokens_per_minute, allowed_models, cache_enabled,
           updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
         ON CONFLICT (tenant) DO UPDATE SET
           requests_per_minute = EXCLUDED.requests_per_minute,
           tokens_per_minute = EXCLUDED.tokens_per_minute,
           key_requests_per_minute = EXCLUDED.key_requests_per_minute,
           key_tokens_per_minute = EXCLUDED.key_tokens_per_minute,
           allowed_models = EXCLUDED.allowed_models,
           cache_enabled = EXCLUDED.cache_enabled,
           updated_at = EXCLUDED.updated_at
         RETURNING *`,
        [
          policy.tenant,
          policy.requestsPerMinute ?? null,
          policy.tokensPerMinute ?? null,
          policy.keyRequestsPerMinute ?? null,
          policy.keyTokensPerMinute ?? null,
          [...policy.allowedModels],
          policy.cacheEnabled ?? null,
          new Date(policy.updatedAtMs ?? Date.now()),
        ],
      );
      return policyFromRow(rows[0]);
    },

    ensureAdminKey(key, onlyWithoutAdmin) {
      return locked(pool, async (client) => {
        const known = await client.query("SELECT 1 FROM gateway_api_keys WHERE key_digest = $1", [
          key.digest,
        ]);
        if (known.rowCount) return false;

        if (onlyWithoutAdmin) {
          const admins = await client.query(
            `SELECT 1 FROM gateway_api_keys WHERE 'admin' = ANY(scopes) AND revoked_at IS NULL
               AND (expires_at IS NULL OR expires_at > now()) LIMIT 1`,
          );
          if (admins.rowCount) return false;
        }
        await insertKey(client, key);
        return true;
      });
    },

    async ping() {
      await pool.query("SELECT 1");
    },

    close: () => pool.end(),
  };
}

/**
 * Creates the schema and tables when missing. Another service creating the same schema at the
 * same moment makes CREATE SCHEMA IF NOT EXISTS fail with a duplicate; one retry settles it.
 */
async function migrate(pool: pg.Pool, schema: string): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await locked(pool, async (client) => {
        await client.query(`CREATE SCHEMA IF NOT EXISTS ${pg.escapeIdentifier(schema)}`);
        await client.query(MIGRATION);
      });
      return;
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (attempt >= 3 || (code !== "23505" && code !== "42P06")) throw err;
    }
  }
}

/** Runs work in a transaction holding the gateway's advisory lock. */
async function locked<T>(pool: pg.Pool, work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query("BEGIN");
    await client.query("SELECT pg_advisory_xact_lock($1)", [GATEWAY_LOCK_ID]);
    const result = await work(client);
    await client.query("COMMIT");
    return result;
  } catch (err) {
    await client.query("ROLLBACK").catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
}

async function insertKey(db: pg.Pool | pg.PoolClient, key: StoredKey): Promise<void> {
  await db.query(
    `INSERT INTO gateway_api_keys (key_id, tenant, name, key_digest, secret_prefix, scopes,
       allowed_models, created_at, expires_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
    [
      key.keyId,
      key.tenant,
      key.name,
      key.digest,
      key.secretPrefix,
      [...key.scopes],
      [...key.allowedModels],
      new Date(key.createdAtMs),
      key.expiresAtMs === undefined ? null : new Date(key.expiresAtMs),
    ],
  );
}

function keyFromRow(row: Record<string, unknown>): StoredKey {
  return {
    keyId: row.key_id as string,
    tenant: row.tenant as string,
    name: row.name as string,
    digest: row.key_digest as Buffer,
    secretPrefix: row.secret_prefix as string,
    scopes: row.scopes as Scope[],
    allowedModels: row.allowed_models as string[],
    createdAtMs: (row.created_at as Date).getTime(),
    expiresAtMs: optionalMs(row.expires_at),
    revokedAtMs: optionalMs(row.revoked_at),
  };
}

function policyFromRow(row: Record<string, unknown>): TenantPolicy {
  return {
    tenant: row.tenant as string,
    // bigint columns arrive as text; limits fit a number exactly.
    requestsPerMinute: optionalNumber(row.requests_per_minute),
    tokensPerMinute: optionalNumber(row.tokens_per_minute),
    keyRequestsPerMinute: optionalNumber(row.key_requests_per_minute),
    keyTokensPerMinute: optionalNumber(row.key_tokens_per_minute),
    allowedModels: row.allowed_models as string[],
    cacheEnabled: row.cache_enabled === null ? undefined : (row.cache_enabled as boolean),
    updatedAtMs: optionalMs(row.updated_at),
  };
}

function optionalMs(value: unknown): number | undefined {
  return value instanceof Date ? value.getTime() : undefined;
}

function optionalNumber(value: unknown): number | undefined {
  return value === null || value === undefined ? undefined : Number(value);
}
