import { createLogger } from "@mesh/logging";
import { startTelemetry } from "@mesh/telemetry";
import { loadLedgerConfig } from "./config.js";

const logger = createLogger("cost-ledger");
const config = loadLedgerConfig();
const flushTelemetry = startTelemetry({
  serviceName: "cost-ledger",
  serviceVersion: config.SERVICE_VERSION,
  environment: config.DEPLOYMENT_ENVIRONMENT,
});

// Telemetry starts before the server module loads so pg and grpc-js are instrumented.
const { startCostLedgerService } = await import("./server.js");
try {
  await startCostLedgerService(config, logger, flushTelemetry);
} catch (err) {
  logger.fatal({ err }, "cost ledger failed to start");
  await flushTelemetry();
  process.exit(1);
}
