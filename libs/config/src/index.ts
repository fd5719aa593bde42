import { z } from "zod";

export { z } from "zod";

/**
 * Parses the process environment with a schema once at start. Blank values count as
 * unset. Every problem is reported together and the result is frozen.
 */
export function loadConfig<S extends z.ZodType>(
  schema: S,
  env: NodeJS.ProcessEnv = process.env,
): Readonly<z.infer<S>> {
  const cleaned: Record<string, string> = {};
  for (const [key, value] of Object.entries(env)) {
    if (value !== undefined && value.trim() !== "") cleaned[key] = value.trim();
  }

  const parsed = schema.safeParse(cleaned);
  if (!parsed.success) {
    const problems = parsed.error.issues
      .map((issue) => `  ${issue.path.join(".") || "(env)"}: ${issue.message}`)
      .join("\n");
    throw new Error(`invalid configuration, fix these environment variables:\n${problems}`);
  }

  return Object.freeze(parsed.data);
}

/** A TCP port read from the environment, with a default. */
export function port(defaultPort: number) {
  return z.coerce.number().int().min(0).max(65_535).default(defaultPort);
}

/** A boolean read from the environment ("true"/"1"/"yes" or "false"/"0"/"no"). */
export function flag(defaultValue: boolean) {
  return z
    .enum(["true", "false", "1", "0", "yes", "no"])
    .default(defaultValue ? "true" : "false")
    .transform((v) => v === "true" || v === "1" || v === "yes");
}

/** A duration in milliseconds read from the environment. */
export function millis(defaultMs: number) {
  return z.coerce.number().int().min(0).default(defaultMs);
}

/** Settings every service shares: where it listens and how it is named in telemetry. */
export const commonEnv = {
  SERVICE_VERSION: z.string().default("0.1.0"),
  DEPLOYMENT_ENVIRONMENT: z.string().default("development"),
  SHUTDOWN_DEADLINE_MS: millis(10_000),
  GRPC_HOST: z.string().default("127.0.0.1"),
  HTTP_HOST: z.string().default("127.0.0.1"),
};
