import type { MessageInitShape } from "@bufbuild/protobuf";
import type { ObservationSchema } from "@mesh/contracts/metrics/v1/metrics_pb";
import { activeTraceparent } from "@mesh/telemetry";
import { ROOT_CONTEXT, SpanStatusCode, trace, type Link } from "@opentelemetry/api";

/** One finished request for the metrics service, as a message or a plain object literal. */
export type ObservationInput = MessageInitShape<typeof ObservationSchema>;

/** Options of createObservationBatcher. */
export interface ObservationBatcherOptions {
  /** Delivers one batch (the metrics service's RecordObservations). */
  send(observations: ObservationInput[]): Promise<void>;
  logger: { warn(fields: object, message: string): void };
  /** Longest an observation waits for its batch to leave (default 25 ms). */
  maxDelayMs?: number;
  /** A batch this full leaves at once (default 200). */
  maxBatch?: number;
}

/** Collects observations and sends them in batches, off every caller's path. */
export interface ObservationBatcher {
  /** Queues one observation; it leaves within maxDelayMs, sooner when its batch fills. */
  add(observation: ObservationInput): void;
  /** Observations queued and not yet handed to `send`. */
  queued(): number;
  /**
   * Sends what is queued and resolves once every send has settled. Observations added
   * afterwards (a request finishing late) leave at once, one per call.
   */
  close(): Promise<void>;
}

/** The span each batch is sent under; the requests it carries are its links. */
export const BATCH_SPAN_NAME = "send metrics observations";

/**
 * Creates the batcher. A batch that fails to send is logged and dropped, as a single
 * observation was before: metrics are best effort, billing goes through the outbox.
 */
export function createObservationBatcher(options: ObservationBatcherOptions): ObservationBatcher {
  const { send, logger } = options;
  const maxDelayMs = options.maxDelayMs ?? 25;
  const maxBatch = options.maxBatch ?? 200;
  const tracer = trace.getTracer("gateway");

  let batch: ObservationInput[] = [];
  let links: Link[] = [];
  let timer: NodeJS.Timeout | undefined;
  let closed = false;
  const sending = new Set<Promise<void>>();

  function flush(): void {
    if (timer) clearTimeout(timer);
    timer = undefined;
    if (batch.length === 0) return;

    const observations = batch;
    const requests = links;
    batch = [];
    links = [];
    // A batch belongs to no single request: it starts its own trace (not that of whichever
    // request armed the timer) and links to every request it carries.
    const sent = tracer.startActiveSpan(
      BATCH_SPAN_NAME,
      { links: requests, attributes: { "mesh.observations": observations.length } },
      ROOT_CONTEXT,
      async (span) => {
        try {
          await send(observations);
        } catch (err) {
          span.setStatus({ code: SpanStatusCode.ERROR, message: String(err) });
          logger.warn(
            { err: String(err), observations: observations.length },
            "metrics observations lost",
          );
        } finally {
          span.end();
        }
      },
    );
    sending.add(sent);
    void sent.finally(() => sending.delete(sent));
  }

  return {
    add(observation) {
      // The metrics service records it in a span of the request's trace (see Observation).
      batch.push({ ...observation, traceparent: activeTraceparent() });
      const request = trace.getActiveSpan()?.spanContext();
      if (request) links.push({ context: request });

      if (closed || batch.length >= maxBatch) flush();
      else if (!timer) {
        timer = setTimeout(flush, maxDelayMs);
        // Shutdown flushes through close(); a pending batch must not hold the process.
        timer.unref();
      }
    },

    queued: () => batch.length,

    async close() {
      closed = true;
      flush();
      await Promise.all([...sending]);
    },
  };
}
