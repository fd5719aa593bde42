import { setTimeout as delay } from "node:timers/promises";
import {
  BrokenCircuitError,
  CircuitState,
  circuitBreaker,
  ConsecutiveBreaker,
  ExponentialBackoff,
  handleWhen,
  retry,
  type CircuitBreakerPolicy,
  type IBackoff,
  type IBackoffFactory,
  type IRetryBackoffContext,
} from "cockatiel";
import { asProviderError, ProviderError, type ProviderErrorKind } from "./providers/types.js";

/** Time as the retry logic sees it; tests inject one that records waits instead of sleeping. */
export interface Clock {
  now(): number;
  /** Resolves after ms, or rejects when the signal aborts first. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

/** The real clock. */
export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: (ms, signal) => delay(ms, undefined, signal ? { signal } : undefined),
};

/** How hard the orchestrator tries one deployment before falling back. */
export interface ResilienceSettings {
  /** Retries after the first try. */
  maxRetries: number;
  initialDelayMs: number;
  maxDelayMs: number;
  /** A retry-after longer than this is not waited for; the caller falls back instead. */
  maxRetryAfterMs: number;
  /** Consecutive failures that open a deployment's breaker. */
  breakerFailures: number;
  /** How long an open breaker stays open before one probe call is let through. */
  breakerCooldownMs: number;
}

/** Hooks one run reports through; used for routing attempts, spans and tests. */
export interface RunHooks {
  signal?: AbortSignal;
  /** After each failed try, before any wait. */
  onFailure?(error: ProviderError, attempt: number): void;
  /** Before each wait between tries. */
  onWait?(ms: number, attempt: number): void;
}

// Failures that say the deployment itself is unwell; 429 and 4xx say nothing about that.
const BREAKER_KINDS: ReadonlySet<ProviderErrorKind> = new Set([
  "overloaded",
  "server_error",
  "connection",
  "timeout",
]);

/** Breaker states as metrics and logs name them. */
export type BreakerState = "closed" | "open" | "half_open" | "isolated";

const STATE_NAMES: Record<CircuitState, BreakerState> = {
  [CircuitState.Closed]: "closed",
  [CircuitState.Open]: "open",
  [CircuitState.HalfOpen]: "half_open",
  [CircuitState.Isolated]: "isolated",
};

/**
 * Retries and circuit breakers, built on cockatiel. Each deployment has one breaker for the
 * life of the process; each run gets exponential backoff with decorrelated jitter, except
 * that a provider's retry-after, when present, is the wait. Waits go through the Clock.
 */
export class Resilience {
  private readonly breakers = new Map<string, CircuitBreakerPolicy>();
  private readonly openedAt = new Map<string, number>();
  private readonly retryFilter;
  private readonly breakerFilter = handleWhen(
    (err) => err instanceof ProviderError && BREAKER_KINDS.has(err.kind),
  );

  constructor(
    private readonly settings: ResilienceSettings,
    private readonly clock: Clock = systemClock,
  ) {
    this.retryFilter = handleWhen((err) => this.shouldRetry(err));
  }

  /** True when another try at the same deployment may succeed and its wait is acceptable. */
  shouldRetry(err: Error): boolean {
    if (!(err instanceof ProviderError) || !err.retryable) return false;
    return err.retryAfterMs === undefined || err.retryAfterMs <= this.settings.maxRetryAfterMs;
  }

  /** The breaker state of one deployment ("closed" when it has never been used). */
  breakerState(deploymentId: string): BreakerState {
    const breaker = this.breakers.get(deploymentId);
    return breaker ? STATE_NAMES[breaker.state] : "closed";
  }

  /**
   * False while a deployment's breaker is open and its cooldown has not passed (or a probe
   * is running in half-open), so the balancer tries it last. Once the cooldown passes it is
   * true again, and the next call is the probe that closes or reopens the breaker.
   */
  acceptsCalls(deploymentId: string): boolean {
    const breaker = this.breakers.get(deploymentId);
    if (!breaker || breaker.state === CircuitState.Closed) return true;
    if (breaker.state !== CircuitState.Open) return false;
    const openedAt = this.openedAt.get(deploymentId) ?? 0;
    return this.clock.now() - openedAt >= this.settings.breakerCooldownMs;
  }

