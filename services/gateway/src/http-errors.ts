import type { Logger } from "@mesh/logging";
import { GrpcStatus, RpcError } from "@mesh/rpc";
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { sendAnthropicError } from "./anthropic-api.js";
import { gatewayError, invalidRequest } from "./errors.js";
import { sendOpenAiError } from "./openai-api.js";

/**
 * Reads and drops the rest of a refused body, so the caller, still sending, can read the 413
 * instead of failing to write (EPIPE). Gives up past `maxBytes` or 10 s; false then, and the
 * connection is closed after the answer.
 */
function discardBody(req: FastifyRequest, maxBytes: number): Promise<boolean> {
  const raw = req.raw;
  if (raw.complete || raw.readableEnded) return Promise.resolve(true);

  return new Promise((resolve) => {
    let seen = 0;
    const finish = (drained: boolean) => {
      clearTimeout(timer);
      raw.removeListener("data", count);
      raw.removeListener("end", ended);
      raw.removeListener("error", failed);
      resolve(drained);
    };
    const count = (chunk: Buffer) => {
      seen += chunk.length;
      if (seen > maxBytes) finish(false);
    };
    const ended = () => finish(true);
    const failed = () => finish(false);
    const timer = setTimeout(() => finish(false), 10_000);
    raw.on("data", count);
    raw.once("end", ended);
    raw.once("error", failed);
    raw.resume();
  });
}

/** Paths of the OpenAI-compatible API, whose errors use OpenAI's JSON. */
// Anthropic's are /v1/messages (and the old /v1/complete); every other /v1/ path is OpenAI's,
// so an OpenAI SDK calling a route the gateway lacks still reads the error.
function isOpenAiPath(url: string): boolean {
  return url.startsWith("/v1/") && !/^\/v1\/(messages|complete)([/?]|$)/.test(url);
}

// Connect's paths name a protobuf service and method: /gateway.v1.GatewayService/Chat.
function isConnectPath(url: string): boolean {
  return /^\/[a-z]\w*(\.\w+)+\/\w+([?]|$)/.test(url);
}

/** Sends an error in the JSON of the API the request was made to. */
export function sendHttpError(req: FastifyRequest, reply: FastifyReply, err: RpcError) {
  if (isOpenAiPath(req.url)) return sendOpenAiError(reply, err);
  if (isConnectPath(req.url) && err.code === GrpcStatus.NOT_FOUND) {
    // Connect's own answer for a method the server lacks.
    return reply.code(404).send({ code: "unimplemented", message: err.message });
  }
  const requestId = req.headers["x-request-id"];
  return sendAnthropicError(reply, err, {
    requestId: typeof requestId === "string" ? requestId : undefined,
  });
}

/**
 * Turns what Fastify refuses before a handler runs (body too large, wrong content type, JSON
 * that does not parse, too deep or not UTF-8) into the API's error JSON, and unknown routes
 * into a 404 of the same shape. Nothing reaches the caller as an empty 500.
 */
export function registerHttpErrors(app: FastifyInstance, bodyLimitBytes: number, logger: Logger) {
  app.setErrorHandler(async (err: FastifyError, req, reply) => {
    if (err instanceof RpcError) return sendHttpError(req, reply, err);
    if (err.code === "FST_ERR_CTP_BODY_TOO_LARGE") {
      const drained = await discardBody(req, bodyLimitBytes * 4);
      if (!drained) reply.header("connection", "close");
      return sendHttpError(
        req,
        reply,
        gatewayError(
          GrpcStatus.INVALID_ARGUMENT,
          "request_too_large",
          `request body is larger than the limit of ${bodyLimitBytes} bytes; send less`,
        ),
      );
    }
    if (err.code === "FST_ERR_CTP_INVALID_MEDIA_TYPE") {
      return sendHttpError(
        req,
        reply,
        gatewayError(
          GrpcStatus.INVALID_ARGUMENT,
          "unsupported_media_type",
          "content-type must be application/json",
        ),
      );
    }
    if (err.code === "FST_ERR_CTP_EMPTY_JSON_BODY") {
      return sendHttpError(req, reply, invalidRequest("request body is empty; send a JSON object"));
    }
    if (err.statusCode && err.statusCode < 500) {
      return sendHttpError(req, reply, invalidRequest(`malformed request body: ${err.message}`));
    }

    logger.error({ err, url: req.url.split("?")[0] }, "unhandled error in HTTP handler");
    return sendHttpError(
      req,
      reply,
      gatewayError(GrpcStatus.INTERNAL, "internal", "internal error; quote the request id"),
    );
  });

  app.setNotFoundHandler(async (req, reply) => {
    const path = req.url.split("?")[0];
    return sendHttpError(
      req,
      reply,
      gatewayError(GrpcStatus.NOT_FOUND, "invalid_request", `no route for ${req.method} ${path}`),
    );
  });
}
