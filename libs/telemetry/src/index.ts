import { diag, DiagLogLevel, type DiagLogger } from "@opentelemetry/api";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { PgInstrumentation } from "@opentelemetry/instrumentation-pg";
import { UndiciInstrumentation } from "@opentelemetry/instrumentation-undici";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { NodeSDK } from "@opentelemetry/sdk-node";
import { BatchSpanProcessor, type SpanProcessor } from "@opentelemetry/sdk-trace-base";
import {
  ATTR_SERVICE_NAME,
  ATTR_SERVICE_VERSION,
} from "@opentelemetry/semantic-conventions";


/** What a service says about itself on every span it exports. */
export interface TelemetryOptions {
  serviceName: string;
  serviceVersion?: string;
  environment?: string;
  /** Extra processors, used by tests that collect spans in memory. */
  spanProcessors?: SpanProcessor[];
}

/** Stops telemetry after flushing every span still buffered. */
export type TelemetryShutdown = () => Promise<void>;

/**
 * Starts OpenTelemetry for this process. Spans are exported over OTLP/HTTP when
 * OTEL_EXPORTER_OTLP_ENDPOINT (or the traces-specific variable) is set; otherwise they are
 * created for log correlation and dropped. Call before importing modules to instrument.
 */
export function startTelemetry(options: TelemetryOptions): TelemetryShutdown {
  const processors: SpanProcessor[] = [...(options.spanProcessors ?? [])];
  const endpoint =
    process.env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ?? process.env.OTEL_EXPORTER_OTLP_ENDPOINT;
  if (endpoint && process.env.OTEL_TRACES_EXPORTER !== "none") {
    processors.push(new BatchSpanProcessor(new OTLPTraceExporter()));
  }

  diag.setLogger(quietDiagLogger, DiagLogLevel.WARN);
  const sdk = new NodeSDK({
    resource: resourceFromAttributes({
      [ATTR_SERVICE_NAME]: process.env.OTEL_SERVICE_NAME ?? options.serviceName,
      [ATTR_SERVICE_VERSION]: options.serviceVersion ?? "0.1.0",
      "deployment.environment.name": options.environment ?? "development",
    }),
    spanProcessors: processors,
    metricReaders: [],
    instrumentations: [
      new PgInstrumentation({ requireParentSpan: true }),
      new UndiciInstrumentation(),
    ],
  });
  sdk.start();

  return async () => {
    await sdk.shutdown().catch(() => undefined);
  };
}

// The SDK's own diagnostics go to stderr as JSON so they never mix with request logs.
const quietDiagLogger: DiagLogger = {
  error: (msg, ...args) => writeDiag("error", msg, args),
  warn: (msg, ...args) => writeDiag("warn", msg, args),
  info: () => undefined,
  debug: () => undefined,
  verbose: () => undefined,
};

function writeDiag(level: string, msg: string, args: unknown[]): void {
  const detail = args.map((a) => (a instanceof Error ? a.message : String(a))).join(" ");
  process.stderr.write(`${JSON.stringify({ level, source: "otel", msg, detail })}\n`);
}

export { activeTraceparent, startConsumerSpan } from "./queued-work.js";
