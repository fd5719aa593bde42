import { createLogger } from "@mesh/logging";
import { startTelemetry } from "@mesh/telemetry";
import { loadMetricsConfig } from "./config.js";

const logger = createLogger("metrics");
const config = loadMetricsConfig();
const flushTelemetry = startTelemetry({
  serviceName: "metrics",
  serviceVersion: config.SERVICE_VERSION,
  environment: config.DEPLOYMENT_ENVIRONMENT,
});

// Telemetry starts before the server module loads so its libraries are instrumented.
const { startMetricsService } = await import("./server.js");
await startMetricsService(config, logger, flushTelemetry);
