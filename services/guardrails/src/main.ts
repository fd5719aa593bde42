import { createLogger } from "@mesh/logging";
import { startTelemetry } from "@mesh/telemetry";
import { loadGuardrailsConfig } from "./config.js";

const logger = createLogger("guardrails");
const config = loadGuardrailsConfig();
const flushTelemetry = startTelemetry({
  serviceName: "guardrails",
  serviceVersion: config.SERVICE_VERSION,
  environment: config.DEPLOYMENT_ENVIRONMENT,
});

// Telemetry starts before the server module loads so its libraries are instrumented.
const { startGuardrailsService } = await import("./server.js");
await startGuardrailsService(config, logger, flushTelemetry);
