import { commonEnv, loadConfig, port, z } from "@mesh/config";

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
});

/** The cost ledger's settings, read once from the environment. */
export type LedgerConfig = z.infer<typeof schema>;

/** Reads and validates the cost ledger's environment; throws listing every problem. */
export function loadLedgerConfig(env: NodeJS.ProcessEnv = process.env): LedgerConfig {
  return loadConfig(schema, env);
}
