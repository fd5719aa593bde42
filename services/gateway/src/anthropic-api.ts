import type { ChatEvent } from "@mesh/contracts/common/v1/chat_pb";
import type { Logger } from "@mesh/logging";
import type { RpcError } from "@mesh/rpc";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import {
  anthropicBlock,
  anthropicStopReason,
  anthropicUsage,
  messageId,
  meshExtension,
  parseMessagesRequest,
  readHintHeaders,
  toChatParams,
  toMessagesResponse,
} from "./anthropic-format.js";
import { anthropicErrorShape, asRpcError } from "./errors.js";
import { withServerSpan } from "./http-tracing.js";
import type { Pipeline, RequestContext } from "./pipeline.js";
import type { LimitState } from "./rate-limits.js";

/**
 * Serves POST /v1/messages in Anthropic's wire format, JSON and SSE, so the official SDK
 * pointed at the gateway works unchanged. Errors use Anthropic's error JSON and statuses.
 */
export function registerAnthropicApi(app: FastifyInstance, pipeline: Pipeline, logger: Logger) {
  app.post("/v1/messages", async (req, reply) => {
    const header = headerReader(req);
    await withServerSpan(req, "POST /v1/messages", async (span) => {
      let ctx: RequestContext | undefined;
      try {
        ctx = await pipeline.admit(header, "anthropic-messages");
        reply.header("x-request-id", ctx.requestId).header("request-id", ctx.requestId);
        setLimitHeaders(reply, ctx.limits);

        const body = parseMessagesRequest(req.body);
        const params = toChatParams(body, readHintHeaders(header));
        span.setAttribute("gen_ai.request.model", body.model);
        if (body.stream) {
          ctx.signal = abortOnClose(req, reply);
          await streamMessages(reply, pipeline, ctx, params, logger);
          return;
        }

        const result = await pipeline.chat(ctx, params);
        span.setAttribute("mesh.cache_hit", result.cacheHit);
        reply.header("x-mesh-cache", result.cacheHit ? "hit" : "miss");
        await reply.code(200).send(toMessagesResponse(result));
      } catch (err) {
        const rpcError = asRpcError(err);
        span.setAttribute("mesh.error_reason", rpcError.reason || "internal");
        await sendAnthropicError(reply, rpcError, ctx?.requestId);
      }
    });
  });
}

/** Sends an error in Anthropic's shape, with retry-after where the caller should wait. */
export async function sendAnthropicError(
  reply: FastifyReply,
  err: RpcError,
  requestId?: string,
): Promise<void> {
  const { status, type } = anthropicErrorShape(err);
  if (err.retryAfterMs !== undefined) {
    reply.header("retry-after", String(Math.max(1, Math.ceil(err.retryAfterMs / 1000))));
  }
  const body: Record<string, unknown> = {
    type: "error",
    error: { type, message: err.message, ...(err.reason ? { reason: err.reason } : {}) },
  };
  if (requestId) body.request_id = requestId;
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
  reply.hijack();
  const raw = reply.raw;
  raw.writeHead(200, {
    ...(reply.getHeaders() as Record<string, string>),
    "content-type": "text/event-stream; charset=utf-8",
    "cache-control": "no-cache",
    connection: "keep-alive",
  });

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
          // Guardrail verdicts travel in message_delta's mesh field; Anthropic has no event for them.
          return "";
      }
    },
  };
}

function sse(event: string, data: unknown): string {
  return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}

/** Reads request headers case-insensitively, first value only. */
export function headerReader(req: FastifyRequest) {
  return (name: string): string | undefined => {
    const value = req.headers[name];
    return Array.isArray(value) ? value[0] : value;
  };
}

function setLimitHeaders(reply: FastifyReply, limits: LimitState): void {
  reply
    .header("anthropic-ratelimit-requests-limit", String(limits.limit))
    .header("anthropic-ratelimit-requests-remaining", String(limits.remaining))
    .header(
      "anthropic-ratelimit-requests-reset",
      new Date(Date.now() + limits.resetMs).toISOString(),
    );
}

function abortOnClose(req: FastifyRequest, reply: FastifyReply): AbortSignal {
  const controller = new AbortController();
  reply.raw.on("close", () => {
    if (!reply.raw.writableFinished) controller.abort();
  });
  req.raw.on("aborted", () => controller.abort());
  return controller.signal;
}

/** @private exported for tests */
export { anthropicBlock };
