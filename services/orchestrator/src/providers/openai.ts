import OpenAI, {
  APIConnectionError,
  APIConnectionTimeoutError,
  APIError,
  APIUserAbortError,
} from "openai";
import type { Logger } from "@mesh/logging";
import type { CatalogDeployment } from "../catalog.js";
import { estimatePromptTokens } from "../params.js";
import { parseRetryAfter } from "../resilience.js";
import { isContextLengthError } from "./context-length.js";
import { createProviderFetch, isConnectTimeout } from "./http.js";
import {
  fromOpenAICompletion,
  OpenAIStreamMapper,
  toOpenAIRequest,
  type OpenAIChunk,
  type OpenAICompletion,
  type OpenAIFlavor,
} from "./openai-mapping.js";
import { parseSse } from "./sse.js";
import { ProviderError, type Provider, type ProviderEvent, type ProviderRequest } from "./types.js";

/** OpenAI's own endpoint, used when an `openai` deployment names no base URL. */
export const OPENAI_BASE_URL = "https://api.openai.com/v1";

/** How the client of one OpenAI or OpenAI-compatible deployment is built. */
export interface OpenAIProviderOptions {
  /** Per-request timeout when the deployment sets none. */
  timeoutMs: number;
  /** Connect timeout when the deployment sets none. */
  connectTimeoutMs: number;
  logger: Logger;
}

/**
 * The `openai` and `openai-compatible` providers for one deployment, on the official openai
 * SDK. Self-hosted servers (vLLM, Ollama, llama.cpp server, TGI) are reached by base URL
 * (including /v1) and need no key. SDK retries are off (retries are the orchestrator's) and
 * settings are never read from OPENAI_* env vars: the catalog says everything.
 *
 * Streams always ask for usage (`stream_options.include_usage`) so every streamed answer is
 * billed exactly; that extra chunk becomes part of the stop event and is never forwarded.
 * The SSE body is read by the mesh's parser rather than the SDK's, which cannot tell a
 * stream that ended with `data: [DONE]` from one whose connection was cut.
 */
export function createOpenAIProvider(
  deployment: CatalogDeployment,
  options: OpenAIProviderOptions,
): Provider {
  const flavor = deployment.provider as OpenAIFlavor;
  const client = new OpenAI({
    // Self-hosted servers started without --api-key ignore the header; the SDK wants one.
    apiKey: deployment.apiKey ?? "no-key",
    baseURL: deployment.baseUrl ?? OPENAI_BASE_URL,
    organization: null,
    project: null,
    maxRetries: 0,
    timeout: deployment.timeouts.totalMs ?? options.timeoutMs,
    fetch: createProviderFetch({
      connectTimeoutMs: deployment.timeouts.connectMs ?? options.connectTimeoutMs,
      onErrorResponse: normalizeErrorResponse,
    }),
    logger: options.logger.child({ deployment: deployment.id }),
    logLevel: "warn",
  });
  const connectTimeoutMs = deployment.timeouts.connectMs ?? options.connectTimeoutMs;

  return {
    kind: flavor,

    async complete(request: ProviderRequest) {
      const body = toOpenAIRequest(request.params, request.upstreamModel, request.maxTokens,
        flavor);
      try {
        const completion = await client.chat.completions.create(body, { signal: request.signal });
        return fromOpenAICompletion(completion as OpenAICompletion, {
          upstreamModel: request.upstreamModel,
          stopSequences: request.params.stopSequences,
        });
      } catch (err) {
        throw toOpenAIProviderError(err, connectTimeoutMs);
      }
    },

    async *stream(request: ProviderRequest): AsyncGenerator<ProviderEvent> {
      const body = toOpenAIRequest(request.params, request.upstreamModel, request.maxTokens,
        flavor);
      const mapper = new OpenAIStreamMapper({
        upstreamModel: request.upstreamModel,
        stopSequences: request.params.stopSequences,
        promptTokens: estimatePromptTokens(request.params),
      });
      let sawDone = false;
      try {
        const response = await client.chat.completions
          .create(
            { ...body, stream: true, stream_options: { include_usage: true } },
            { signal: request.signal },
          )
          .asResponse();
        if (!response.body) throw new ProviderError("connection", "the stream has no body");

        for await (const event of parseSse(response.body as unknown as AsyncIterable<Uint8Array>)) {
          if (event.data === "[DONE]") {
            sawDone = true;
            break;
          }
          yield* mapper.map(parseChunk(event.data));
        }
      } catch (err) {
        throw toOpenAIProviderError(err, connectTimeoutMs);
      }

      const stop = mapper.finish(sawDone);
      if (!mapper.usageReported()) {
        options.logger.warn({ deployment: deployment.id },
          "the server sent no usage for a stream; usage is the mesh's own count");
      }
      yield stop;
    },
  };
}

