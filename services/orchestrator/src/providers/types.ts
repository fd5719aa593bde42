import type { ChatParams, ContentBlock, StopReason } from "@mesh/contracts/common/v1/chat_pb";
import type { ProviderKind } from "../catalog.js";

/** Token counts in the mesh's own terms; the field names match common.v1.Usage. */
export interface TokenUsage {
  inputTokens: number;
  outputTokens: number;
  cacheReadTokens: number;
  cacheWriteTokens: number;
  /** Part of outputTokens spent on reasoning; a breakdown, never billed on its own. */
  reasoningTokens: number;
}

/** One call to one deployment: the validated params plus what the router resolved. */
export interface ProviderRequest {
  params: ChatParams;
  /** The model id the provider knows (the deployment's upstream_model). */
  upstreamModel: string;
  /** Resolved output limit (params.max_tokens, or the default when it was 0). */
  maxTokens: number;
  /** The catalog model name, for providers that vary by model (the simulator). */
  model: string;
  signal?: AbortSignal;
}

/** A complete answer from a provider. */
export interface ProviderResult {
  content: ContentBlock[];
  stopReason: StopReason;
  stopSequence: string;
  usage: TokenUsage;
  /** The model id the provider says answered. */
  upstreamModel: string;
}

/**
 * The provider-neutral stream. Every provider yields exactly one `start` first and, when the
 * answer finishes cleanly, exactly one `stop` last; a stream that ends otherwise throws.
 */
export type ProviderEvent =
  | { type: "start"; upstreamModel: string; usage: TokenUsage }
  | { type: "text_delta"; index: number; text: string }
  | { type: "tool_use"; index: number; id: string; name: string; inputJson: string }
  /**
   * Usage the provider reported part-way (Anthropic message_delta, OpenAI's usage chunk):
   * what a stream that fails later is billed at. Never forwarded to the caller.
   */
  | { type: "usage"; usage: TokenUsage }
  | { type: "stop"; stopReason: StopReason; stopSequence: string; usage: TokenUsage };

/** One provider kind bound to one deployment (endpoint, credentials, client built once). */
export interface Provider {
  readonly kind: ProviderKind;
  complete(request: ProviderRequest): Promise<ProviderResult>;
  stream(request: ProviderRequest): AsyncIterable<ProviderEvent>;
}

/** Why a provider call failed, in terms the retry and fallback logic decides on. */
export type ProviderErrorKind =
  | "rate_limited"
  | "overloaded"
  | "server_error"
  | "connection"
  | "timeout"
  | "invalid_request"
  | "context_length"
  | "auth"
  | "not_found"
  | "cancelled"
  | "circuit_open"
  | "unknown";

const RETRYABLE: ReadonlySet<ProviderErrorKind> = new Set([
  "rate_limited",
  "overloaded",
  "server_error",
  "connection",
  "timeout",
]);

/**
 * A failed provider call. The message is the provider's own wording (never prompt text);
 * retryAfterMs comes from the response's retry-after headers when it sent them.
 */
export class ProviderError extends Error {
  readonly kind: ProviderErrorKind;
  readonly status: number | undefined;
  readonly retryAfterMs: number | undefined;

  constructor(
    kind: ProviderErrorKind,
    message: string,
    options: { status?: number; retryAfterMs?: number; cause?: unknown } = {},
  ) {
    super(message, { cause: options.cause });
    this.name = "ProviderError";
    this.kind = kind;
    this.status = options.status;
    this.retryAfterMs = options.retryAfterMs;
  }

  /** True for failures that may pass on a later try: 429, 5xx, 529, connection, timeout. */
  get retryable(): boolean {
    return RETRYABLE.has(this.kind);
  }

  /** Short outcome for routing attempts and logs, e.g. "overloaded (529)". */
  get outcome(): string {
    const label = this.kind.replace(/_/g, " ");
    return this.status ? `${label} (${this.status})` : label;
  }
}

/** Wraps anything thrown into a ProviderError (unknown when it is not one already). */
export function asProviderError(err: unknown): ProviderError {
  if (err instanceof ProviderError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new ProviderError("unknown", message, { cause: err });
}

/** Usage with every count at zero. */
export function emptyUsage(): TokenUsage {
  return {
    inputTokens: 0,
    outputTokens: 0,
    cacheReadTokens: 0,
    cacheWriteTokens: 0,
    reasoningTokens: 0,
  };
}
