import { GatewayService } from "@mesh/contracts/gateway/v1/gateway_pb";
import { registerService, type CallContext } from "@mesh/rpc";
import { asRpcError } from "./errors.js";
import type { Pipeline } from "./pipeline.js";

/** The gateway API over gRPC for internal services; the key travels in call metadata. */
export function grpcGatewayService(pipeline: Pipeline) {
  const admit = async (call: CallContext) => {
    const ctx = await pipeline.admit((name) => call.header(name), "grpc");
    ctx.signal = call.signal;
    return ctx;
  };

  return registerService(GatewayService, {
    async chat(req, call) {
      const ctx = await admit(call);
      const result = await pipeline.chat(ctx, req.params);
      return { result };
    },

    async submitFeedback(req, call) {
      const ctx = await admit(call);
      return pipeline.submitFeedback(ctx, req);
    },

    async *streamChat(req, call) {
      const ctx = await admit(call);
      try {
        for await (const event of pipeline.streamChat(ctx, req.params)) yield { event };
      } catch (err) {
        throw asRpcError(err);
      }
    },
  });
}
