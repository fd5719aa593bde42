import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { create, toJsonString } from "@bufbuild/protobuf";
import {
  type UsageRecord,
  UsageRecordSchema,
  UsageStatus,
} from "@mesh/contracts/ledger/v1/ledger_pb";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  type BatchResult,
  createUsageOutbox,
  type OutboxLogger,
  type UsageOutboxOptions,
} from "./index.js";

let dir: string;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "outbox-"));
});

afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

/**
 * A ledger stand-in: records what it was sent; can be down or refuse some ids. Its batch call
 * answers a record refused with 3 (INVALID_ARGUMENT) in that record's result, as the ledger
 * does, and fails whole for any other refusal (a database error) or for `refuseBatches`.
 */
function fakeLedger() {
  const ledger = {
    delivered: [] as string[],
    calls: 0,
    /** Request ids of each batch call, failed ones included. */
    batches: [] as string[][],
    down: false,
    refuse: new Map<string, number>(),
    /** A gRPC code every batch call fails with (12: a ledger without RecordUsageBatch). */
    refuseBatches: undefined as number | undefined,
    async send(record: UsageRecord): Promise<void> {
      ledger.calls++;
      if (ledger.down) throw Object.assign(new Error("connect ECONNREFUSED"), { code: 14 });

      const code = ledger.refuse.get(record.requestId);
      if (code !== undefined) throw Object.assign(new Error(`refused with ${code}`), { code });
      ledger.delivered.push(record.requestId);
    },
    async sendBatch(records: UsageRecord[]): Promise<BatchResult[]> {
      ledger.batches.push(records.map((r) => r.requestId));
      const failure = ledger.down
        ? 14
        : (ledger.refuseBatches ??
          records.map((r) => ledger.refuse.get(r.requestId)).find((c) => c && c !== 3));
      if (failure) {
        throw Object.assign(new Error(`batch failed with ${failure}`), { code: failure });
      }

      return records.map((r) => {
        if (ledger.refuse.get(r.requestId) === 3) return { invalid: `${r.requestId} is bad` };
        ledger.delivered.push(r.requestId);
        return {};
      });
    },
  };
  return ledger;
}

function recordingLogger() {
  const lines: Array<{ level: string; message: string; fields: object }> = [];
  const at =
    (level: string) =>
    (fields: object, message: string): void => {
      lines.push({ level, message, fields });
    };
  const logger: OutboxLogger = { info: at("info"), warn: at("warn"), error: at("error") };
  return { logger, lines };
}

function record(requestId: string) {
  return {
    requestId,
    tenant: "acme",
    status: UsageStatus.OK,
    usage: { inputTokens: 1_000, outputTokens: 100 },
    cost: { currencyCode: "USD", units: 12n, nanos: 345_678_901 },
  };
}

function open(ledger: ReturnType<typeof fakeLedger>, extra: Partial<UsageOutboxOptions> = {}) {
  const log = recordingLogger();
  const outbox = createUsageOutbox({
    send: (r) => ledger.send(r),
    dir,
    logger: log.logger,
    retryInitialMs: 5,
    retryMaxMs: 20,
    ...extra,
  });
  return { outbox, lines: log.lines };
}

const ids = (n: number, prefix = "req") => Array.from({ length: n }, (_, i) => `${prefix}-${i}`);

