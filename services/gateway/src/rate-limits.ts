import { GrpcStatus, RpcError } from "@mesh/rpc";
import type { KeyIdentity } from "./api-keys.js";
import { gatewayError, invalidRequest } from "./errors.js";
import {
  Refusal,
  StoreDown,
  tightest,
  type Counter,
  type LimitCounters,
  type LimitWindow,
} from "./limit-counters.js";
import type { EffectivePolicy } from "./tenant-policy.js";

export type { LimitWindow } from "./limit-counters.js";

/** The limits a response reports in its headers; a part is absent when no limit applies. */
export interface LimitSnapshot {
  requests?: LimitWindow | undefined;
  tokens?: LimitWindow | undefined;
}

/**
 * A request refused by the gateway's own limits (not a provider's). It carries the window that
 * refused it, so every API can send its rate-limit headers and a retry time.
 */
export class RateLimitError extends RpcError {
  readonly limits: LimitSnapshot;
  readonly kind: "requests" | "tokens";

  constructor(kind: "requests" | "tokens", window: LimitWindow, message: string) {
    super(GrpcStatus.RESOURCE_EXHAUSTED, message, "rate_limited", Math.max(1, window.resetMs));
    this.kind = kind;
    this.limits = { [kind]: window };
  }
}

/** The per-minute counters of one kind that apply to a key: its own and its tenant's. */
export function countersFor(
  kind: "req" | "tok",
  identity: KeyIdentity,
  policy: EffectivePolicy,
): Counter[] {
  const keyLimit = kind === "req" ? policy.keyRequestsPerMinute : policy.keyTokensPerMinute;
  const tenantLimit = kind === "req" ? policy.requestsPerMinute : policy.tokensPerMinute;
  const counters: Counter[] = [];
  if (keyLimit > 0) {
    counters.push({
      prefix: `mesh:rl:v1:${kind}:key`,
      id: identity.keyId,
      limit: keyLimit,
      owner: "this API key",
    });
  }
  if (tenantLimit > 0) {
    counters.push({
      prefix: `mesh:rl:v1:${kind}:tenant`,
      id: identity.tenant,
      limit: tenantLimit,
      owner: `tenant ${identity.tenant}`,
    });
  }
  return counters;
}

/** Counts requests per minute, per key and per tenant; see createLimitCounters. */
export interface RequestLimits {
  /** Counts one request; throws RateLimitError when a limit is reached. */
  admit(identity: KeyIdentity, policy: EffectivePolicy): Promise<LimitWindow | undefined>;
}

/** Builds the request limits on the shared counters. */
export function createRequestLimits(counters: LimitCounters): RequestLimits {
  return {
    async admit(identity, policy) {
      try {
        const taken = await counters.take(countersFor("req", identity, policy), 1);
        return taken && tightest(taken.map((t) => t.window));
      } catch (err) {
        throw limitError(err, "requests");
      }
    },
  };
}

/** Turns a Refusal or StoreDown into the error the caller gets. */
export function limitError(err: unknown, kind: "requests" | "tokens"): RpcError {
  if (err instanceof Refusal) {
    const { counter, window, points } = err;
    const seconds = Math.max(1, Math.ceil(window.resetMs / 1000));
    // No wait would let it through: a 400, not a 429 that clients would retry in vain.
    if (points > counter.limit) {
      return invalidRequest(
        `this request needs about ${points} tokens (prompt estimate plus max_tokens), more ` +
          `than the limit of ${counter.limit} tokens per minute for ${counter.owner}; ` +
          "lower max_tokens or shorten the prompt",
      );
    }
    const unit = kind === "requests" ? "requests" : "tokens";
    return new RateLimitError(
      kind,
      window,
      `rate limit of ${counter.limit} ${unit} per minute reached for ${counter.owner}; ` +
        `retry after ${seconds} s`,
    );
  }
  if (err instanceof StoreDown) {
    return gatewayError(
      GrpcStatus.UNAVAILABLE,
      "rate_limiter_unavailable",
      "rate limits cannot be checked right now, so the request was refused; retry shortly",
    );
  }
  throw err;
}
