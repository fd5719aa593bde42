import {
  appendFileSync,
  closeSync,
  mkdirSync,
  openSync,
  readFileSync,
  rmSync,
  writeSync,
} from "node:fs";
import { join } from "node:path";
import {
  create,
  fromJsonString,
  isMessage,
  toJsonString,
  type MessageInitShape,
} from "@bufbuild/protobuf";
import { UsageRecordSchema, type UsageRecord } from "@mesh/contracts/ledger/v1/ledger_pb";
import { openSegmentLog, type SegmentLog } from "./segment-log.js";

/** The logger the outbox writes to; a pino logger fits. */
export interface OutboxLogger {
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
  error(fields: object, message: string): void;
}

/** A usage record as a message or a plain object literal. */
export type UsageRecordInput = UsageRecord | MessageInitShape<typeof UsageRecordSchema>;

/** Options of createUsageOutbox. */
export interface UsageOutboxOptions {
  /**
   * Delivers one record (the ledger's RecordUsage). Rejections carrying a gRPC status `code`
   * decide what happens: UNAVAILABLE, DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED, ABORTED,
   * CANCELLED, or a Node connection error (`code` "ECONNREFUSED"…) keep the record and retry;
   * INVALID_ARGUMENT moves it to `dead-letter.jsonl` at once, with an error log; anything else
   * is retried `maxAttempts` times, then moved there too.
   */
  send(record: UsageRecord): Promise<void>;
  /**
   * Delivers several records in one call (the ledger's RecordUsageBatch), in order, and
   * resolves with one result per record. Optional: without it every record goes through
   * `send`. A rejection is read as send's are: a transient one retries the batch; any other
   * makes the outbox deliver that batch's records one at a time through `send`, so a bad
   * record can never take good ones down with it.
   */
  sendBatch?(records: UsageRecord[]): Promise<BatchResult[]>;
  /** Records per sendBatch call at most (default 100). */
  maxBatch?: number;
  /**
   * With sendBatch: how long a record submitted while nothing waits on disk is held for
   * others to share its call (default 0: each is sent at once). Its submit still resolves
   * only once the record is delivered, dropped or on disk.
   */
  coalesceMs?: number;
  /** Folder for the outbox files, created when missing; one process per folder. */
  dir: string;
  logger: OutboxLogger;
  /** First wait between delivery attempts (default 200 ms); doubles up to retryMaxMs. */
  retryInitialMs?: number;
  /** Longest wait between attempts (default 5,000 ms). */
  retryMaxMs?: number;
  /** Attempts for errors that are neither transient nor INVALID_ARGUMENT (default 10). */
  maxAttempts?: number;
  /** Bytes a segment file grows to before the next starts (default 16 MiB). */
  segmentBytes?: number;
}

/** What the ledger did with one record of a batch. */
export interface BatchResult {
  /** Why the ledger refused the record as invalid (it is dropped); empty when it took it. */
  invalid?: string | undefined;
}

/** What became of a submitted record. */
export type SubmitOutcome =
  /** Delivered at once. */
  | "sent"
  /** On disk, to be delivered in order when the ledger answers. */
  | "queued"
  /** Refused by the ledger as INVALID_ARGUMENT; logged, never retried. */
  | "dropped";

/** A durable outbox in front of RecordUsage. */
export interface UsageOutbox {
  /**
   * Sends the record now (or after coalesceMs, with others) when nothing is waiting on disk;
   * otherwise, or when the ledger is unreachable, appends it to the outbox file. Resolves
   * once it is delivered or on disk.
   */
  submit(record: UsageRecordInput): Promise<SubmitOutcome>;
  /**
   * Tries to deliver everything waiting right away (skipping the backoff) and resolves true
   * once nothing waits, or false when `timeoutMs` (default: no limit) passes or the outbox
   * closes first.
   */
  drain(timeoutMs?: number): Promise<boolean>;
  /** Records accepted and not yet delivered (on disk, being written, or being sent). */
  pending(): number;
  /**
   * Stops delivering and closes the files once the records being sent are delivered or on
   * disk; waiting records stay for the next start.
   */
  close(): Promise<void>;
}

const TRANSIENT_GRPC_CODES = new Set([
  1, // CANCELLED
  4, // DEADLINE_EXCEEDED
  8, // RESOURCE_EXHAUSTED
  10, // ABORTED
  14, // UNAVAILABLE
]);
const INVALID_ARGUMENT = 3;