describe("createUsageOutbox", () => {
  it("sends at once while the ledger answers and keeps nothing on disk", async () => {
    const ledger = fakeLedger();
    const { outbox } = open(ledger);

    const outcome = await outbox.submit(record("req-1"));

    expect(outcome).toBe("sent");
    expect(ledger.delivered).toEqual(["req-1"]);
    expect(outbox.pending()).toBe(0);
    await outbox.close();
  });

  it("keeps records while the ledger is down, then delivers each once, in order", async () => {
    const ledger = fakeLedger();
    const { outbox, lines } = open(ledger);
    ledger.down = true;

    const outcomes = [];
    for (const id of ids(100)) outcomes.push(await outbox.submit(record(id)));
    const waiting = outbox.pending();
    const stillDown = await outbox.drain(50);
    ledger.down = false;
    const drained = await outbox.drain(5_000);

    expect(outcomes).toEqual(Array(100).fill("queued"));
    expect(waiting).toBe(100);
    expect(stillDown).toBe(false);
    expect(drained).toBe(true);
    expect(ledger.delivered).toEqual(ids(100));
    expect(outbox.pending()).toBe(0);
    expect(lines.filter((l) => l.message.startsWith("ledger unreachable"))).toHaveLength(1);
    expect(lines.some((l) => l.message.startsWith("outbox drained"))).toBe(true);
    await outbox.close();
  });

  it("writes concurrent submits durably and delivers every one exactly once", async () => {
    const ledger = fakeLedger();
    const { outbox } = open(ledger);
    ledger.down = true;

    const outcomes = await Promise.all(ids(300).map((id) => outbox.submit(record(id))));
    ledger.down = false;
    await outbox.drain(5_000);

    expect(outcomes.every((o) => o === "queued")).toBe(true);
    expect([...ledger.delivered].sort()).toEqual([...ids(300)].sort());
    expect(new Set(ledger.delivered).size).toBe(300);
    await outbox.close();
  });

  it("puts a new record behind the waiting ones even once the ledger is back", async () => {
    const ledger = fakeLedger();
    const { outbox } = open(ledger, { retryInitialMs: 60_000, retryMaxMs: 60_000 });
    ledger.down = true;
    await outbox.submit(record("a"));
    await outbox.submit(record("b"));
    ledger.down = false;

    const late = await outbox.submit(record("c"));
    await outbox.drain(5_000);

    expect(late).toBe("queued");
    expect(ledger.delivered).toEqual(["a", "b", "c"]);
    await outbox.close();
  });

  it("delivers what a previous process left on disk, in order, after a restart", async () => {
    const ledger = fakeLedger();
    ledger.down = true;
    const first = open(ledger).outbox;
    for (const id of ids(50)) await first.submit(record(id));
    await first.close();

    ledger.down = false;
    const second = open(ledger);
    const found = second.outbox.pending();
    await second.outbox.drain(5_000);
    await second.outbox.close();
    const third = open(ledger).outbox;

    expect(found).toBe(50);
    expect(second.lines.some((l) => l.message === "outbox has records from a previous run")).toBe(
      true,
    );
    expect(ledger.delivered).toEqual(ids(50));
    expect(third.pending()).toBe(0);
    await third.close();
  });

  it("keeps every field of a record through the file exactly", async () => {
    const ledger = fakeLedger();
    const seen: UsageRecord[] = [];
    ledger.down = true;
    const { outbox } = open(ledger, {
      send: async (r) => {
        await ledger.send(r);
        seen.push(r);
      },
    });
    const original = create(UsageRecordSchema, {
      ...record("exact"),
      reservationId: "res-1",
      prices: { inputNanosPerMtok: 3_000_000_000n, outputNanosPerMtok: 9_223_372_036_854_775_807n },
      startedAt: { seconds: 1_793_872_800n, nanos: 123_456_789 },
    });

    await outbox.submit(original);
    ledger.down = false;
    await outbox.drain(5_000);

    expect(toJsonString(UsageRecordSchema, seen[0]!)).toBe(
      toJsonString(UsageRecordSchema, original),
    );
    await outbox.close();
  });

  it("dead-letters a record the ledger calls invalid at once, and goes on with the next",
    async () => {
    const ledger = fakeLedger();
    const { outbox, lines } = open(ledger);
    ledger.refuse.set("bad-now", 3);
    ledger.refuse.set("bad-later", 3);

    const now = await outbox.submit(record("bad-now"));
    ledger.down = true;
    await outbox.submit(record("bad-later"));
    await outbox.submit(record("good"));
    ledger.down = false;
    await outbox.drain(5_000);

    const errors = lines.filter((l) => l.level === "error");
    expect(now).toBe("dropped");
    expect(ledger.delivered).toEqual(["good"]);
    expect(errors.map((l) => (l.fields as { requestId: string }).requestId)).toEqual([
      "bad-now",
      "bad-later",
    ]);
    expect(errors[0]?.message).toBe(
      "ledger refused a usage record as invalid; moved to dead-letter.jsonl",
    );
    const dead = readFileSync(join(dir, "dead-letter.jsonl"), "utf8").trim().split("\n");
    expect(dead.map((line) => JSON.parse(line))).toMatchObject([
      { code: 3, record: { requestId: "bad-now" } },
      { code: 3, record: { requestId: "bad-later" } },
    ]);
    await outbox.close();
  });

  it("moves a record that keeps failing with INTERNAL to dead-letter.jsonl", async () => {
    const ledger = fakeLedger();
    const { outbox } = open(ledger, { maxAttempts: 3 });
    ledger.down = true;
    await outbox.submit(record("poison"));
    await outbox.submit(record("fine"));
    ledger.down = false;
    ledger.refuse.set("poison", 13);

    await outbox.drain(5_000);
    const dead = readFileSync(join(dir, "dead-letter.jsonl"), "utf8").trim().split("\n");

    expect(ledger.delivered).toEqual(["fine"]);
    expect(dead).toHaveLength(1);
    expect(JSON.parse(dead[0]!)).toMatchObject({ code: 13, record: { requestId: "poison" } });
    await outbox.close();
  });

  it("cuts a torn last line left by a crash and takes over a stale lock", async () => {
    const lines = ["a", "b"].map((id) =>
      toJsonString(UsageRecordSchema, create(UsageRecordSchema, record(id))),
    );
    writeFileSync(join(dir, "segment-000000000001.log"), `${lines.join("\n")}\n{"requestId":"c`);
    writeFileSync(join(dir, "outbox.lock"), "999999999");
    const ledger = fakeLedger();

    const { outbox, lines: logged } = open(ledger);
    const found = outbox.pending();
    await outbox.drain(5_000);

    expect(found).toBe(2);
    expect(ledger.delivered).toEqual(["a", "b"]);
    expect(logged.some((l) => l.message.startsWith("outbox cut a torn last record"))).toBe(true);
    await outbox.close();
  });

  it("answers a waiting drain with false when closed while the ledger is still down", async () => {
    const ledger = fakeLedger();
    const { outbox } = open(ledger);
    ledger.down = true;
    await outbox.submit(record("stuck"));

    const drained = outbox.drain();
    await outbox.close();

    expect(await drained).toBe(false);
    expect(ledger.delivered).toEqual([]);
  });

  it("refuses a folder another outbox of this process holds", async () => {
    const ledger = fakeLedger();
    const { outbox } = open(ledger);

    expect(() => open(ledger)).toThrow(/already open in this process/);
    await outbox.close();
  });

  it("spreads a long outage over segment files and removes each once delivered", async () => {
    const ledger = fakeLedger();
    const { outbox } = open(ledger, { segmentBytes: 500 });
    ledger.down = true;
    for (const id of ids(40)) await outbox.submit(record(id));
    const segmentsDuring = readdirSync(dir).filter((f) => f.startsWith("segment-")).length;

    ledger.down = false;
    await outbox.drain(5_000);
    const segmentsAfter = readdirSync(dir).filter((f) => f.startsWith("segment-")).length;

    expect(segmentsDuring).toBeGreaterThan(5);
    expect(segmentsAfter).toBe(1);
    expect(ledger.delivered).toEqual(ids(40));
    await outbox.close();
  });
});

