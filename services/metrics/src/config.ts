import { commonEnv, loadConfig, port, z } from "@mesh/config";

const PEER = /^[^,\s]+:\d{1,5}$/;

const schema = z.object({
  ...commonEnv,
  METRICS_GRPC_PORT: port(50055),
  METRICS_HTTP_PORT: port(8085),
  /**
   * The replicas to merge in GetDashboard and to ask for feedback on requests this replica
   * did not observe: comma-separated host:port, e.g. the headless Service "metrics:50051".
   * Blank for a single replica.
   */
  METRICS_PEERS: z
    .string()
    .default("")
    .refine(
      (v) => v.split(",").every((p) => p.trim() === "" || PEER.test(p.trim())),
      "must be comma-separated host:port pairs, e.g. metrics:50051",
    ),
  /** Request ids remembered for feedback (request id → model), oldest forgotten first. */
  METRICS_FEEDBACK_MAX_REQUESTS: z.coerce.number().int().min(1).default(100_000),
  /** Distinct model labels before further models are counted as "other". */
  METRICS_MAX_MODELS: z.coerce.number().int().min(1).default(100),
});

/** The metrics service's settings, read once from the environment. */
export type MetricsConfig = z.infer<typeof schema>;

export function loadMetricsConfig(env: NodeJS.ProcessEnv = process.env): MetricsConfig {
  return loadConfig(schema, env);
}
