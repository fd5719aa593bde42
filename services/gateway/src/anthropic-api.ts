import type { ChatEvent } from "@mesh/contracts/common/v1/chat_pb";
import type { Logger } from "@mesh/logging";
import type { RpcError } from "@mesh/rpc";
import type { FastifyInstance, FastifyReply } from "fastify";
import {
  anthropicStopReason,
  anthropicUsage,
  messageId,
  meshExtension,
  parseMessagesRequest,
  readHintHeaders,
  toChatParams,
  toMessagesResponse,
} from "./anthropic-format.js";
import { anthropicErrorShape, asRpcError, limitSource, retryAfterSeconds } from "./errors.js";
import { abortOnClose, cacheHeaders, headerReader, openSse } from "./http-common.js";
import { withServerSpan } from "./http-tracing.js";
import type { Pipeline, RequestContext } from "./pipeline.js";
import { anthropicLimitHeaders, mergeLimits } from "./rate-limit-headers.js";
import type { LimitSnapshot } from "./rate-limits.js";

/**
 * Serves POST /v1/messages in Anthropic's wire format, JSON and SSE, so the official SDK
 * pointed at the gateway works unchanged. Errors use Anthropic's error JSON and statuses.
 */
export function registerAnthropicApi(app: FastifyInstance, pipeline: Pipeline, logger: Logger) {
  app.post("/v1/messages", async (req, reply) => {
    const header = headerReader(req);
    await withServerSpan(req, "POST /v1/messages", async (span) => {
      let ctx: RequestContext | undefined;
      // Set by the onRequest hook, so refusals at the door carry it too, as Anthropic's do.
      let requestId = header("x-request-id");
      if (requestId) reply.header("request-id", requestId);
      try {
        ctx = await pipeline.admit(header, "anthropic-messages");
        // Admission gives a reused id a new one.
        requestId = ctx.requestId;
        reply.headers({ "request-id": requestId, "x-request-id": requestId });

        const body = parseMessagesRequest(req.body);
        const params = toChatParams(body, readHintHeaders(header));
        span.setAttribute("gen_ai.request.model", body.model);
        // A caller hanging up ends the model call too (after a grace; see the pipeline).
        ctx.signal = abortOnClose(req, reply);
        if (body.stream) {
          await streamMessages(reply, pipeline, ctx, params, logger);
          return;
        }

        const result = await pipeline.chat(ctx, params);
        span.setAttribute("mesh.cache_hit", result.cacheHit);
        reply.headers({ ...anthropicLimitHeaders(ctx.limits), ...cacheHeaders(ctx) });
        await reply.code(200).send(toMessagesResponse(result));
      } catch (err) {
        const rpcError = asRpcError(err);
        span.setAttribute("mesh.error_reason", rpcError.reason || "internal");
        await sendAnthropicError(reply, rpcError, {
          requestId,
          limits: mergeLimits(ctx?.limits, err),
        });
      }
    });
  });
}

/**
 * Sends an error in Anthropic's shape, with retry-after and the rate-limit headers where they
 * apply. `error.source` says whose limit refused a request: the gateway's or the provider's.
 */
export async function sendAnthropicError(
  reply: FastifyReply,
  err: RpcError,
  options: { requestId?: string | undefined; limits?: LimitSnapshot } = {},
): Promise<void> {
  const { status, type } = anthropicErrorShape(err);
  reply.headers(anthropicLimitHeaders(options.limits ?? {}));
  if (err.retryAfterMs !== undefined) {
    reply.header("retry-after", String(retryAfterSeconds(err.retryAfterMs)));
  }
  const source = limitSource(err);
  const body: Record<string, unknown> = {
    type: "error",
    error: {
      type,
      message: err.message,
      ...(err.reason ? { reason: err.reason } : {}),
      ...(source ? { source } : {}),
    },
  };
  if (options.requestId) {
    body.request_id = options.requestId;
    reply.header("request-id", options.requestId);
  }
  await reply.code(status).send(body);
}

async function streamMessages(
  reply: FastifyReply,
  pipeline: Pipeline,
  ctx: RequestContext,
  params: ReturnType<typeof toChatParams>,
  logger: Logger,
): Promise<void> {
  const events = pipeline.streamChat(ctx, params);

  // Pull the first event before committing to SSE, so early failures (a blocked prompt, an
  // unknown model) still get a plain HTTP error status.
  const first = await events.next();
  const raw = openSse(reply, { ...anthropicLimitHeaders(ctx.limits), ...cacheHeaders(ctx) });

  const writer = createSseWriter(ctx);
  try {
    if (!first.done) raw.write(writer.map(first.value));
    for await (const event of { [Symbol.asyncIterator]: () => events }) {
      if (raw.destroyed) break;
      raw.write(writer.map(event));
    }
  } catch (err) {
    const rpcError = asRpcError(err);
    const { type } = anthropicErrorShape(rpcError);
    logger.warn({ reason: rpcError.reason, requestId: ctx.requestId }, "stream ended with error");
    raw.write(sse("error", { type: "error", error: { type, message: rpcError.message } }));
  } finally {
    if (!raw.destroyed) raw.end();
    await events.return(undefined);
  }
}

/** Turns mesh stream events into Anthropic SSE frames, keeping block indices in order. */
function createSseWriter(ctx: RequestContext) {
  let nextIndex = 0;
  let open: { index: number; source: number } | undefined;

  const close = () => {
    if (!open) return "";
    const frame = sse("content_block_stop", { type: "content_block_stop", index: open.index });
    open = undefined;
    return frame;
  };

  return {
    map(event: ChatEvent): string {
      const e = event.event;
      switch (e.case) {
        case "start":
          return (
            sse("message_start", {
              type: "message_start",
              message: {
                id: messageId(ctx.requestId),
                type: "message",
                role: "assistant",
                model: e.value.model,
                content: [],
                stop_reason: null,
                stop_sequence: null,
                usage: { ...anthropicUsage(e.value.usage), output_tokens: 0 },
              },
            }) + sse("ping", { type: "ping" })
          );
        case "textDelta": {
          let frames = "";
          if (!open || open.source !== e.value.index) {
            frames += close();
            open = { index: nextIndex++, source: e.value.index };
            frames += sse("content_block_start", {
              type: "content_block_start",
              index: open.index,
              content_block: { type: "text", text: "" },
            });
          }
          return frames + sse("content_block_delta", {
            type: "content_block_delta",
            index: open.index,
            delta: { type: "text_delta", text: e.value.text },
          });
        }
        case "toolUse": {
          const index = nextIndex++;
          return (
            close() +
            sse("content_block_start", {
              type: "content_block_start",
              index,
              content_block: { type: "tool_use", id: e.value.id, name: e.value.name, input: {} },
            }) +
            sse("content_block_delta", {
              type: "content_block_delta",
              index,
              delta: { type: "input_json_delta", partial_json: e.value.inputJson || "{}" },
            }) +
            sse("content_block_stop", { type: "content_block_stop", index })
          );
        }
        case "done":
          return (
            close() +
            sse("message_delta", {
              type: "message_delta",
              delta: {
                stop_reason: anthropicStopReason(e.value.stopReason),
                stop_sequence: e.value.stopSequence || null,
              },
              usage: anthropicUsage(e.value.usage),
              mesh: meshExtension(e.value),
            }) +
            sse("message_stop", { type: "message_stop" })
          );
        default:
          // Guardrail verdicts travel in message_delta's mesh field; Anthropic has no such event.
          return "";
      }
    },
  };
}

function sse(event: string, data: unknown): string {
  return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}
