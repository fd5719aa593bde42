import { commonEnv, flag, loadConfig, millis, port, z } from "@mesh/config";
import { parseStateKey } from "./redaction-state.js";

const action = z.enum(["allow", "redact", "block"]);

const schema = z
  .object({
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
    // Per-tenant policies (JSON or YAML): a default and one per tenant over the settings above.
    GUARDRAILS_POLICY_FILE: z.string().optional(),
    // 32 bytes (64 hex digits or base64) sealing the redaction state between CheckInput and
    // CheckOutput. Unset: a random key per process, so restoring works only when both calls
    // of a request reach the same replica.
    GUARDRAILS_STATE_KEY: z.string().optional(),
    // Refuse to start without GUARDRAILS_STATE_KEY (set it where several replicas run).
    GUARDRAILS_REQUIRE_STATE_KEY: flag(false),
    // Ask a fast model through the orchestrator about injection scores near the threshold.
    GUARDRAILS_MODEL_CHECK: flag(false),
    ORCHESTRATOR_ADDR: z.string().default("127.0.0.1:50052"),
    // How far from the threshold a score may be for the model to be asked.
    GUARDRAILS_MODEL_CHECK_MARGIN: z.coerce.number().min(0).max(1).default(0.15),
    GUARDRAILS_MODEL_CHECK_TIMEOUT_MS: millis(1_500),
    // Catalog model for the model check; empty lets the orchestrator pick the fast tier.
    GUARDRAILS_MODEL_CHECK_MODEL: z.string().default(""),
  })
  .superRefine((config, ctx) => {
    if (config.GUARDRAILS_STATE_KEY) {
      try {
        parseStateKey(config.GUARDRAILS_STATE_KEY);
      } catch (err) {
        const message = (err as Error).message;
        ctx.addIssue({ code: "custom", path: ["GUARDRAILS_STATE_KEY"], message });
      }
    }
    if (config.GUARDRAILS_REQUIRE_STATE_KEY && !config.GUARDRAILS_STATE_KEY) {
      ctx.addIssue({
        code: "custom",
        path: ["GUARDRAILS_STATE_KEY"],
        message:
          "required because GUARDRAILS_REQUIRE_STATE_KEY is true; make one with: " +
          "openssl rand -base64 32",
      });
    }
  });

/** The guardrails service's settings, read once from the environment. */
export type GuardrailsConfig = z.infer<typeof schema>;

/** Reads and validates the guardrails settings; throws listing every bad variable. */
export function loadGuardrailsConfig(env: NodeJS.ProcessEnv = process.env): GuardrailsConfig {
  return loadConfig(schema, env);
}
