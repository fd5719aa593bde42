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
import { asRpcError } from "./errors.js";
import type { Endpoint, Pipeline } from "./pipeline.js";

const tracer = trace.getTracer("gateway");

/**
 * The gateway API over Connect (HTTP/1.1 JSON or binary, and gRPC-Web) for browsers. Same
 * pipeline as every other API; errors become ConnectError with the matching code.
 */
export function connectRoutes(pipeline: Pipeline) {
  return (router: ConnectRouter) =>
    router.service(GatewayService, {
      async chat(req, handler) {
        return inSpan(handler, "gateway.v1.GatewayService/Chat", async () => {
          const ctx = await admit(pipeline, handler, "connect");
          const result = await pipeline.chat(ctx, req.params);
          return { result };
        });
      },

      async *streamChat(req, handler) {
        const { span, ctx: traceCtx } = startSpan(handler, "gateway.v1.GatewayService/StreamChat");
        try {
          const ctx = await context.with(traceCtx, () => admit(pipeline, handler, "connect"));
          const events = pipeline.streamChat(ctx, req.params);
          // The generator runs in whoever calls next(); call it inside this request's trace.
          for (;;) {
            const step: IteratorResult<ChatEvent> = await context.with(traceCtx, () =>
              events.next(),
            );
            if (step.done) break;
            yield { event: step.value };
          }
        } catch (err) {
          span.setStatus({ code: SpanStatusCode.ERROR });
          throw toConnectError(err);
        } finally {
          span.end();
        }
      },
    });
}

async function admit(pipeline: Pipeline, handler: HandlerContext, endpoint: Endpoint) {
  const ctx = await pipeline.admit((name) => handler.requestHeader.get(name) ?? undefined, endpoint);
  ctx.signal = handler.signal;
  handler.responseHeader.set("x-request-id", ctx.requestId);
  return ctx;
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

async function inSpan<T>(handler: HandlerContext, name: string, work: () => Promise<T>) {
  const { span, ctx } = startSpan(handler, name);
  try {
    return await context.with(ctx, work);
  } catch (err) {
    span.setStatus({ code: SpanStatusCode.ERROR });
    throw toConnectError(err);
  } finally {
    span.end();
  }
}

/** Connect codes share gRPC's numbering, so the status carries over unchanged. */
function toConnectError(err: unknown): ConnectError {
  const rpc = asRpcError(err);
  const metadata = new Headers();
  if (rpc.reason) metadata.set("x-error-reason", rpc.reason);
  if (rpc.retryAfterMs !== undefined) {
    metadata.set("retry-after", String(Math.max(1, Math.ceil(rpc.retryAfterMs / 1000))));
  }
  return new ConnectError(rpc.message, rpc.code as number as Code, metadata);
}
