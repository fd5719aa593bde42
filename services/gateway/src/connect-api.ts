import { Code, ConnectError, type ConnectRouter, type HandlerContext } from "@connectrpc/connect";
import type { ChatEvent } from "@mesh/contracts/common/v1/chat_pb";
import { GatewayService } from "@mesh/contracts/gateway/v1/gateway_pb";
import {
  context,
  propagation,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  type Context,
  type Span,
} from "@opentelemetry/api";
import { asRpcError, limitSource, retryAfterSeconds } from "./errors.js";
import type { Endpoint, HeaderReader, Pipeline, RequestContext } from "./pipeline.js";
import { mergeLimits, openAiLimitHeaders } from "./rate-limit-headers.js";
import type { LimitSnapshot } from "./rate-limits.js";
import { errorInfoDetail, retryInfoDetail } from "./retry-info.js";

const tracer = trace.getTracer("gateway");

/**
 * The gateway API over Connect (HTTP/1.1 JSON or binary, and gRPC-Web) for browsers. Same
 * pipeline as every other API; errors become ConnectError with the matching code, and a limit
 * carries google.rpc.RetryInfo plus the x-ratelimit-* headers.
 */
export function connectRoutes(pipeline: Pipeline) {
  return (router: ConnectRouter) =>
    router.service(GatewayService, {
      async submitFeedback(req, handler) {
        return inConnectSpan(handler, "gateway.v1.GatewayService/SubmitFeedback", async () => {
          const ctx = await admit(pipeline, handler, "connect");
          try {
            return await pipeline.submitFeedback(ctx, req);
          } catch (err) {
            throw toConnectError(err, ctx.limits);
          }
        });
      },

      async chat(req, handler) {
        return inConnectSpan(handler, "gateway.v1.GatewayService/Chat", async () => {
          const ctx = await admit(pipeline, handler, "connect");
          try {
            const result = await pipeline.chat(ctx, req.params);
            setLimitHeaders(handler, ctx.limits);
            return { result };
          } catch (err) {
            throw toConnectError(err, ctx.limits);
          }
        });
      },

      async *streamChat(req, handler) {
        const { span, ctx: traceCtx } = startSpan(handler, "gateway.v1.GatewayService/StreamChat");
        let ctx: RequestContext | undefined;
        try {
          ctx = await context.with(traceCtx, () => admit(pipeline, handler, "connect"));
          const events = pipeline.streamChat(ctx, req.params);
          // The generator runs in whoever calls next(); call it inside this request's trace.
          let first = true;
          for (;;) {
            const step: IteratorResult<ChatEvent> = await context.with(traceCtx, () =>
              events.next(),
            );
            if (step.done) break;
            // A caller gone before this event (the pipeline keeps a stream up a little after
            // its caller, to bill it) must not be written to: connect-node would wait on the
            // closed response for ever, and the request would never be reported.
            if (handler.signal.aborted) {
              await events.return(undefined);
              break;
            }
            if (first) setLimitHeaders(handler, ctx.limits);
            first = false;
            yield { event: step.value };
          }
        } catch (err) {
          span.setStatus({ code: SpanStatusCode.ERROR });
          throw toConnectError(err, ctx?.limits);
        } finally {
          span.end();
        }
      },
    });
}

async function admit(pipeline: Pipeline, handler: HandlerContext, endpoint: Endpoint) {
  const ctx = await pipeline.admit(connectHeaders(handler), endpoint);
  ctx.signal = handler.signal;
  handler.responseHeader.set("x-request-id", ctx.requestId);
  setLimitHeaders(handler, ctx.limits);
  return ctx;
}

function setLimitHeaders(handler: HandlerContext, limits: LimitSnapshot): void {
  for (const [name, value] of Object.entries(openAiLimitHeaders(limits))) {
    handler.responseHeader.set(name, value);
  }
}

function connectHeaders(handler: HandlerContext): HeaderReader {
  return (name) => handler.requestHeader.get(name) ?? undefined;
}

function startSpan(handler: HandlerContext, name: string): { span: Span; ctx: Context } {
  const parent = propagation.extract(ROOT_CONTEXT, handler.requestHeader, {
    keys: (carrier) => [...carrier.keys()],
    get: (carrier, key) => carrier.get(key) ?? undefined,
  });
  const span = tracer.startSpan(
    name,
    { kind: SpanKind.SERVER, attributes: { "rpc.system": "connect_rpc" } },
    parent,
  );
  return { span, ctx: trace.setSpan(parent, span) };
}

/**
 * Runs a unary Connect handler inside a SERVER span that continues the caller's trace; errors
 * leave as ConnectError.
 */
export async function inConnectSpan<T>(
  handler: HandlerContext,
  name: string,
  work: (header: HeaderReader) => Promise<T>,
): Promise<T> {
  const { span, ctx } = startSpan(handler, name);
  try {
    return await context.with(ctx, () => work(connectHeaders(handler)));
  } catch (err) {
    span.setStatus({ code: SpanStatusCode.ERROR });
    throw toConnectError(err);
  } finally {
    span.end();
  }
}

/** Connect codes share gRPC's numbering, so the status carries over unchanged. */
export function toConnectError(err: unknown, limits?: LimitSnapshot): ConnectError {
  if (err instanceof ConnectError) return err;

  const rpc = asRpcError(err);
  const metadata = new Headers(openAiLimitHeaders(mergeLimits(limits, err)));
  const details = [];
  if (rpc.reason) {
    metadata.set("x-error-reason", rpc.reason);
    const source = limitSource(rpc);
    details.push(errorInfoDetail(rpc.reason, source ? { source } : {}));
  }
  if (rpc.retryAfterMs !== undefined) {
    metadata.set("retry-after", String(retryAfterSeconds(rpc.retryAfterMs)));
    details.push(retryInfoDetail(rpc.retryAfterMs));
  }
  const error = new ConnectError(rpc.message, rpc.code as number as Code, metadata);
  // Details given as type name and bytes are sent as they are, by both Connect and gRPC-Web.
  error.details.push(...details);
  return error;
}
