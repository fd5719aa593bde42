import { fileURLToPath } from "node:url";
import { commonEnv, flag, loadConfig, millis, port, z } from "@mesh/config";

/** The catalog shipped with the service, used when ORCHESTRATOR_CATALOG is unset. */
export const DEFAULT_CATALOG_PATH = fileURLToPath(
  new URL("../catalog/default.yaml", import.meta.url),
);

const schema = z.object({
  ...commonEnv,
  ORCHESTRATOR_GRPC_PORT: port(50052),
  ORCHESTRATOR_HTTP_PORT: port(8082),
  ORCHESTRATOR_CATALOG: z.string().default(DEFAULT_CATALOG_PATH),
  // Reload the catalog when its file (or a ConfigMap's symlink swap) changes; SIGHUP always.
  ORCHESTRATOR_CATALOG_WATCH: flag(true),
  ORCHESTRATOR_CATALOG_WATCH_DEBOUNCE_MS: millis(250),
  // Used when params.max_tokens is 0; capped at the chosen model's own limit.
  ORCHESTRATOR_DEFAULT_MAX_TOKENS: z.coerce.number().int().min(1).default(1024),
  // An explicitly named model still falls back when it fails, unless this is false.
  ORCHESTRATOR_FALLBACK_EXPLICIT_MODEL: flag(true),
  // Route every model to its simulator deployment even when provider keys are set.
  ORCHESTRATOR_FORCE_SIMULATOR: flag(false),
  // Prompt and answer text on attempt spans; off by default because it may hold personal data.
  ORCHESTRATOR_CAPTURE_CONTENT: flag(false),

  // Retries per deployment, after the first try (so 2 means up to 3 tries).
  ORCHESTRATOR_MAX_RETRIES: z.coerce.number().int().min(0).max(10).default(2),
  ORCHESTRATOR_RETRY_INITIAL_DELAY_MS: millis(200),
  ORCHESTRATOR_RETRY_MAX_DELAY_MS: millis(5_000),
  // A retry-after longer than this is not waited for; the next model is tried instead.
  ORCHESTRATOR_MAX_RETRY_AFTER_MS: millis(10_000),
  // Default timeouts of deployments whose catalog entry sets none (timeouts.*_ms there).
  // Total: from the request to the end of the answer.
  ORCHESTRATOR_PROVIDER_TIMEOUT_MS: millis(120_000),
  ORCHESTRATOR_CONNECT_TIMEOUT_MS: millis(5_000),
  // Streams only: from the request to the first text or tool call; fallback is still possible.
  ORCHESTRATOR_FIRST_TOKEN_TIMEOUT_MS: millis(60_000),
  ORCHESTRATOR_BREAKER_FAILURES: z.coerce.number().int().min(1).default(5),
  ORCHESTRATOR_BREAKER_COOLDOWN_MS: millis(30_000),

  // Budget checks: before a model is called, the worst case is reserved with the ledger.
  LEDGER_ADDR: z.string().default("127.0.0.1:50054"),
  ORCHESTRATOR_BUDGETS: flag(true),
  // Per try; a timed-out or refused reservation is asked once more before the request fails.
  ORCHESTRATOR_LEDGER_TIMEOUT_MS: millis(2_000),
  // closed (default): when the ledger cannot be asked, the request fails UNAVAILABLE
  // budget_unavailable, so no spend escapes a budget while the ledger is down. open: serve
  // without a reservation and log a warning (availability over budget enforcement).
  ORCHESTRATOR_BUDGET_FAILURE_MODE: z.enum(["closed", "open"]).default("closed"),
  // Share of a budget used (0..1) from which requests that named no model move one tier
  // down (top → balanced → fast); 0 turns this off.
  ORCHESTRATOR_BUDGET_DOWNTIER_AT: z.coerce.number().min(0).max(1).default(0.9),

  ANTHROPIC_API_KEY: z.string().optional(),
  ANTHROPIC_BASE_URL: z.string().url().optional(),

  SIMULATOR_LATENCY_MS: millis(5),
  // Comma-separated catalog model names whose simulator deployment always fails.
  SIMULATOR_FAIL_MODELS: z
    .string()
    .default("")
    .transform((v) => v.split(",").map((s) => s.trim()).filter((s) => s !== "")),
  SIMULATOR_FAILURE_RATE: z.coerce.number().min(0).max(1).default(0),
  SIMULATOR_FAILURE_STATUS: z.coerce
    .number()
    .int()
    .refine((s) => [429, 500, 503, 529].includes(s), "must be one of 429, 500, 503, 529")
    .default(529),
  SIMULATOR_SEED: z.coerce.number().int().default(1),
});

/** The orchestrator's settings, read once from the environment. */
export type OrchestratorConfig = z.infer<typeof schema>;

/** Reads and validates the orchestrator's environment; throws listing every problem. */
export function loadOrchestratorConfig(env: NodeJS.ProcessEnv = process.env): OrchestratorConfig {
  return loadConfig(schema, env);
}