  /** Breaker states of every deployment used so far. */
  breakerStates(): Record<string, BreakerState> {
    const out: Record<string, BreakerState> = {};
    for (const [id, breaker] of this.breakers) out[id] = STATE_NAMES[breaker.state];
    return out;
  }

  /**
   * Runs work against one deployment: through its breaker, retried on retryable failures.
   * Throws the last ProviderError when the tries run out or a failure is not retryable; an
   * open breaker surfaces as kind "circuit_open".
   */
  async run<T>(deploymentId: string, work: (attempt: number) => Promise<T>, hooks: RunHooks = {})
    : Promise<T> {
    const breaker = this.breakerFor(deploymentId);
    const pending = { waitMs: 0 };
    const policy = retry(this.retryFilter, {
      maxAttempts: this.settings.maxRetries,
      backoff: new HonouringBackoff(
        new ExponentialBackoff({
          initialDelay: this.settings.initialDelayMs,
          maxDelay: this.settings.maxDelayMs,
        }),
        (ms) => {
          pending.waitMs = ms;
        },
      ),
    });

    return policy.execute(async ({ attempt }) => {
      const tryNumber = attempt + 1;
      if (pending.waitMs > 0) {
        hooks.onWait?.(pending.waitMs, tryNumber);
        await this.sleep(pending.waitMs, hooks.signal);
        pending.waitMs = 0;
      }

      try {
        return await breaker.execute(() => work(tryNumber));
      } catch (err) {
        const failure = err instanceof BrokenCircuitError
          ? new ProviderError("circuit_open", "circuit breaker is open", { cause: err })
          : asProviderError(err);
        hooks.onFailure?.(failure, tryNumber);
        throw failure;
      }
    }, hooks.signal);
  }

  private async sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
    try {
      await this.clock.sleep(ms, signal);
    } catch (err) {
      throw new ProviderError("cancelled", "the caller cancelled while waiting to retry", {
        cause: err,
      });
    }
  }

  private breakerFor(deploymentId: string): CircuitBreakerPolicy {
    let breaker = this.breakers.get(deploymentId);
    if (!breaker) {
      breaker = circuitBreaker(this.breakerFilter, {
        halfOpenAfter: this.settings.breakerCooldownMs,
        breaker: new ConsecutiveBreaker(this.settings.breakerFailures),
      });
      breaker.onBreak(() => this.openedAt.set(deploymentId, this.clock.now()));
      this.breakers.set(deploymentId, breaker);
    }
    return breaker;
  }
}

/**
 * A cockatiel backoff that decides the wait (retry-after when the provider gave one, else
 * jittered exponential) and hands it to the run, which waits on its Clock. cockatiel itself
 * is told 0 so that tests with a fake clock never wait for real.
 */
class HonouringBackoff implements IBackoffFactory<IRetryBackoffContext<unknown>> {
  constructor(
    private readonly exponential: IBackoffFactory<unknown>,
    private readonly plan: (ms: number) => void,
  ) {}

  next(context: IRetryBackoffContext<unknown>): IBackoff<IRetryBackoffContext<unknown>> {
    const step = this.exponential.next(context);
    const error = "error" in context.result ? context.result.error : undefined;
    const retryAfterMs = error instanceof ProviderError ? error.retryAfterMs : undefined;
    this.plan(retryAfterMs ?? Math.round(step.duration));

    const following = new HonouringBackoff(step, this.plan);
    return { duration: 0, next: (ctx) => following.next(ctx) };
  }
}

/**
 * Reads how long a provider asked us to wait: `retry-after-ms`, else `retry-after` as
 * seconds or as an HTTP date. Undefined when absent or unreadable.
 */
export function parseRetryAfter(
  headers: { get(name: string): string | null } | undefined,
  nowMs: number = Date.now(),
): number | undefined {
  const ms = Number.parseFloat(headers?.get("retry-after-ms") ?? "");
  if (Number.isFinite(ms) && ms >= 0) return Math.round(ms);

  const value = headers?.get("retry-after")?.trim();
  if (!value) return undefined;
  if (/^\d+(\.\d+)?$/.test(value)) return Math.round(Number.parseFloat(value) * 1000);

  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - nowMs);
}
