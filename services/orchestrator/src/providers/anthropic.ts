import Anthropic, {
  APIConnectionError,
  APIConnectionTimeoutError,
  APIError,
  APIUserAbortError,
} from "@anthropic-ai/sdk";
import type { Logger } from "@mesh/logging";
import type { CatalogDeployment } from "../catalog.js";
import { parseRetryAfter } from "../resilience.js";
import { isContextLengthError } from "./context-length.js";
import { createProviderFetch, isConnectTimeout } from "./http.js";
import {
  AnthropicStreamMapper,
  fromAnthropicMessage,
  toAnthropicRequest,
} from "./anthropic-mapping.js";
import { ProviderError, type Provider, type ProviderEvent, type ProviderRequest } from "./types.js";

/** How the Anthropic client of one deployment is built. */
export interface AnthropicProviderOptions {
  /** Per-request timeout when the deployment sets none. */
  timeoutMs: number;
  /** Connect timeout when the deployment sets none. */
  connectTimeoutMs: number;
  logger: Logger;
}

/**
 * The `anthropic` provider for one deployment. Its SDK client is built here, once, with the
 * deployment's base URL and key, SDK retries off (retries are the orchestrator's, so every
 * try is visible) and the SDK's own spans off (the orchestrator makes the GenAI spans).
 */
export function createAnthropicProvider(
  deployment: CatalogDeployment,
  options: AnthropicProviderOptions,
): Provider {
  const client = new Anthropic({
    apiKey: deployment.apiKey ?? null,
    baseURL: deployment.baseUrl ?? null,
    maxRetries: 0,
    timeout: deployment.timeouts.totalMs ?? options.timeoutMs,
    fetch: createProviderFetch({
      connectTimeoutMs: deployment.timeouts.connectMs ?? options.connectTimeoutMs,
    }),
    openTelemetry: false,
    logger: options.logger.child({ deployment: deployment.id }),
    logLevel: "warn",
  });

  return {
    kind: "anthropic",

    async complete(request: ProviderRequest) {
      const body = toAnthropicRequest(request.params, request.upstreamModel, request.maxTokens);
      try {
        const message = await client.messages.create(body, { signal: request.signal });
        return fromAnthropicMessage(message);
      } catch (err) {
        throw toProviderError(err);
      }
    },

    async *stream(request: ProviderRequest): AsyncGenerator<ProviderEvent> {
      const body = toAnthropicRequest(request.params, request.upstreamModel, request.maxTokens);
      const mapper = new AnthropicStreamMapper();
      try {
        const events = await client.messages.create(
          { ...body, stream: true },
          { signal: request.signal },
        );
        for await (const event of events) yield* mapper.map(event);
      } catch (err) {
        throw toProviderError(err);
      }
      mapper.finish();
    },
  };
}

/**
 * Classifies an SDK failure by HTTP status (and, for errors inside a stream, by the error
 * event's type), keeping the retry-after the response carried.
 */
export function toProviderError(err: unknown): ProviderError {
  if (err instanceof ProviderError) return err;
  if (err instanceof APIUserAbortError || (err as { name?: unknown })?.name === "AbortError") {
    return new ProviderError("cancelled", "the request was cancelled", { cause: err });
  }
  if (err instanceof APIConnectionTimeoutError) {
    return new ProviderError("timeout", "the provider did not answer in time", { cause: err });
  }
  if (isConnectTimeout(err)) {
    return new ProviderError("timeout", "could not connect in time", { cause: err });
  }
  if (err instanceof APIConnectionError) {
    return new ProviderError("connection", "could not reach the provider", { cause: err });
  }
  if (err instanceof TypeError) {
    // fetch reports a body cut off mid-read as a TypeError ("terminated").
    return new ProviderError("connection", "the connection failed while reading the answer", {
      cause: err,
    });
  }
  if (!(err instanceof APIError)) {
    const message = err instanceof Error ? err.message : String(err);
    return new ProviderError("unknown", message, { cause: err });
  }

  const status = err.status;
  const message = err.apiMessage ?? err.message;
  const retryAfterMs = parseRetryAfter(err.headers);
  const options = { status, retryAfterMs, cause: err };
  if (status === undefined) return streamErrorKind(err.type, message, err);
  if (status === 429) return new ProviderError("rate_limited", message, options);
  if (status === 529) return new ProviderError("overloaded", message, options);
  if (status === 408) return new ProviderError("timeout", message, options);
  if (status >= 500 || status === 409) return new ProviderError("server_error", message, options);
  if (status === 401 || status === 403) return new ProviderError("auth", message, options);
  if (status === 404) return new ProviderError("not_found", message, options);
  if (isContextLengthError(message, undefined, err.type)) {
    return new ProviderError("context_length", message, options);
  }
  return new ProviderError("invalid_request", message, options);
}

function streamErrorKind(type: string | null, message: string, cause: unknown): ProviderError {
  switch (type) {
    case "overloaded_error":
      return new ProviderError("overloaded", message, { cause });
    case "rate_limit_error":
      return new ProviderError("rate_limited", message, { cause });
    case "api_error":
      return new ProviderError("server_error", message, { cause });
    case "invalid_request_error":
      return new ProviderError("invalid_request", message, { cause });
    default:
      return new ProviderError("unknown", message, { cause });
  }
}
