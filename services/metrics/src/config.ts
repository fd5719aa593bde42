import { commonEnv, loadConfig, port, z } from "@mesh/config";

const schema = z.object({
  ...commonEnv,
  METRICS_GRPC_PORT: port(50055),
  METRICS_HTTP_PORT: port(8085),
});

/** The metrics service's settings, read once from the environment. */
export type MetricsConfig = z.infer<typeof schema>;

export function loadMetricsConfig(env: NodeJS.ProcessEnv = process.env): MetricsConfig {
  return loadConfig(schema, env);
}