type Failure = "transient" | "invalid" | "other";

/** A submitted record held for company (coalesceMs) or being sent, with its caller. */
interface Held {
  record: UsageRecord;
  resolve(outcome: SubmitOutcome): void;
  reject(err: unknown): void;
}

/**
 * Creates the usage outbox on a local folder and starts delivering anything a previous run
 * left there. Records on disk are delivered in the order they entered the outbox, one call
 * (or one batch, with sendBatch) at a time; records sent at once when nothing waits on disk
 * race like any concurrent calls. A record may be sent twice after a crash (the ledger's
 * request-id idempotency makes that a no-op), and is never lost once `submit` resolved.
 * Throws when another live process holds the folder.
 */
export function createUsageOutbox(options: UsageOutboxOptions): UsageOutbox {
  const { send, sendBatch, dir, logger } = options;
  const retryInitialMs = options.retryInitialMs ?? 200;
  const retryMaxMs = options.retryMaxMs ?? 5_000;
  const maxAttempts = options.maxAttempts ?? 10;
  const maxBatch = sendBatch ? Math.max(1, options.maxBatch ?? 100) : 1;
  const coalesceMs = sendBatch ? (options.coalesceMs ?? 0) : 0;

  mkdirSync(dir, { recursive: true });
  const unlock = lockFolder(dir);
  let log: SegmentLog;
  try {
    log = openSegmentLog({
      dir,
      segmentBytes: options.segmentBytes ?? 16 * 1024 * 1024,
      onRecovered: ({ tornBytes, pending }) => {
        if (tornBytes > 0) {
          logger.warn({ dir, tornBytes }, "outbox cut a torn last record left by a crash");
        }
        if (pending > 0) logger.info({ dir, pending }, "outbox has records from a previous run");
      },
    });
  } catch (err) {
    unlock();
    throw err;
  }

  let appending = 0;
  let closed = false;
  let loop: Promise<void> | undefined;
  let wake: (() => void) | undefined;
  let outageSince: number | undefined;
  let drainWaiters: Array<(drained: boolean) => void> = [];
  // Submitted records not on disk: held for company or being sent at once.
  let held: Held[] = [];
  let heldTimer: NodeJS.Timeout | undefined;
  let sending = 0;
  const sends = new Set<Promise<void>>();

  function pending(): number {
    return log.size() + appending + sending;
  }

  /** Nothing on disk or on its way there: a new record may skip the file. */
  function diskEmpty(): boolean {
    return log.size() + appending === 0 && !loop;
  }

  async function enqueue(record: UsageRecord): Promise<void> {
    appending++;
    try {
      await log.append(toJsonString(UsageRecordSchema, record));
    } finally {
      appending--;
    }
    startLoop();
  }

  function startLoop(): void {
    if (loop || closed) return;

    loop = deliverAll().finally(() => {
      loop = undefined;
      // An append may have landed after the last peek came back empty.
      if (log.size() > 0 && !closed) startLoop();
      else settleDrains();
    });
  }

  async function deliverAll(): Promise<void> {
    for (;;) {
      if (closed) return;

      const lines = await log.peek(maxBatch);
      if (lines.length === 0) break;

      const records = lines.map(parse).filter((r): r is UsageRecord => r !== undefined);
      await deliverBatch(records);
      if (closed) return;
      await log.ack();
    }

    if (outageSince !== undefined) {
      logger.info({ outageMs: Date.now() - outageSince }, "outbox drained; the ledger is back");
      outageSince = undefined;
    }
  }

  // Sends the records in one call until they are delivered, or one at a time once the ledger
  // refused the batch for anything but an outage; returns early on close (the records stay
  // first in line for the next start).
  async function deliverBatch(records: UsageRecord[]): Promise<void> {
    if (!sendBatch || records.length <= 1) return deliverEach(records);

    for (let attempt = 1; !closed; attempt++) {
      try {
        settleBatch(records, await sendBatch(records));
        return;
      } catch (err) {
        if (classify(err) !== "transient") {
          batchRefused(err, records.length);
          return deliverEach(records);
        }

        noteOutage(err);
        await sleep(backoffMs(attempt));
      }
    }
  }

  async function deliverEach(records: UsageRecord[]): Promise<void> {
    for (const record of records) {
      if (closed) return;
      await deliverOne(record);
    }
  }

  // Sends one record until it is delivered, dropped or dead-lettered; returns early on close
  // (the record stays first in line for the next start).
  async function deliverOne(record: UsageRecord): Promise<void> {
    for (let attempt = 1; !closed; attempt++) {
      try {
        await send(record);
        return;
      } catch (err) {
        const failure = classify(err);
        if (failure === "invalid") return drop(record, err);
        if (failure === "other" && attempt >= maxAttempts) return deadLetter(record, err);

        noteOutage(err);
        await sleep(backoffMs(attempt));
      }
    }
  }

  function backoffMs(attempt: number): number {
    return Math.min(retryInitialMs * 2 ** Math.min(attempt - 1, 16), retryMaxMs);
  }

  /** Reads the batch's results: drops the records the ledger refused as invalid. */
  function settleBatch(records: UsageRecord[], results: BatchResult[]): SubmitOutcome[] {
    if (results.length !== records.length) {
      throw new Error(`the ledger answered ${results.length} results for ${records.length}`);
    }

    return records.map((record, i) => {
      const invalid = results[i]?.invalid;
      if (!invalid) return "sent";

      drop(record, Object.assign(new Error(invalid), { code: INVALID_ARGUMENT }));
      return "dropped";
    });
  }

  function batchRefused(err: unknown, records: number): void {
    logger.warn(
      { code: codeOf(err), error: messageOf(err), records },
      "ledger refused a batch of usage records; sending them one at a time",
    );
  }

  // Sends one record now: delivered, dropped as invalid, or (ledger away) onto the disk.
  async function sendNow(record: UsageRecord): Promise<SubmitOutcome> {
    try {
      await send(record);
      return "sent";
    } catch (err) {
      if (classify(err) === "invalid") {
        drop(record, err);
        return "dropped";
      }
      noteOutage(err);
    }

    await enqueue(record);
    return "queued";
  }

  function hold(record: UsageRecord): Promise<SubmitOutcome> {
    return new Promise<SubmitOutcome>((resolve, reject) => {
      held.push({ record, resolve, reject });
      if (held.length >= maxBatch) sendHeld();
      else heldTimer ??= setTimeout(sendHeld, coalesceMs);
    });
  }

  // Sends the held records in one call; each caller learns its own record's outcome.
  function sendHeld(): void {
    clearTimeout(heldTimer);
    heldTimer = undefined;
    const batch = held;
    held = [];
    if (batch.length > 0) track(sendTogether(batch), batch);
  }

  async function sendTogether(batch: Held[]): Promise<SubmitOutcome[]> {
    const records = batch.map((h) => h.record);
    if (records.length === 1) return [await sendNow(records[0]!)];

    try {
      return settleBatch(records, await sendBatch!(records));
    } catch (err) {
      const failure = classify(err);
      if (failure === "transient") {
        noteOutage(err);
        // Appended in one go, in submit order.
        await Promise.all(records.map((r) => enqueue(r)));
        return records.map(() => "queued");
      }

      batchRefused(err, records.length);
      const outcomes: SubmitOutcome[] = [];
      for (const record of records) outcomes.push(await sendNow(record));
      return outcomes;
    }
  }

  // Answers each caller with its record's outcome once `work` settles; until then the records
  // count as pending, and close() waits for them.
  function track(work: Promise<SubmitOutcome[]>, batch: Held[]): void {
    const sent = () => {
      sending -= batch.length;
      if (!loop) settleDrains();
    };
    const done = work
      .then(
        (outcomes) => {
          sent();
          batch.forEach((h, i) => h.resolve(outcomes[i]!));
        },
        (err: unknown) => {
          sent();
          for (const h of batch) h.reject(err);
        },
      )
      .finally(() => sends.delete(done));
    sends.add(done);
  }

  function noteOutage(err: unknown): void {
    if (outageSince !== undefined) return;

    outageSince = Date.now();
    logger.warn(
      { code: codeOf(err), error: messageOf(err), pending: pending() },
      "ledger unreachable; usage records wait in the outbox",
    );
  }

  // Not retried (it would be refused again) but kept: a record is a request someone owes for,
  // and an operator can mend and replay it.
  function drop(record: UsageRecord, err: unknown): void {
    keepForOperator(record, err);
    logger.error(
      { requestId: record.requestId, code: codeOf(err), error: messageOf(err) },
      "ledger refused a usage record as invalid; moved to dead-letter.jsonl",
    );
  }

  function deadLetter(record: UsageRecord, err: unknown): void {
    const entry = keepForOperator(record, err);
    logger.error(
      { requestId: record.requestId, code: entry.code, error: entry.error, maxAttempts },
      "usage record kept failing; moved to dead-letter.jsonl for an operator",
    );
  }

  function keepForOperator(record: UsageRecord, err: unknown) {
    const entry = {
      failedAt: new Date().toISOString(),
      code: codeOf(err),
      error: messageOf(err),
      record: JSON.parse(toJsonString(UsageRecordSchema, record)) as unknown,
    };
    appendFileSync(join(dir, "dead-letter.jsonl"), `${JSON.stringify(entry)}\n`);
    return entry;
  }

  function parse(line: string): UsageRecord | undefined {
    try {
      return fromJsonString(UsageRecordSchema, line);
    } catch (err) {
      appendFileSync(join(dir, "dead-letter.jsonl"), `${JSON.stringify({ unreadable: line })}\n`);
      logger.error({ error: messageOf(err) }, "unreadable outbox line; moved to dead-letter.jsonl");
      return undefined;
    }
  }

  function sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        wake = undefined;
        resolve();
      }
      wake = done;
    });
  }

  function settleDrains(): void {
    if (pending() > 0) return;

    const waiters = drainWaiters;
    drainWaiters = [];
    for (const resolve of waiters) resolve(true);
  }

  return {
    async submit(input) {
      if (closed) throw new Error("the usage outbox is closed; create it again to submit");

      const record = isMessage(input, UsageRecordSchema)
        ? input
        : create(UsageRecordSchema, input);
      // Anything already waiting on disk goes first, so a new record joins the line.
      if (!diskEmpty()) {
        await enqueue(record);
        return "queued";
      }

      sending++;
      if (coalesceMs > 0) return hold(record);

      return new Promise<SubmitOutcome>((resolve, reject) => {
        track(
          sendNow(record).then((o) => [o]),
          [{ record, resolve, reject }],
        );
      });
    },

    drain(timeoutMs) {
      if (pending() === 0) return Promise.resolve(true);

      wake?.();
      sendHeld();
      startLoop();
      return new Promise<boolean>((resolve) => {
        const timer =
          timeoutMs === undefined ? undefined : setTimeout(() => resolve(false), timeoutMs);
        drainWaiters.push((drained) => {
          clearTimeout(timer);
          resolve(drained);
        });
      });
    },

    pending,

    async close() {
      if (closed) return;

      closed = true;
      wake?.();
      // Held and in-flight records end delivered or on disk before the files close.
      sendHeld();
      await loop;
      await Promise.all([...sends]);
      await log.close();
      unlock();

      const waiters = drainWaiters;
      drainWaiters = [];
      for (const resolve of waiters) resolve(pending() === 0);
    },
  };
}

