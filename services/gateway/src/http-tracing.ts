import {
  context,
  propagation,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  type Span,
} from "@opentelemetry/api";
import type { FastifyRequest } from "fastify";

const tracer = trace.getTracer("gateway");

/**
 * Runs an HTTP handler inside a SERVER span that continues the caller's trace (W3C
 * traceparent), so every internal hop of the request is its child.
 */
export async function withServerSpan<T>(
  req: FastifyRequest,
  name: string,
  work: (span: Span) => Promise<T>,
): Promise<T> {
  const parent = propagation.extract(ROOT_CONTEXT, req.headers);
  const span = tracer.startSpan(
    name,
    {
      kind: SpanKind.SERVER,
      attributes: {
        "http.request.method": req.method,
        "url.path": req.url.split("?")[0] ?? "/",
        "user_agent.original": req.headers["user-agent"] ?? "",
      },
    },
    parent,
  );
  try {
    return await context.with(trace.setSpan(parent, span), () => work(span));
  } catch (err) {
    span.setStatus({ code: SpanStatusCode.ERROR });
    throw err;
  } finally {
    span.end();
  }
}
