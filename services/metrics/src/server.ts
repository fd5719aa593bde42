import { onShutdownSignal, startProbeServer } from "@mesh/lifecycle";
import type { Logger } from "@mesh/logging";
import { startGrpcServer } from "@mesh/rpc";
import type { MetricsConfig } from "./config.js";
import { createMeshMetrics } from "./mesh-metrics.js";
import { createMetricsService } from "./metrics-service.js";
import { createPeers, type Resolver } from "./peers.js";

/** A running metrics service. */
export interface MetricsServiceHandle {
  grpcPort: number;
  httpPort: number;
  /** Random per process; GetWindows reports it so replicas count themselves once. */
  instanceId: string;
  stop(): Promise<void>;
}

/** Things tests replace; production uses the defaults. */
export interface MetricsOverrides {
  now?: () => number;
  resolve?: Resolver;
  /** Install SIGTERM/SIGINT handlers (default true). */
  handleSignals?: boolean;
}

/**
 * Starts the metrics service: gRPC RecordObservation(s), SubmitFeedback, GetDashboard and
 * GetWindows; Prometheus text on GET /metrics of the HTTP port, next to /health and /ready.
 */
export async function startMetricsService(
  config: MetricsConfig,
  logger: Logger,
  flushTelemetry: () => Promise<void>,
  overrides: MetricsOverrides = {},
): Promise<MetricsServiceHandle> {
  const metrics = createMeshMetrics({
    maxModels: config.METRICS_MAX_MODELS,
    now: overrides.now,
  });
  const peers = createPeers(config.METRICS_PEERS, overrides.resolve);
  const service = createMetricsService({
    metrics,
    logger,
    peers,
    recentCapacity: config.METRICS_FEEDBACK_MAX_REQUESTS,
    now: overrides.now,
  });

  const grpc = await startGrpcServer({
    host: config.GRPC_HOST,
    port: config.METRICS_GRPC_PORT,
    logger,
    tracerName: "metrics",
    services: [service.registration],
  });

  const http = await startProbeServer({
    host: config.HTTP_HOST,
    port: config.METRICS_HTTP_PORT,
    checks: {},
    routes: async (req, res) => {
      if (req.method !== "GET" || req.url?.split("?")[0] !== "/metrics") return false;

      const body = await metrics.registry.metrics();
      res.writeHead(200, { "content-type": metrics.registry.contentType });
      res.end(body);
      return true;
    },
  });

  const stop = async () => {
    http.markNotReady();
    await grpc.shutdown(Math.max(0, config.SHUTDOWN_DEADLINE_MS - 1_000));
    peers.close();
    await http.close();
    await flushTelemetry();
  };
  if (overrides.handleSignals ?? true) {
    onShutdownSignal(logger, config.SHUTDOWN_DEADLINE_MS, [{ name: "stop", run: stop }]);
  }

  logger.info(
    { grpcPort: grpc.port, httpPort: http.port, peers: config.METRICS_PEERS || "none" },
    "metrics service listening",
  );
  return { grpcPort: grpc.port, httpPort: http.port, instanceId: service.instanceId, stop };
}
