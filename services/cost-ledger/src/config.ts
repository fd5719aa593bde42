import { commonEnv, loadConfig, millis, port, z } from "@mesh/config";

// A schema name goes into SQL as an identifier, so only plain lowercase names are allowed.
const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

const schema = z.object({
  ...commonEnv,
  LEDGER_GRPC_PORT: port(50054),
  LEDGER_HTTP_PORT: port(8084),
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, "must be a postgres:// or postgresql:// connection string")
    .optional(),
  DATABASE_SCHEMA: z
    .string()
    .regex(SCHEMA_NAME, "must be a lowercase identifier: letters, digits and _, at most 63")
    .default("public"),
  LEDGER_DATA_DIR: z.string().optional(),
  LEDGER_POOL_MAX: z.coerce.number().int().min(1).max(100).default(10),
  LEDGER_BATCH_MAX_ROWS: z.coerce.number().int().min(1).max(5_000).default(500),
  LEDGER_BATCH_LINGER_MS: z.coerce.number().int().min(0).max(1_000).default(0),
  LEDGER_MAX_QUEUED_ROWS: z.coerce.number().int().min(1).default(10_000),
  LEDGER_RESERVATION_TTL_MS: z.coerce.number().int().min(1_000).default(600_000),
  LEDGER_RESERVATION_SWEEP_MS: z.coerce.number().int().min(100).default(30_000),
  // The tenants with a budget are reloaded this often besides on change notifications, in
  // case one was missed or budgets were edited in SQL directly.
  LEDGER_BUDGET_RELOAD_MS: z.coerce.number().int().min(100).default(10_000),
  LEDGER_ALERT_THRESHOLDS: z
    .string()
    .default("80,100")
    .transform((text) => text.split(",").map((p) => Number(p.trim())))
    .refine(
      (percents) => percents.every((p) => Number.isInteger(p) && p >= 1 && p <= 1_000),
      "must be comma-separated whole percents within 1..1000, e.g. 80,100",
    ),
  LEDGER_ALERT_WEBHOOK_URL: z
    .string()
    .refine((url) => /^https?:\/\//.test(url) && URL.canParse(url), "must be an http(s) URL")
    .optional(),
  LEDGER_ALERT_WEBHOOK_TIMEOUT_MS: z.coerce.number().int().min(100).default(5_000),
  LEDGER_ALERT_RETRY_ATTEMPTS: z.coerce.number().int().min(1).max(20).default(5),
  LEDGER_ALERT_RETRY_INITIAL_MS: millis(500),
  LEDGER_ALERT_RETRY_MAX_MS: millis(30_000),
  LEDGER_ALERT_POLL_MS: z.coerce.number().int().min(100).default(15_000),
  LEDGER_ALERT_GIVE_UP_MS: millis(86_400_000),
  LEDGER_METRICS_MAX_BUDGETS: z.coerce.number().int().min(0).default(1_000),
});

/** The cost ledger's settings, read once from the environment. */
export type LedgerConfig = z.infer<typeof schema>;

/** Reads and validates the cost ledger's environment; throws listing every problem. */
export function loadLedgerConfig(env: NodeJS.ProcessEnv = process.env): LedgerConfig {
  return loadConfig(schema, env);
}
