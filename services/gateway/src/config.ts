import { commonEnv, flag, loadConfig, millis, port, z } from "@mesh/config";

const schema = z.object({
  ...commonEnv,
  GATEWAY_HTTP_PORT: port(8080),
  GATEWAY_GRPC_PORT: port(50051),
  ORCHESTRATOR_ADDR: z.string().default("127.0.0.1:50052"),
  GUARDRAILS_ADDR: z.string().default("127.0.0.1:50053"),
  LEDGER_ADDR: z.string().default("127.0.0.1:50054"),
  METRICS_ADDR: z.string().default("127.0.0.1:50055"),
  REDIS_URL: z.string().url().optional(),
  /** Comma-separated `key=tenant` pairs; keys are hashed at start and never kept in clear. */
  GATEWAY_API_KEYS: z.string().optional(),
  RATE_LIMIT_REQUESTS_PER_MINUTE: z.coerce.number().int().min(1).default(6_000),
  CACHE_TTL_SECONDS: z.coerce.number().int().min(1).default(3_600),
  CACHE_MAX_ENTRIES: z.coerce.number().int().min(1).default(10_000),
  /** What to do when the guardrails service cannot answer: refuse (closed) or go on (open). */
  GUARDRAILS_FAILURE_MODE: z.enum(["closed", "open"]).default("closed"),
  CORS_ORIGINS: z.string().default("*"),
  UPSTREAM_TIMEOUT_MS: millis(120_000),
  CHECK_TIMEOUT_MS: millis(5_000),
  REQUEST_BODY_LIMIT_BYTES: z.coerce.number().int().min(1_024).default(8 * 1024 * 1024),
  TRUST_CALLER_TRACE: flag(true),
});

/** The gateway's settings, read once from the environment. */
export type GatewayConfig = z.infer<typeof schema>;

export function loadGatewayConfig(env: NodeJS.ProcessEnv = process.env): GatewayConfig {
  return loadConfig(schema, env);
}
