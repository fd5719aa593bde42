import {
  context,
  propagation,
  ROOT_CONTEXT,
  SpanKind,
  trace,
  type Attributes,
  type Span,
  type Tracer,
} from "@opentelemetry/api";

// Work that leaves a request to be done later in a batch (a metrics observation, a usage row)
// would otherwise fall out of the request's trace: the batch's RPC can have only one parent.
// The sender stamps the item with the request span's W3C traceparent; the receiver opens a
// span under it, so the request's trace still reaches the service that did the work.

const carrierSetter = {
  set(carrier: Record<string, string>, key: string, value: string) {
    carrier[key] = value;
  },
};
const carrierGetter = {
  get: (carrier: Record<string, string>, key: string) => carrier[key],
  keys: (carrier: Record<string, string>) => Object.keys(carrier),
};

/** The W3C traceparent of the active span, to travel with a queued item; "" when none. */
export function activeTraceparent(): string {
  if (!trace.getActiveSpan()) return "";

  const carrier: Record<string, string> = {};
  propagation.inject(context.active(), carrier, carrierSetter);
  return carrier.traceparent ?? "";
}

/**
 * Starts a CONSUMER span for one queued item under the traceparent it carried (a root span
 * when it carried none). The caller ends it when the item's work is done.
 */
export function startConsumerSpan(
  tracer: Tracer,
  name: string,
  traceparent: string,
  attributes?: Attributes,
): Span {
  const parent = traceparent
    ? propagation.extract(ROOT_CONTEXT, { traceparent }, carrierGetter)
    : ROOT_CONTEXT;
  return tracer.startSpan(name, { kind: SpanKind.CONSUMER, attributes }, parent);
}
