/**
 * A signal for a unary model call that follows the caller's, `graceMs` late. An answer that
 * comes within the grace is billed exactly (the model did the work); a longer one is cut, so a
 * caller that timed out, and perhaps retries, does not leave generations running up a bill.
 * `done` drops the timer once the call has ended.
 */
export function afterGrace(
  caller: AbortSignal | undefined,
  graceMs: number,
): { signal: AbortSignal | undefined; done: () => void } {
  if (!caller) return { signal: undefined, done: () => undefined };

  const upstream = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const onAbort = () => {
    timer = setTimeout(() => upstream.abort(caller.reason), graceMs);
    timer.unref();
  };
  if (caller.aborted) onAbort();
  else caller.addEventListener("abort", onAbort, { once: true });

  return {
    signal: upstream.signal,
    done: () => {
      caller.removeEventListener("abort", onAbort);
      if (timer) clearTimeout(timer);
    },
  };
}
