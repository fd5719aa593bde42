import type { ChatParams } from "@mesh/contracts/common/v1/chat_pb";
import type { Logger } from "@mesh/logging";
import { GrpcStatus, type RpcError } from "@mesh/rpc";
import type { FastifyInstance, FastifyReply } from "fastify";
import {
  asRpcError,
  gatewayError,
  limitSource,
  openAiErrorShape,
  retryAfterSeconds,
} from "./errors.js";
import { abortOnClose, cacheHeaders, headerReader, openSse } from "./http-common.js";
import { withServerSpan } from "./http-tracing.js";
import { readHintHeaders } from "./mesh-hints.js";
import {
  completionId,
  createChunkWriter,
  errorFrame,
  parseChatCompletionRequest,
  toChatCompletion,
  toChatParams,
  toModel,
  toModelList,
} from "./openai-format.js";
import type { Pipeline, RequestContext } from "./pipeline.js";
import { mergeLimits, openAiLimitHeaders } from "./rate-limit-headers.js";
import type { LimitSnapshot } from "./rate-limits.js";

/**
 * Serves the OpenAI-compatible API: POST /v1/chat/completions (JSON, and SSE ending in
 * `data: [DONE]`) and GET /v1/models, so the official OpenAI SDKs with a base URL of
 * `<gateway>/v1` work unchanged. Errors use OpenAI's error JSON and statuses.
 */
export function registerOpenAiApi(app: FastifyInstance, pipeline: Pipeline, logger: Logger) {
  app.post("/v1/chat/completions", async (req, reply) => {
    const header = headerReader(req);
    await withServerSpan(req, "POST /v1/chat/completions", async (span) => {
      let ctx: RequestContext | undefined;
      try {
        ctx = await pipeline.admit(header, "openai-chat");
        // Admission gives a reused id a new one.
        reply.header("x-request-id", ctx.requestId);
        const body = parseChatCompletionRequest(req.body);
        const params = toChatParams(body, readHintHeaders(header));
        span.setAttribute("gen_ai.request.model", body.model);
        const createdS = Math.floor(Date.now() / 1000);
        // A caller hanging up ends the model call too (after a grace; see the pipeline).
        ctx.signal = abortOnClose(req, reply);
        if (body.stream) {
          const includeUsage = body.stream_options?.include_usage === true;
          await streamCompletion(reply, pipeline, ctx, params, { createdS, includeUsage }, logger);
          return;
        }

        const result = await pipeline.chat(ctx, params);
        span.setAttribute("mesh.cache_hit", result.cacheHit);
        reply.headers({ ...openAiLimitHeaders(ctx.limits), ...cacheHeaders(ctx) });
        await reply.code(200).send(toChatCompletion(result, createdS));
      } catch (err) {
        const rpcError = asRpcError(err);
        span.setAttribute("mesh.error_reason", rpcError.reason || "internal");
        await sendOpenAiError(reply, rpcError, mergeLimits(ctx?.limits, err));
      }
    });
  });

  app.get("/v1/models", async (req, reply) => {
    try {
      const models = await pipeline.listModels(headerReader(req));
      await reply.send(toModelList(models));
    } catch (err) {
      await sendOpenAiError(reply, asRpcError(err));
    }
  });

  app.get<{ Params: { model: string } }>("/v1/models/:model", async (req, reply) => {
    try {
      const models = await pipeline.listModels(headerReader(req));
      const model = models.find((m) => m.name === req.params.model);
      if (!model) {
        throw gatewayError(
          GrpcStatus.NOT_FOUND,
          "invalid_model",
          `model ${req.params.model} does not exist or this key may not use it`,
        );
      }
      await reply.send(toModel(model));
    } catch (err) {
      await sendOpenAiError(reply, asRpcError(err));
    }
  });
}

/**
 * Sends an error in OpenAI's shape, {error: {message, type, param, code}}, with retry-after
 * and the rate-limit headers where they apply. `source` says whose limit refused a request.
 */
export async function sendOpenAiError(
  reply: FastifyReply,
  err: RpcError,
  limits: LimitSnapshot = {},
): Promise<void> {
  const { status, type, code } = openAiErrorShape(err);
  reply.headers(openAiLimitHeaders(limits));
  if (err.retryAfterMs !== undefined) {
    reply.header("retry-after", String(retryAfterSeconds(err.retryAfterMs)));
  }
  const source = limitSource(err);
  await reply.code(status).send({
    error: {
      message: err.message,
      type,
      param: paramOf(err),
      code,
      ...(source ? { source } : {}),
    },
  });
}

/** The request field an invalid-request message starts with ("messages.0.content: …"). */
function paramOf(err: RpcError): string | null {
  if (err.code !== GrpcStatus.INVALID_ARGUMENT) return null;
  const match = /^([A-Za-z_][\w.]*): /.exec(err.message);
  return match?.[1] && match[1] !== "body" ? match[1] : null;
}

async function streamCompletion(
  reply: FastifyReply,
  pipeline: Pipeline,
  ctx: RequestContext,
  params: ChatParams,
  options: { createdS: number; includeUsage: boolean },
  logger: Logger,
): Promise<void> {
  const events = pipeline.streamChat(ctx, params);

  // Pull the first event before committing to SSE, so early failures (a blocked prompt, a
  // limit, an unknown model) still get a plain HTTP error status.
  const first = await events.next();
  const raw = openSse(reply, { ...openAiLimitHeaders(ctx.limits), ...cacheHeaders(ctx) });

  const writer = createChunkWriter({ id: completionId(ctx.requestId), ...options });
  try {
    if (!first.done) raw.write(writer.map(first.value));
    for await (const event of { [Symbol.asyncIterator]: () => events }) {
      if (raw.destroyed) break;
      raw.write(writer.map(event));
    }
    if (!raw.destroyed) raw.write(writer.end());
  } catch (err) {
    const rpcError = asRpcError(err);
    const { type, code } = openAiErrorShape(rpcError);
    logger.warn({ reason: rpcError.reason, requestId: ctx.requestId }, "stream ended with error");
    if (!raw.destroyed) raw.write(errorFrame({ message: rpcError.message, type, code }));
  } finally {
    if (!raw.destroyed) raw.end();
    await events.return(undefined);
  }
}
