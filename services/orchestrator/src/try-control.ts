import { asProviderError, ProviderError } from "./providers/types.js";

/** Timeouts one try runs under, in milliseconds. */
export interface TryTimeouts {
  /** From the start of the try to the end of the answer. */
  totalMs: number;
  /** From the start of the try to its first output; streams only (undefined: none). */
  firstTokenMs: number | undefined;
}

/**
 * The abort signal of one provider try, fired by the caller's cancellation, the total
 * timeout or the first-token timeout, and the translation of whatever the provider threw
 * once it fired: a timeout is reported as kind "timeout" (retryable, falls back), however
 * the SDK surfaced the abort (an abort error, or a stream that simply ended).
 */
export class TryControl {
  private readonly controller = new AbortController();
  private timedOut: ProviderError | undefined;
  private readonly totalTimer: NodeJS.Timeout;
  private firstTokenTimer: NodeJS.Timeout | undefined;
  private readonly onCallerAbort = () => this.controller.abort(this.callerSignal?.reason);

  constructor(
    deploymentId: string,
    timeouts: TryTimeouts,
    private readonly callerSignal: AbortSignal | undefined,
  ) {
    if (callerSignal?.aborted) this.controller.abort(callerSignal.reason);
    else callerSignal?.addEventListener("abort", this.onCallerAbort, { once: true });

    this.totalTimer = setTimeout(
      () => this.fire(`${deploymentId} did not finish within ${timeouts.totalMs} ms`),
      timeouts.totalMs,
    );
    if (timeouts.firstTokenMs !== undefined) {
      const ms = timeouts.firstTokenMs;
      this.firstTokenTimer = setTimeout(
        () => this.fire(`${deploymentId} sent no first token within ${ms} ms`),
        ms,
      );
    }
  }

  /** The signal to hand the provider. */
  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** The first output arrived: the first-token timeout no longer applies. */
  firstOutput(): void {
    clearTimeout(this.firstTokenTimer);
    this.firstTokenTimer = undefined;
  }

  /**
   * Settles with the promise, or rejects as soon as the signal fires, so a provider that
   * does not watch its signal still cannot outlive a timeout.
   */
  race<T>(promise: Promise<T>): Promise<T> {
    const signal = this.controller.signal;
    if (signal.aborted) {
      promise.catch(() => undefined);
      return Promise.reject(this.failure(undefined));
    }
    return new Promise<T>((resolve, reject) => {
      const onAbort = () => reject(this.failure(undefined));
      signal.addEventListener("abort", onAbort, { once: true });
      promise.then(
        (value) => {
          signal.removeEventListener("abort", onAbort);
          resolve(value);
        },
        (err: unknown) => {
          signal.removeEventListener("abort", onAbort);
          reject(err);
        },
      );
    });
  }

  /** What a failure of this try really was, given why (and whether) the signal fired. */
  failure(err: unknown): ProviderError {
    if (this.timedOut) return this.timedOut;
    if (this.callerSignal?.aborted) {
      return new ProviderError("cancelled", "the caller cancelled the request", { cause: err });
    }
    return asProviderError(err ?? new Error("the try was aborted"));
  }

  /** Stops the timers and lets go of the caller's signal. */
  dispose(): void {
    clearTimeout(this.totalTimer);
    clearTimeout(this.firstTokenTimer);
    this.callerSignal?.removeEventListener("abort", this.onCallerAbort);
  }

  private fire(message: string): void {
    if (this.controller.signal.aborted) return;
    this.timedOut = new ProviderError("timeout", message);
    this.controller.abort(this.timedOut);
  }
}
