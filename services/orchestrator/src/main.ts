import { createLogger } from "@mesh/logging";
import { startTelemetry } from "@mesh/telemetry";
import { CatalogError } from "./catalog.js";
import { loadOrchestratorConfig } from "./config.js";

const logger = createLogger("orchestrator");
const config = loadOrchestratorConfig();
const flushTelemetry = startTelemetry({
  serviceName: "orchestrator",
  serviceVersion: config.SERVICE_VERSION,
  environment: config.DEPLOYMENT_ENVIRONMENT,
});

// Telemetry starts before the server module loads so its libraries are instrumented.
const { startOrchestratorService } = await import("./server.js");
try {
  await startOrchestratorService(config, logger, flushTelemetry);
} catch (err) {
  // A bad catalog's message lists every problem; the stack adds nothing to that.
  if (err instanceof CatalogError) logger.fatal(err.message);
  else logger.fatal({ err }, "orchestrator failed to start");
  await flushTelemetry();
  process.exit(1);
}
