import { randomBytes } from "node:crypto";
import { Redis } from "ioredis";
import pg from "pg";

/** The real Postgres and Redis the tests talk to; override with TEST_DATABASE_URL/REDIS_URL. */
export const TEST_DATABASE_URL =
  process.env.TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";
export const TEST_REDIS_URL = process.env.TEST_REDIS_URL ?? "redis://127.0.0.1:6379";

/** A fresh schema in the test database, dropped by `drop()`. */
export interface TestSchema {
  name: string;
  pool: pg.Pool;
  drop(): Promise<void>;
}

export async function createTestSchema(prefix: string): Promise<TestSchema> {
  const name = `${prefix}_${randomBytes(4).toString("hex")}`;
  const pool = new pg.Pool({ connectionString: TEST_DATABASE_URL, max: 2 });
  await pool.query(`CREATE SCHEMA "${name}"`);
  return {
    name,
    pool,
    async drop() {
      await pool.query(`DROP SCHEMA IF EXISTS "${name}" CASCADE`);
      await pool.end();
    },
  };
}

/** Fails fast with a clear message when Postgres or Redis is not running. */
export async function assertRealServicesUp(): Promise<void> {
  const client = new pg.Client({ connectionString: TEST_DATABASE_URL });
  try {
    await client.connect();
    await client.query("SELECT 1");
  } catch (err) {
    throw new Error(`Postgres at ${TEST_DATABASE_URL} is not reachable (${String(err)}); start it`);
  } finally {
    await client.end().catch(() => undefined);
  }

  const redis = new Redis(TEST_REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 0 });
  try {
    await redis.connect();
    await redis.ping();
  } catch (err) {
    throw new Error(`Redis at ${TEST_REDIS_URL} is not reachable (${String(err)}); start it`);
  } finally {
    redis.disconnect();
  }
}

/** Reads one counter or histogram-count sample from Prometheus text, 0 when absent. */
export function sampleValue(text: string, name: string, labels: Record<string, string>): number {
  const wanted = Object.entries(labels);
  for (const line of text.split("\n")) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;

    const labelText = line.slice(name.length).match(/^\{(.*)\}/)?.[1] ?? "";
    const found = Object.fromEntries(
      [...labelText.matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1], m[2]]),
    );
    const keys = Object.keys(found);
    if (keys.length !== wanted.length) continue;
    if (wanted.every(([k, v]) => found[k] === v)) return Number(line.split(" ").pop());
  }
  return 0;
}

/** Polls until the function returns a value other than undefined, or throws. */
export async function eventually<T>(
  fn: () => Promise<T | undefined>,
  timeoutMs = 10_000,
  what = "condition",
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`${what} did not happen within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
