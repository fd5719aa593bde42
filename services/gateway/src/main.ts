import { createLogger } from "@mesh/logging";
import { startTelemetry } from "@mesh/telemetry";
import { loadGatewayConfig } from "./config.js";

const logger = createLogger("gateway");
const config = loadGatewayConfig();
const flushTelemetry = startTelemetry({
  serviceName: "gateway",
  serviceVersion: config.SERVICE_VERSION,
  environment: config.DEPLOYMENT_ENVIRONMENT,
});

// Telemetry starts before the server module loads so its libraries are instrumented.
const { startGateway } = await import("./server.js");
await startGateway(config, logger, flushTelemetry);
