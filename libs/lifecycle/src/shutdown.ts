import type { Logger } from "@mesh/logging";

/** One step of an orderly stop; each is time-boxed so a stuck step cannot hold the exit. */
export interface ShutdownStep {
  name: string;
  run: () => Promise<void>;
}

/**
 * Runs the steps in order on SIGTERM or SIGINT (report not serving, drain, close pools,
 * flush telemetry) and exits 0, or exits 1 when the whole stop outlives the deadline.
 */
export function onShutdownSignal(logger: Logger, deadlineMs: number, steps: ShutdownStep[]): void {
  let stopping = false;

  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal, deadlineMs }, "shutting down");

    const killer = setTimeout(() => {
      logger.error({ deadlineMs }, "shutdown deadline passed; exiting now");
      process.exit(1);
    }, deadlineMs);
    killer.unref();

    for (const step of steps) {
      const started = Date.now();
      try {
        await step.run();
        logger.info({ step: step.name, ms: Date.now() - started }, "shutdown step done");
      } catch (err) {
        logger.error({ step: step.name, err }, "shutdown step failed");
      }
    }
    process.exit(0);
  };

  process.once("SIGTERM", () => void stop("SIGTERM"));
  process.once("SIGINT", () => void stop("SIGINT"));
  if (process.env.MESH_EXIT_WITH_PARENT === "1") exitWithParent(() => void stop("parent exited"));
}

/**
 * Calls `onOrphaned` once this process's parent is gone (it was re-parented). For services a
 * local launcher starts: a launcher killed without passing its signal on (npx and pnpm don't)
 * must not leave five services holding the developer ports. Not for containers, where the
 * service is PID 1's child of nothing.
 */
export function exitWithParent(onOrphaned: () => void, pollMs = 500): void {
  const parent = process.ppid;
  const timer = setInterval(() => {
    if (process.ppid === parent) return;
    clearInterval(timer);
    onOrphaned();
  }, pollMs);
  timer.unref();
}
