import { MetricsService } from "@mesh/contracts/metrics/v1/metrics_pb";
import { onShutdownSignal, startProbeServer } from "@mesh/lifecycle";
import type { Logger } from "@mesh/logging";
import { registerService, RpcError, GrpcStatus, startGrpcServer } from "@mesh/rpc";
import type { MetricsConfig } from "./config.js";
import { createMeshMetrics } from "./mesh-metrics.js";

/** A running metrics service. */
export interface MetricsServiceHandle {
  grpcPort: number;
  httpPort: number;
  stop(): Promise<void>;
}

/**
 * Starts the metrics service: gRPC RecordObservation in, Prometheus text out on
 * GET /metrics of the HTTP port, next to /health and /ready.
 */
export async function startMetricsService(
  config: MetricsConfig,
  logger: Logger,
  flushTelemetry: () => Promise<void>,
): Promise<MetricsServiceHandle> {
  const metrics = createMeshMetrics();

  const grpc = await startGrpcServer({
    host: config.GRPC_HOST,
    port: config.METRICS_GRPC_PORT,
    logger,
    tracerName: "metrics",
    services: [
      registerService(MetricsService, {
        async recordObservation(req) {
          if (!req.observation) {
            throw new RpcError(GrpcStatus.INVALID_ARGUMENT, "observation is required");
          }
          metrics.record(req.observation);
          return {};
        },
      }),
    ],
  });

  const http = await startProbeServer({
    host: config.HTTP_HOST,
    port: config.METRICS_HTTP_PORT,
    checks: {},
    routes: async (req, res) => {
      if (req.method !== "GET" || !req.url?.startsWith("/metrics")) return false;

      const body = await metrics.registry.metrics();
      res.writeHead(200, { "content-type": metrics.registry.contentType });
      res.end(body);
      return true;
    },
  });

  const stop = async () => {
    http.markNotReady();
    await grpc.shutdown(config.SHUTDOWN_DEADLINE_MS - 1_000);
    await http.close();
    await flushTelemetry();
  };
  onShutdownSignal(logger, config.SHUTDOWN_DEADLINE_MS, [{ name: "stop", run: stop }]);

  logger.info({ grpcPort: grpc.port, httpPort: http.port }, "metrics service listening");
  return { grpcPort: grpc.port, httpPort: http.port, stop };
}
