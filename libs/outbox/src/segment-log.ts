import {
  closeSync,
  existsSync,
  fdatasync,
  fstatSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  read,
  readdirSync,
  readFileSync,
  readSync,
  renameSync,
  rmSync,
  write,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";

const writeAsync = promisify(write);
const readAsync = promisify(read);
const datasyncAsync = promisify(fdatasync);

const SEGMENT_NAME = /^segment-(\d{12})\.log$/;
const CURSOR_FILE = "cursor.json";
const NEWLINE = 0x0a;
const READ_CHUNK_BYTES = 64 * 1024;

/**
 * A durable FIFO of text lines: append-only segment files plus a cursor naming the first line
 * not yet acknowledged. Appends are durable when they resolve (written and fdatasync'ed;
 * concurrent appends share one sync). A crash can repeat lines after the cursor (the cursor is
 * saved without a sync), never lose a committed one; a torn last line is cut at the next open.
 * One process per folder; the caller holds the folder lock.
 * @private
 */
export interface SegmentLog {
  /** Appends one line (without a newline in it) and resolves once it is on disk. */
  append(line: string): Promise<void>;
  /**
   * The oldest committed lines not yet acknowledged, at most `max` (default 1), in order;
   * empty when there are none. Until they are acknowledged, peek returns the same lines.
   */
  peek(max?: number): Promise<string[]>;
  /** Acknowledges the lines `peek` returned; the next peek returns the ones after them. */
  ack(): Promise<void>;
  /** Committed lines not yet acknowledged. */
  size(): number;
  /** Waits for appends in progress, saves the cursor and closes the files. */
  close(): Promise<void>;
}

/** Where the log keeps its files and how big a segment grows before the next one starts. */
export interface SegmentLogOptions {
  dir: string;
  segmentBytes: number;
  /** Told about lines dropped while opening (a torn tail); for a log line. */
  onRecovered?(info: { tornBytes: number; pending: number }): void;
}

interface PendingAppend {
  bytes: Buffer;
  resolve(): void;
  reject(err: unknown): void;
}

/** Opens (or creates) the log in `dir`, cutting a torn last line and counting what is left. */
export function openSegmentLog(options: SegmentLogOptions): SegmentLog {
  const { dir, segmentBytes } = options;
  mkdirSync(dir, { recursive: true });

  const segmentPath = (n: number) => join(dir, `segment-${String(n).padStart(12, "0")}.log`);
  const cursorPath = join(dir, CURSOR_FILE);
  const cursor = readCursor(cursorPath);
  const found = readdirSync(dir)
    .map((name) => SEGMENT_NAME.exec(name)?.[1])
    .filter((n): n is string => n !== undefined)
    .map(Number)
    .sort((a, b) => a - b);

  // Segments wholly before the cursor were delivered; a crash may have left them behind.
  for (const n of found.filter((n) => n < cursor.segment)) rmSync(segmentPath(n));
  const segments = found.filter((n) => n >= cursor.segment);
  if (segments.length === 0) segments.push(cursor.segment);

  const writeSegment = segments[segments.length - 1]!;
  // a+: appends always land at the end, and the torn-tail check can read the file.
  let writeFd = openSync(segmentPath(writeSegment), "a+");
  const tornBytes = cutTornTail(writeFd);
  let committed = fstatSync(writeFd).size;

  // Closed segments' sizes; the write segment's readable end is `committed`.
  const sizes = new Map<number, number>();
  let count = 0;
  for (const n of segments) {
    const bytes = readFileSync(segmentPath(n));
    if (n !== writeSegment) sizes.set(n, bytes.length);
    const from = n === cursor.segment ? Math.min(cursor.offset, bytes.length) : 0;
    for (let i = from; i < bytes.length; i++) if (bytes[i] === NEWLINE) count++;
  }
  options.onRecovered?.({ tornBytes, pending: count });

  const firstEnd = segments[0] === writeSegment ? committed : (sizes.get(segments[0]!) ?? 0);
  const state = {
    writeSegment,
    readSegment: segments[0]!,
    readOffset: segments[0] === cursor.segment ? Math.min(cursor.offset, firstEnd) : 0,
  };
  let readFd: number | undefined;
  let readFdSegment = -1;
  let buffer = Buffer.alloc(0);
  let bufferStart = 0;
  // Lines handed out by peek and not yet acknowledged, with the offset after each.
  let peeked: { line: string; next: number }[] = [];
  let queue: PendingAppend[] = [];
  let flushing: Promise<void> | undefined;
  let closed = false;

  function readEnd(segment: number): number {
    return segment === state.writeSegment ? committed : (sizes.get(segment) ?? 0);
  }

  async function flush(): Promise<void> {
    while (queue.length > 0) {
      const batch = queue;
      queue = [];
      try {
        if (committed >= segmentBytes) rotate();
        const bytes = Buffer.concat(batch.map((p) => p.bytes));
        let written = 0;
        while (written < bytes.length) {
          const left = bytes.length - written;
          const { bytesWritten } = await writeAsync(writeFd, bytes, written, left);
          written += bytesWritten;
        }
        await datasyncAsync(writeFd);
        committed += bytes.length;
        count += batch.length;
        for (const p of batch) p.resolve();
      } catch (err) {
        for (const p of batch) p.reject(err);
      }
    }
    // Cleared right after the queue was last seen empty: an append made by a caller woken by
    // the batch above must start a new flush rather than wait for this finished one.
    flushing = undefined;
  }

  function rotate(): void {
    closeSync(writeFd);
    sizes.set(state.writeSegment, committed);
    state.writeSegment++;
    writeFd = openSync(segmentPath(state.writeSegment), "a+");
    committed = 0;
  }

  // Reads on from `from` (at or after the read position) until a whole line is buffered or
  // the readable end; returns the line's newline index in the buffer, or -1.
  async function fill(from: number): Promise<number> {
    if (readFdSegment !== state.readSegment) {
      if (readFd !== undefined) closeSync(readFd);
      readFd = openSync(segmentPath(state.readSegment), "r");
      readFdSegment = state.readSegment;
      buffer = Buffer.alloc(0);
      bufferStart = state.readOffset;
    }

    for (;;) {
      const newline = buffer.indexOf(NEWLINE, from - bufferStart);
      if (newline >= 0) return newline;

      const end = readEnd(state.readSegment);
      const have = bufferStart + buffer.length;
      if (have >= end) return -1;

      const chunk = Buffer.alloc(Math.min(READ_CHUNK_BYTES, end - have));
      const { bytesRead } = await readAsync(readFd!, chunk, 0, chunk.length, have);
      // Keep only what is not yet acknowledged, so the buffer stays one batch or so.
      const at = state.readOffset - bufferStart;
      buffer = Buffer.concat([buffer.subarray(at), chunk.subarray(0, bytesRead)]);
      bufferStart = state.readOffset;
    }
  }

  async function saveCursor(): Promise<void> {
    const tmp = `${cursorPath}.tmp`;
    writeFileSync(tmp, JSON.stringify({ segment: state.readSegment, offset: state.readOffset }));
    renameSync(tmp, cursorPath);
  }

  return {
    append(line) {
      if (closed) return Promise.reject(new Error("the outbox is closed; open it again"));

      return new Promise<void>((resolve, reject) => {
        queue.push({ bytes: Buffer.from(`${line}\n`, "utf8"), resolve, reject });
        flushing ??= flush();
      });
    },

    async peek(max = 1) {
      if (peeked.length > 0) return peeked.map((p) => p.line);

      for (;;) {
        if (count === 0) return [];

        // A batch stays within one segment; the next peek starts on the following one.
        let from = state.readOffset;
        while (peeked.length < max) {
          const newline = await fill(from);
          if (newline < 0) break;

          const line = buffer.subarray(from - bufferStart, newline).toString("utf8");
          from = bufferStart + newline + 1;
          peeked.push({ line, next: from });
        }
        if (peeked.length > 0) return peeked.map((p) => p.line);
        if (state.readSegment === state.writeSegment) return [];

        // This segment is used up; its successor holds the rest.
        const done = state.readSegment;
        state.readSegment++;
        state.readOffset = 0;
        await saveCursor();
        rmSync(segmentPath(done), { force: true });
        sizes.delete(done);
      }
    },

    async ack() {
      const last = peeked[peeked.length - 1];
      if (!last) throw new Error("ack without a peeked line");

      state.readOffset = last.next;
      count -= peeked.length;
      peeked = [];
      await saveCursor();
    },

    size: () => count,

    async close() {
      closed = true;
      await flushing;
      await saveCursor();
      closeSync(writeFd);
      if (readFd !== undefined) closeSync(readFd);
    },
  };
}

function readCursor(path: string): { segment: number; offset: number } {
  if (!existsSync(path)) return { segment: 1, offset: 0 };

  try {
    const text = readFileSync(path, "utf8");
    const parsed = JSON.parse(text) as { segment?: unknown; offset?: unknown };
    const segment = Number(parsed.segment);
    const offset = Number(parsed.offset);
    if (Number.isInteger(segment) && segment >= 1 && Number.isInteger(offset) && offset >= 0) {
      return { segment, offset };
    }
  } catch {
    // Fall through: an unreadable cursor means starting from the oldest segment again, which
    // repeats deliveries (harmless, the ledger deduplicates) instead of losing any.
  }
  return { segment: 0, offset: 0 };
}

// A crash mid-append can leave a last line without its newline; that append never resolved,
// so nobody was told it was stored. Cut it.
function cutTornTail(fd: number): number {
  const size = fstatSync(fd).size;
  if (size === 0) return 0;

  const bytes = Buffer.alloc(Math.min(size, 1024 * 1024));
  let end = size;
  while (end > 0) {
    const from = Math.max(0, end - bytes.length);
    const length = end - from;
    readSyncAt(fd, bytes, length, from);
    const last = bytes.subarray(0, length).lastIndexOf(NEWLINE);
    if (last >= 0) {
      const keep = from + last + 1;
      if (keep < size) ftruncateSync(fd, keep);
      return size - keep;
    }
    end = from;
  }
  ftruncateSync(fd, 0);
  return size;
}

function readSyncAt(fd: number, into: Buffer, length: number, position: number): void {
  let done = 0;
  while (done < length) {
    const n = readSync(fd, into, done, length - done, position + done);
    if (n === 0) break;
    done += n;
  }
}