/** How a send failure is handled: retried (transient), dropped (invalid), or bounded retries. */
function classify(err: unknown): Failure {
  const code = codeOf(err);
  if (code === INVALID_ARGUMENT) return "invalid";
  if (typeof code === "number" && TRANSIENT_GRPC_CODES.has(code)) return "transient";
  // Node socket errors (ECONNREFUSED, ECONNRESET, ETIMEDOUT…) mean the ledger is unreachable.
  if (typeof code === "string" && code.startsWith("E")) return "transient";
  return "other";
}

function codeOf(err: unknown): unknown {
  return typeof err === "object" && err !== null ? (err as { code?: unknown }).code : undefined;
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

// Folders this process has open; a pid file alone cannot tell them from stale locks.
const openHere = new Set<string>();

// One process per folder: two writers would interleave appends and both deliver everything.
function lockFolder(dir: string): () => void {
  const path = join(dir, "outbox.lock");
  if (openHere.has(path)) {
    throw new Error(`outbox folder ${dir} is already open in this process; close it first`);
  }

  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(path, "wx");
      writeSync(fd, String(process.pid));
      closeSync(fd);
      openHere.add(path);
      return () => {
        openHere.delete(path);
        rmSync(path, { force: true });
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;

      // Our own pid here is a leftover of an earlier run (pid 1 in containers), not a holder.
      const holder = Number(readFileSync(path, "utf8").trim());
      if (holder !== process.pid && isAlive(holder)) {
        throw new Error(
          `outbox folder ${dir} is in use by process ${holder}; give each process its own folder`,
        );
      }
      rmSync(path, { force: true });
    }
  }
  throw new Error(`could not lock outbox folder ${dir}; remove ${path}`);
}

function isAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;

  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}
