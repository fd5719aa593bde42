import { GatewayService } from "@mesh/contracts/gateway/v1/gateway_pb";
import { registerService, type CallContext } from "@mesh/rpc";
import { asRpcError, limitSource } from "./errors.js";
import type { Pipeline, RequestContext } from "./pipeline.js";
import { mergeLimits, openAiLimitHeaders } from "./rate-limit-headers.js";
import type { LimitSnapshot } from "./rate-limits.js";
import { normaliseRequestId } from "./request-id.js";
import { errorInfoDetail, retryInfoDetail } from "./retry-info.js";

/**
 * The gateway API over gRPC for internal services; the key travels in call metadata. Answers
 * carry x-request-id and the x-ratelimit-* headers; refusals carry them as trailers, with
 * google.rpc RetryInfo and ErrorInfo in grpc-status-details-bin.
 */
export function grpcGatewayService(pipeline: Pipeline) {
  const admit = async (call: CallContext) => {
    // Named here rather than in the pipeline so that a refusal at the door carries it too.
    const requestId = normaliseRequestId(call.header("x-request-id"));
    const header = (name: string) => (name === "x-request-id" ? requestId : call.header(name));
    try {
      const ctx = await pipeline.admit(header, "grpc");
      ctx.signal = call.signal;
      call.setHeader("x-request-id", ctx.requestId);
      return ctx;
    } catch (err) {
      const refusal = toGrpcError(err);
      // Refused in admission, the request bills nothing: the id it carries is the one given.
      refusal.trailers["x-request-id"] = requestId;
      throw refusal;
    }
  };
  const withLimits = (call: CallContext, ctx: RequestContext) => {
    for (const [name, value] of Object.entries(openAiLimitHeaders(ctx.limits))) {
      call.setHeader(name, value);
    }
  };

  return registerService(GatewayService, {
    async chat(req, call) {
      const ctx = await admit(call);
      try {
        const result = await pipeline.chat(ctx, req.params);
        withLimits(call, ctx);
        return { result };
      } catch (err) {
        throw toGrpcError(err, ctx.limits);
      }
    },

    async submitFeedback(req, call) {
      const ctx = await admit(call);
      try {
        return await pipeline.submitFeedback(ctx, req);
      } catch (err) {
        throw toGrpcError(err, ctx.limits);
      }
    },

    async *streamChat(req, call) {
      const ctx = await admit(call);
      try {
        let first = true;
        for await (const event of pipeline.streamChat(ctx, req.params)) {
          if (first) withLimits(call, ctx);
          first = false;
          yield { event };
        }
      } catch (err) {
        throw toGrpcError(err, ctx.limits);
      }
    },
  });
}

/** The caller's error with rate-limit trailers and google.rpc details where they apply. */
function toGrpcError(err: unknown, limits?: LimitSnapshot) {
  const rpc = asRpcError(err);
  Object.assign(rpc.trailers, openAiLimitHeaders(mergeLimits(limits, err)));
  if (rpc.reason) {
    const source = limitSource(rpc);
    rpc.details.push(errorInfoDetail(rpc.reason, source ? { source } : {}));
  }
  if (rpc.retryAfterMs !== undefined) rpc.details.push(retryInfoDetail(rpc.retryAfterMs));
  return rpc;
}