describe("createUsageOutbox with sendBatch", () => {
  function openBatching(ledger: ReturnType<typeof fakeLedger>, extra = {}) {
    return open(ledger, { sendBatch: (records) => ledger.sendBatch(records), ...extra });
  }

  /** Leaves `count` records on disk, as a process that ran during an outage would. */
  async function leftOnDisk(count: number, prefix = "req") {
    const ledger = fakeLedger();
    ledger.down = true;
    const first = open(ledger).outbox;
    for (const id of ids(count, prefix)) await first.submit(record(id));
    await first.close();
  }

  it("delivers what waits on disk in batches of up to 100, in order, each once", async () => {
    await leftOnDisk(250);
    const ledger = fakeLedger();
    const { outbox } = openBatching(ledger);

    expect(await outbox.drain(5_000)).toBe(true);

    expect(ledger.batches.map((b) => b.length)).toEqual([100, 100, 50]);
    expect(ledger.batches.flat()).toEqual(ids(250));
    expect(ledger.delivered).toEqual(ids(250));
    expect(ledger.calls).toBe(0);
    expect(outbox.pending()).toBe(0);
    await outbox.close();
  });

  it("retries the same batch through an outage without sending any record twice", async () => {
    await leftOnDisk(5);
    const ledger = fakeLedger();
    ledger.down = true;
    const { outbox, lines } = openBatching(ledger, { maxBatch: 3 });

    expect(await outbox.drain(60)).toBe(false);
    const attempts = ledger.batches.length;
    ledger.down = false;
    expect(await outbox.drain(5_000)).toBe(true);

    expect(attempts).toBeGreaterThanOrEqual(2);
    expect(ledger.batches.slice(0, attempts)).toEqual(Array(attempts).fill(ids(3)));
    expect(ledger.batches.slice(attempts)).toEqual([ids(3), ["req-3", "req-4"]]);
    expect(ledger.delivered).toEqual(ids(5));
    expect(lines.filter((l) => l.message.startsWith("ledger unreachable"))).toHaveLength(1);
    await outbox.close();
  });

  it("drops only the record a batch result calls invalid, and delivers the rest", async () => {
    await leftOnDisk(4);
    const ledger = fakeLedger();
    ledger.refuse.set("req-1", 3);
    const { outbox, lines } = openBatching(ledger);

    await outbox.drain(5_000);

    const errors = lines.filter((l) => l.level === "error");
    expect(ledger.batches).toEqual([ids(4)]);
    expect(ledger.delivered).toEqual(["req-0", "req-2", "req-3"]);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({
      message: "ledger refused a usage record as invalid; moved to dead-letter.jsonl",
      fields: { requestId: "req-1", code: 3, error: "req-1 is bad" },
    });
    expect(outbox.pending()).toBe(0);
    await outbox.close();
  });

  it.each([
    ["INVALID_ARGUMENT for the whole batch", 3],
    ["UNIMPLEMENTED (a ledger without the batch call)", 12],
  ])("sends a batch refused with %s one record at a time", async (_, code) => {
    await leftOnDisk(4);
    const ledger = fakeLedger();
    ledger.refuseBatches = code;
    ledger.refuse.set("req-2", 3);
    const { outbox, lines } = openBatching(ledger);

    await outbox.drain(5_000);

    expect(ledger.batches).toEqual([ids(4)]);
    expect(ledger.calls).toBe(4);
    // One bad record never takes the good ones down with it.
    expect(ledger.delivered).toEqual(["req-0", "req-1", "req-3"]);
    expect(lines.filter((l) => l.level === "warn").map((l) => l.message)).toEqual([
      "ledger refused a batch of usage records; sending them one at a time",
    ]);
    await outbox.close();
  });

  it("dead-letters the record that fails a batch with INTERNAL, alone", async () => {
    await leftOnDisk(3);
    const ledger = fakeLedger();
    ledger.refuse.set("req-1", 13);
    const { outbox } = openBatching(ledger, { maxAttempts: 2 });

    await outbox.drain(5_000);
    const dead = readFileSync(join(dir, "dead-letter.jsonl"), "utf8").trim().split("\n");

    expect(ledger.delivered).toEqual(["req-0", "req-2"]);
    expect(dead.map((line) => JSON.parse(line).record.requestId)).toEqual(["req-1"]);
    await outbox.close();
  });

  it("keeps batches within a segment file and removes each file once delivered", async () => {
    const ledger = fakeLedger();
    ledger.down = true;
    const { outbox } = openBatching(ledger, { segmentBytes: 500 });
    for (const id of ids(40)) await outbox.submit(record(id));
    const segments = readdirSync(dir).filter((f) => f.startsWith("segment-")).length;

    ledger.down = false;
    await outbox.drain(5_000);

    expect(segments).toBeGreaterThan(5);
    expect(readdirSync(dir).filter((f) => f.startsWith("segment-"))).toHaveLength(1);
    expect(ledger.delivered).toEqual(ids(40));
    expect(new Set(ledger.delivered).size).toBe(40);
    await outbox.close();
  });
});

