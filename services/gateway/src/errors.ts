import { GrpcStatus, RpcError } from "@mesh/rpc";

/** Stable reasons the gateway gives callers; each maps to one status per protocol. */
export type GatewayReason =
  | "invalid_request"
  | "invalid_model"
  | "request_too_large"
  | "unsupported_media_type"
  | "authentication"
  | "permission"
  | "rate_limited"
  | "rate_limiter_unavailable"
  | "budget_exceeded"
  | "guardrail_blocked"
  | "guardrails_unavailable"
  | "overloaded"
  | "provider_error"
  | "timeout"
  | "cancelled"
  | "internal";

/** Creates a caller-facing error with a gRPC code and a stable reason. */
export function gatewayError(
  code: GrpcStatus,
  reason: GatewayReason,
  message: string,
  retryAfterMs?: number,
): RpcError {
  return new RpcError(code, message, reason, retryAfterMs);
}

/** A 400-class error: the request itself is wrong. */
export function invalidRequest(message: string): RpcError {
  return gatewayError(GrpcStatus.INVALID_ARGUMENT, "invalid_request", message);
}

/** Turns anything thrown on the request path into an RpcError the caller can act on. */
export function asRpcError(err: unknown): RpcError {
  if (err instanceof RpcError) return err;
  if (err instanceof Error && err.name === "AbortError") {
    return gatewayError(GrpcStatus.CANCELLED, "cancelled", "the caller cancelled the request");
  }
  return gatewayError(GrpcStatus.INTERNAL, "internal", "internal error; quote the request id");
}

/** The error type label used in metrics for an error. */
export function errorType(err: RpcError): string {
  if (err.reason === "invalid_model") return "invalid_request";
  if (err.reason === "guardrails_unavailable") return "unavailable";
  if (err.reason === "rate_limiter_unavailable") return "unavailable";
  if (err.reason === "permission") return "authentication";
  if (err.reason === "timeout") return "provider_timeout";
  if (err.reason) return err.reason;

  switch (err.code) {
    case GrpcStatus.INVALID_ARGUMENT:
      return "invalid_request";
    case GrpcStatus.UNAUTHENTICATED:
      return "authentication";
    case GrpcStatus.RESOURCE_EXHAUSTED:
      return "rate_limited";
    case GrpcStatus.UNAVAILABLE:
      return "unavailable";
    case GrpcStatus.DEADLINE_EXCEEDED:
      return "provider_timeout";
    case GrpcStatus.CANCELLED:
      return "cancelled";
    default:
      return "internal";
  }
}

/** HTTP status and Anthropic error type for an error on the Anthropic-compatible API. */
export function anthropicErrorShape(err: RpcError): { status: number; type: string } {
  if (err.reason === "overloaded") return { status: 529, type: "overloaded_error" };
  if (err.reason === "budget_exceeded") return { status: 429, type: "rate_limit_error" };
  if (err.reason === "request_too_large") return { status: 413, type: "request_too_large" };
  if (err.reason === "unsupported_media_type") {
    return { status: 415, type: "invalid_request_error" };
  }

  switch (err.code) {
    case GrpcStatus.INVALID_ARGUMENT:
    case GrpcStatus.FAILED_PRECONDITION:
    case GrpcStatus.OUT_OF_RANGE:
      return { status: 400, type: "invalid_request_error" };
    case GrpcStatus.UNAUTHENTICATED:
      return { status: 401, type: "authentication_error" };
    case GrpcStatus.PERMISSION_DENIED:
      return { status: 403, type: "permission_error" };
    case GrpcStatus.NOT_FOUND:
      return { status: 404, type: "not_found_error" };
    case GrpcStatus.RESOURCE_EXHAUSTED:
      return { status: 429, type: "rate_limit_error" };
    case GrpcStatus.DEADLINE_EXCEEDED:
      return { status: 504, type: "timeout_error" };
    case GrpcStatus.UNAVAILABLE:
      return { status: 503, type: "api_error" };
    case GrpcStatus.CANCELLED:
      return { status: 499, type: "api_error" };
    default:
      return { status: 500, type: "api_error" };
  }
}

/**
 * Who refused a request with a limit: the gateway's own rate limits, or the provider (its 429
 * or 529 after the orchestrator's retries). Undefined for every other error.
 */
export function limitSource(err: RpcError): "gateway" | "provider" | undefined {
  if (err.reason === "rate_limited") return "gateway";
  if (err.reason === "overloaded") return "provider";
  return undefined;
}

/** HTTP status, OpenAI error type and code for an error on the OpenAI-compatible API. */
export function openAiErrorShape(err: RpcError): { status: number; type: string; code: string } {
  if (err.reason === "rate_limited") {
    const kind = (err as RpcError & { kind?: string }).kind === "tokens" ? "tokens" : "requests";
    return { status: 429, type: kind, code: "rate_limit_exceeded" };
  }
  if (err.reason === "budget_exceeded") {
    // OpenAI's type for spend limits, with our code so callers can tell it from a rate limit.
    return { status: 429, type: "insufficient_quota", code: "budget_exceeded" };
  }
  if (err.reason === "overloaded") {
    return { status: 503, type: "server_error", code: "provider_overloaded" };
  }
  if (err.reason === "invalid_model") {
    return { status: 404, type: "invalid_request_error", code: "model_not_found" };
  }
  if (err.reason === "request_too_large") {
    return { status: 413, type: "invalid_request_error", code: "request_too_large" };
  }
  if (err.reason === "unsupported_media_type") {
    return { status: 415, type: "invalid_request_error", code: "unsupported_media_type" };
  }

  const code = err.reason || "internal";
  switch (err.code) {
    case GrpcStatus.INVALID_ARGUMENT:
    case GrpcStatus.FAILED_PRECONDITION:
    case GrpcStatus.OUT_OF_RANGE:
      return { status: 400, type: "invalid_request_error", code };
    case GrpcStatus.UNAUTHENTICATED:
      return { status: 401, type: "invalid_request_error", code: "invalid_api_key" };
    case GrpcStatus.PERMISSION_DENIED:
      return { status: 403, type: "invalid_request_error", code: "permission_denied" };
    case GrpcStatus.NOT_FOUND:
      return { status: 404, type: "invalid_request_error", code };
    case GrpcStatus.RESOURCE_EXHAUSTED:
      return { status: 429, type: "requests", code };
    case GrpcStatus.DEADLINE_EXCEEDED:
      return { status: 504, type: "server_error", code: "timeout" };
    case GrpcStatus.UNAVAILABLE:
      return { status: 503, type: "server_error", code };
    case GrpcStatus.CANCELLED:
      return { status: 499, type: "invalid_request_error", code: "cancelled" };
    default:
      return { status: 500, type: "server_error", code: "internal" };
  }
}

/** Seconds for a retry-after header: whole seconds, at least 1. */
export function retryAfterSeconds(ms: number): number {
  return Math.max(1, Math.ceil(ms / 1000));
}
