/**
 * The signal of a model call that follows its caller's, `graceMs` late, so that what the
 * model did for a caller who left can still be billed: a unary answer coming within the
 * grace is billed exactly, and a stream is kept until its start event names the model, its
 * prices and the prompt's usage. A longer call is cut, so a caller that timed out, and perhaps
 * retries, does not leave generations running up a bill.
 */
export interface UpstreamSignal {
  signal: AbortSignal | undefined;
  /** What billing needed has come: a caller leaving from now on cuts the call at once, and
   *  one already gone cuts it now. */
  endGrace(): void;
  /** The call has ended: drops the listener and any timer. */
  done(): void;
}

export function afterGrace(caller: AbortSignal | undefined, graceMs: number): UpstreamSignal {
  if (!caller) return { signal: undefined, endGrace: () => undefined, done: () => undefined };

  const upstream = new AbortController();
  const cut = () => upstream.abort(caller.reason);
  let graceOver = false;
  let timer: NodeJS.Timeout | undefined;
  const onAbort = () => {
    if (graceOver) return cut();
    timer = setTimeout(cut, graceMs);
    timer.unref();
  };
  if (caller.aborted) onAbort();
  else caller.addEventListener("abort", onAbort, { once: true });

  return {
    signal: upstream.signal,
    endGrace: () => {
      graceOver = true;
      if (!caller.aborted) return;
      clearTimeout(timer);
      cut();
    },
    done: () => {
      caller.removeEventListener("abort", onAbort);
      clearTimeout(timer);
    },
  };
}
