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
import { createUsageOutbox, type OutboxLogger, type UsageOutboxOptions } from "./index.js";

let dir: string;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "outbox-"));
});

afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** A ledger stand-in: records what it was sent; can be down or refuse some ids. */
function fakeLedger() {
  const ledger = {
    delivered: [] as string[],
    calls: 0,
    down: false,
    refuse: new Map<string, number>(),
    async send(record: UsageRecord): Promise<void> {
      ledger.calls++;
      if (ledger.down) throw Object.assign(new Error("connect ECONNREFUSED"), { code: 14 });

      const code = ledger.refuse.get(record.requestId);
      if (code !== undefined) throw Object.assign(new Error(`refused with ${code}`), { code });
      ledger.delivered.push(record.requestId);
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

  it("drops a record the ledger calls invalid, logging it, and goes on with the next", async () => {
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
    expect(errors[0]?.message).toBe("ledger refused a usage record as invalid; dropped");
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
