import { existsSync } from "node:fs";
import { dirname, isAbsolute, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { commonEnv, flag, loadConfig, millis, port, z } from "@mesh/config";

// A schema name goes into SQL as an identifier, so only plain lowercase names are allowed.
const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/** A per-minute limit; 0 switches the limit off. */
const perMinute = (defaultValue: number) => z.coerce.number().int().min(0).default(defaultValue);

const schema = z.object({
  ...commonEnv,
  GATEWAY_HTTP_PORT: port(8080),
  GATEWAY_GRPC_PORT: port(50051),
  ORCHESTRATOR_ADDR: z.string().default("127.0.0.1:50052"),
  GUARDRAILS_ADDR: z.string().default("127.0.0.1:50053"),
  LEDGER_ADDR: z.string().default("127.0.0.1:50054"),
  METRICS_ADDR: z.string().default("127.0.0.1:50055"),
  REDIS_URL: z.string().url().optional(),
  /** Keys and tenant policies live here when set; otherwise in memory. */
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, "must be a postgres:// or postgresql:// connection string")
    .optional(),
  DATABASE_SCHEMA: z
    .string()
    .regex(SCHEMA_NAME, "must be a lowercase identifier: letters, digits and _, at most 63")
    .default("public"),
  DATABASE_POOL_MAX: z.coerce.number().int().min(1).max(100).default(5),
  /** Comma-separated `key=tenant` pairs; keys are hashed at start and never kept in clear. */
  GATEWAY_API_KEYS: z.string().optional(),
  /** Admin key to accept; without it one is generated and printed once at first start. */
  GATEWAY_ADMIN_KEY: z.string().min(16, "must be at least 16 characters").optional(),
  /** How long a key lookup or tenant policy is reused before it is read again. */
  KEY_CACHE_TTL_MS: z.coerce.number().int().min(0).max(4_000).default(2_000),
  RATE_LIMIT_REQUESTS_PER_MINUTE: perMinute(6_000),
  RATE_LIMIT_TOKENS_PER_MINUTE: perMinute(2_000_000),
  RATE_LIMIT_TENANT_REQUESTS_PER_MINUTE: perMinute(0),
  RATE_LIMIT_TENANT_TOKENS_PER_MINUTE: perMinute(0),
  /** What to do when the shared limit counters cannot be reached: refuse (closed) or serve. */
  RATE_LIMIT_FAILURE_MODE: z.enum(["closed", "open"]).default("closed"),
  /** Output tokens reserved for a request that sets no max_tokens. */
  DEFAULT_MAX_TOKENS: z.coerce.number().int().min(1).default(4_096),
  CACHE_ENABLED: flag(true),
  CACHE_TTL_SECONDS: z.coerce.number().int().min(1).default(3_600),
  CACHE_MAX_ENTRIES: z.coerce.number().int().min(1).default(10_000),
  /** What to do when the guardrails service cannot answer: refuse (closed) or go on (open). */
  GUARDRAILS_FAILURE_MODE: z.enum(["closed", "open"]).default("closed"),
  CORS_ORIGINS: z.string().default("*"),
  UPSTREAM_TIMEOUT_MS: millis(120_000),
  CHECK_TIMEOUT_MS: millis(5_000),
  REQUEST_BODY_LIMIT_BYTES: z.coerce.number().int().min(1_024).default(10 * 1024 * 1024),
  REQUEST_MAX_JSON_DEPTH: z.coerce.number().int().min(2).max(1_000).default(64),
  REQUEST_MAX_MESSAGES: z.coerce.number().int().min(1).default(1_000),
  TRUST_CALLER_TRACE: flag(true),
  /** Key of the prompt and answer digests in log lines (a secret; see logDigestKey). */
  LOG_DIGEST_KEY: z.string().min(16).optional(),
  /**
   * How long a caller's x-request-id stays used: sent again within it, the request gets a new
   * id (so it is billed on a row of its own). In-process, at most REQUEST_ID_MEMORY_MAX ids.
   */
  REQUEST_ID_REUSE_TTL_SECONDS: z.coerce.number().int().min(60).default(7 * 24 * 3_600),
  REQUEST_ID_MEMORY_MAX: z.coerce.number().int().min(1_000).default(200_000),
  /** Folder of the usage outbox (one gateway process per folder); see resolveOutboxDir. */
  GATEWAY_OUTBOX_DIR: z.string().min(1).optional(),
});

/** The gateway's settings, read once from the environment. */
export type GatewayConfig = z.infer<typeof schema>;

/** Reads and validates the gateway's environment; throws listing every problem. */
export function loadGatewayConfig(env: NodeJS.ProcessEnv = process.env): GatewayConfig {
  return loadConfig(schema, env);
}

/**
 * Where the usage outbox lives: GATEWAY_OUTBOX_DIR when set (relative paths from the repository
 * root, since pnpm runs scripts inside the package folder), else
 * `<repo>/.data/gateway-outbox/<GATEWAY_HTTP_PORT>`, so two local gateways never share one.
 * Falls back to the working directory outside a checkout.
 */
export function resolveOutboxDir(config: GatewayConfig): string {
  const base = findRepoRoot() ?? process.cwd();
  const configured = config.GATEWAY_OUTBOX_DIR;
  if (!configured) return join(base, ".data", "gateway-outbox", String(config.GATEWAY_HTTP_PORT));

  return isAbsolute(configured) ? configured : resolve(base, configured);
}

function findRepoRoot(): string | undefined {
  for (const start of [dirname(fileURLToPath(import.meta.url)), process.cwd()]) {
    for (let dir = start; ; dir = dirname(dir)) {
      if (existsSync(join(dir, "pnpm-workspace.yaml"))) return dir;
      if (dirname(dir) === dir) break;
    }
  }
  return undefined;
}