function parseChunk(data: string): OpenAIChunk {
  try {
    return JSON.parse(data) as OpenAIChunk;
  } catch {
    throw new ProviderError("server_error", "the stream sent an event that is not JSON");
  }
}

/**
 * Classifies a failure by HTTP status, except that a context-length error is recognised by
 * its wording first, whatever its status (Ollama answers 500, TGI 422), so that it is
 * neither retried nor sent to a model of the same size.
 */
export function toOpenAIProviderError(err: unknown, connectTimeoutMs?: number): ProviderError {
  if (err instanceof ProviderError) return err;
  if (err instanceof APIUserAbortError || (err as { name?: unknown })?.name === "AbortError") {
    return new ProviderError("cancelled", "the request was cancelled", { cause: err });
  }
  if (err instanceof APIConnectionTimeoutError) {
    return new ProviderError("timeout", "the provider did not answer in time", { cause: err });
  }
  if (isConnectTimeout(err)) {
    return new ProviderError("timeout", `could not connect within ${connectTimeoutMs} ms`, {
      cause: err,
    });
  }
  if (err instanceof APIConnectionError || !(err instanceof APIError)) {
    const message = err instanceof APIConnectionError
      ? "could not reach the provider"
      : "the connection failed while reading the answer";
    return new ProviderError("connection", message, { cause: err });
  }

  const status = err.status;
  const body = err.error as { message?: unknown } | undefined;
  const message = typeof body?.message === "string" ? body.message : err.message;
  const options = { status, retryAfterMs: parseRetryAfter(err.headers), cause: err };
  if (isContextLengthError(message, err.code, err.type)) {
    return new ProviderError("context_length", message, options);
  }
  if (status === undefined) return new ProviderError("unknown", message, options);
  if (status === 429) return new ProviderError("rate_limited", message, options);
  if (status === 529) return new ProviderError("overloaded", message, options);
  if (status === 408) return new ProviderError("timeout", message, options);
  if (status >= 500 || status === 409) return new ProviderError("server_error", message, options);
  if (status === 401 || status === 403) return new ProviderError("auth", message, options);
  if (status === 404) return new ProviderError("not_found", message, options);
  return new ProviderError("invalid_request", message, options);
}

/**
 * Rewrites a self-hosted server's error body into OpenAI's `{"error": {...}}` shape, which
 * is the only one the SDK reads a message from: vLLM's older `{"object":"error",
 * "message":...}`, TGI's `{"error":"...","error_type":...}` and plain-text bodies.
 */
async function normalizeErrorResponse(response: Response): Promise<Response> {
  const text = await response.text();
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }

  const body = (parsed ?? {}) as Record<string, unknown>;
  const inner = body.error;
  let error: Record<string, unknown>;
  if (inner && typeof inner === "object") {
    error = { ...(inner as Record<string, unknown>) };
  } else if (typeof inner === "string") {
    error = { message: inner, type: body.error_type ?? null, code: null };
  } else if (typeof body.message === "string" || typeof body.detail === "string") {
    error = { message: body.message ?? body.detail, type: body.type ?? null,
      code: body.code ?? null };
  } else {
    error = { message: text.trim() || `status ${response.status}`, type: null, code: null };
  }

  const headers = new Headers(response.headers);
  headers.delete("content-length");
  headers.delete("content-encoding");
  headers.set("content-type", "application/json");
  return new Response(JSON.stringify({ error }), {
    status: response.status,
    statusText: response.statusText,
    headers,
  });
}