describe("createUsageOutbox coalescing submits (coalesceMs)", () => {
  function openCoalescing(ledger: ReturnType<typeof fakeLedger>, extra = {}) {
    return open(ledger, {
      sendBatch: (records) => ledger.sendBatch(records),
      coalesceMs: 20,
      ...extra,
    });
  }

  it("sends records submitted within the window in one call, and a lone one alone", async () => {
    const ledger = fakeLedger();
    const { outbox } = openCoalescing(ledger);

    const submits = ids(3).map((id) => outbox.submit(record(id)));
    const heldMeanwhile = outbox.pending();
    const outcomes = await Promise.all(submits);
    const lone = await outbox.submit(record("lone"));

    expect(heldMeanwhile).toBe(3);
    expect(outcomes).toEqual(["sent", "sent", "sent"]);
    expect(ledger.batches).toEqual([ids(3)]);
    // A window with one record uses the plain call: one row, one RecordUsage.
    expect(lone).toBe("sent");
    expect(ledger.calls).toBe(1);
    expect(ledger.delivered).toEqual([...ids(3), "lone"]);
    expect(outbox.pending()).toBe(0);
    await outbox.close();
  });

  it("sends a full window at once, without waiting for the timer", async () => {
    const ledger = fakeLedger();
    const { outbox } = openCoalescing(ledger, { coalesceMs: 60_000, maxBatch: 2 });

    const outcomes = await Promise.all(ids(4).map((id) => outbox.submit(record(id))));

    expect(outcomes).toEqual(["sent", "sent", "sent", "sent"]);
    expect(ledger.batches).toEqual([ids(2), ["req-2", "req-3"]]);
    await outbox.close();
  });

  it("answers each submit with its own record's outcome", async () => {
    const ledger = fakeLedger();
    ledger.refuse.set("req-1", 3);
    const { outbox } = openCoalescing(ledger);

    const outcomes = await Promise.all(ids(3).map((id) => outbox.submit(record(id))));

    expect(outcomes).toEqual(["sent", "dropped", "sent"]);
    expect(ledger.delivered).toEqual(["req-0", "req-2"]);
    await outbox.close();
  });

  it("puts a window the ledger cannot take on disk in submit order, then delivers it", async () => {
    const ledger = fakeLedger();
    ledger.down = true;
    const { outbox } = openCoalescing(ledger);

    const outcomes = await Promise.all(ids(5).map((id) => outbox.submit(record(id))));
    const onDisk = outbox.pending();
    const later = await outbox.submit(record("later"));
    ledger.down = false;
    await outbox.drain(5_000);

    expect(outcomes).toEqual(Array(5).fill("queued"));
    expect(onDisk).toBe(5);
    expect(later).toBe("queued");
    expect(ledger.delivered).toEqual([...ids(5), "later"]);
    expect(new Set(ledger.delivered).size).toBe(6);
    await outbox.close();
  });

  it("sends a window refused whole one record at a time", async () => {
    const ledger = fakeLedger();
    ledger.refuseBatches = 12;
    ledger.refuse.set("req-1", 3);
    const { outbox } = openCoalescing(ledger);

    const outcomes = await Promise.all(ids(3).map((id) => outbox.submit(record(id))));

    expect(outcomes).toEqual(["sent", "dropped", "sent"]);
    expect(ledger.delivered).toEqual(["req-0", "req-2"]);
    await outbox.close();
  });

  it("lets drain send a held window at once and wait for it", async () => {
    const ledger = fakeLedger();
    const { outbox } = openCoalescing(ledger, { coalesceMs: 60_000 });

    const submits = ids(2).map((id) => outbox.submit(record(id)));
    const drained = await outbox.drain(1_000);

    expect(drained).toBe(true);
    expect(await Promise.all(submits)).toEqual(["sent", "sent"]);
    expect(ledger.batches).toEqual([ids(2)]);
    await outbox.close();
  });

  it("on close, sends a held window or writes it to disk for the next start", async () => {
    const ledger = fakeLedger();
    ledger.down = true;
    const first = openCoalescing(ledger, { coalesceMs: 60_000 }).outbox;

    const submits = ids(3).map((id) => first.submit(record(id)));
    await first.close();

    expect(await Promise.all(submits)).toEqual(["queued", "queued", "queued"]);
    ledger.down = false;
    const second = openCoalescing(ledger).outbox;
    expect(second.pending()).toBe(3);
    await second.drain(5_000);
    expect(ledger.delivered).toEqual(ids(3));
    await second.close();
  });
});
