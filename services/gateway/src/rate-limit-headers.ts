import type { LimitSnapshot, LimitWindow } from "./rate-limits.js";

/**
 * OpenAI's rate-limit headers: x-ratelimit-limit-requests, -remaining-requests,
 * -reset-requests and the same for tokens; resets as durations ("1s", "6m0s").
 */
export function openAiLimitHeaders(limits: LimitSnapshot): Record<string, string> {
  const headers: Record<string, string> = {};
  const add = (kind: "requests" | "tokens", w: LimitWindow | undefined) => {
    if (!w) return;
    headers[`x-ratelimit-limit-${kind}`] = String(w.limit);
    headers[`x-ratelimit-remaining-${kind}`] = String(w.remaining);
    headers[`x-ratelimit-reset-${kind}`] = duration(w.resetMs);
  };
  add("requests", limits.requests);
  add("tokens", limits.tokens);
  return headers;
}

/**
 * Anthropic's rate-limit headers: anthropic-ratelimit-requests-limit, -remaining, -reset and
 * the same for tokens; resets as RFC 3339 times.
 */
export function anthropicLimitHeaders(
  limits: LimitSnapshot,
  nowMs = Date.now(),
): Record<string, string> {
  const headers: Record<string, string> = {};
  const add = (kind: "requests" | "tokens", w: LimitWindow | undefined) => {
    if (!w) return;
    headers[`anthropic-ratelimit-${kind}-limit`] = String(w.limit);
    headers[`anthropic-ratelimit-${kind}-remaining`] = String(w.remaining);
    // Rounded up to the second, so a caller waiting until then is never early.
    const resetAt = Math.ceil((nowMs + w.resetMs) / 1_000) * 1_000;
    headers[`anthropic-ratelimit-${kind}-reset`] = new Date(resetAt).toISOString()
      .replace(".000Z", "Z");
  };
  add("requests", limits.requests);
  add("tokens", limits.tokens);
  return headers;
}

/** Combines what admission saw with what a refusal carries; the refusal wins. */
export function mergeLimits(base: LimitSnapshot | undefined, err: unknown): LimitSnapshot {
  const refused = (err as { limits?: LimitSnapshot } | undefined)?.limits;
  return { ...base, ...refused };
}

/** A duration the way OpenAI writes it: "250ms", "12s", "1m5s". */
export function duration(ms: number): string {
  if (ms < 1_000) return `${Math.max(0, Math.ceil(ms))}ms`;
  const seconds = Math.ceil(ms / 1_000);
  const minutes = Math.floor(seconds / 60);
  return minutes > 0 ? `${minutes}m${seconds % 60}s` : `${seconds}s`;
}
