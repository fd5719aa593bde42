import { commonEnv, loadConfig, port, z } from "@mesh/config";

const action = z.enum(["allow", "redact", "block"]);

const schema = z.object({
  ...commonEnv,
  GUARDRAILS_GRPC_PORT: port(50053),
  GUARDRAILS_HTTP_PORT: port(8083),
  // What to do with personal data found in a request or an answer.
  GUARDRAILS_PII_ACTION: action.default("redact"),
  // What to do with credentials (API keys, tokens, private keys, Authorization headers).
  GUARDRAILS_SECRET_ACTION: action.default("redact"),
  // Injection score in [0, 1] from which input is blocked.
  GUARDRAILS_INJECTION_THRESHOLD: z.coerce.number().min(0).max(1).default(0.5),
  // Region for phone numbers written without a country code (ISO 3166-1 alpha-2).
  GUARDRAILS_PHONE_REGION: z
    .string()
    .regex(/^[A-Za-z]{2}$/, "use a two-letter country code such as US or GB")
    .transform((v) => v.toUpperCase())
    .default("US"),
});

/** The guardrails service's settings, read once from the environment. */
export type GuardrailsConfig = z.infer<typeof schema>;

/** Reads and validates the guardrails settings; throws listing every bad variable. */
export function loadGuardrailsConfig(env: NodeJS.ProcessEnv = process.env): GuardrailsConfig {
  return loadConfig(schema, env);
}
