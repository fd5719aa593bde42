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
}
