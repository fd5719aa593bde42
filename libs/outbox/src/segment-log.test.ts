import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { openSegmentLog, type SegmentLog } from "./segment-log.js";

let dir: string;
let log: SegmentLog | undefined;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "segment-log-"));
});

afterEach(async () => {
  await log?.close();
  log = undefined;
  rmSync(dir, { recursive: true, force: true });
});

/** Fails instead of hanging the suite when a promise never settles. */
function within<T>(promise: Promise<T>, ms = 2_000): Promise<T> {
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => setTimeout(() => reject(new Error("timed out")), ms)),
  ]);
}

describe("segment log", () => {
  it("commits an append made by a caller its previous append just woke", async () => {
    log = openSegmentLog({ dir, segmentBytes: 1 << 20 });

    // Each append starts right as the one before resolves, while its flush is winding down.
    for (const line of ["a", "b", "c", "d"]) await within(log.append(line));

    expect(log.size()).toBe(4);
    expect(await log.peek(10)).toEqual(["a", "b", "c", "d"]);
  });

  it("peeks up to `max` lines, the same ones until acknowledged, then the next ones", async () => {
    log = openSegmentLog({ dir, segmentBytes: 1 << 20 });
    await log.append("a");

    const first = await log.peek(3);
    await Promise.all(["b", "c", "d", "e"].map((line) => log!.append(line)));
    const again = await log.peek(3);
    await log.ack();
    const next = await log.peek(3);
    await log.ack();
    const last = await log.peek(3);
    await log.ack();

    expect([first, again, next, last]).toEqual([["a"], ["a"], ["b", "c", "d"], ["e"]]);
    expect(log.size()).toBe(0);
    expect(await log.peek(3)).toEqual([]);
  });

  it("keeps a peek within one segment and resumes at the cursor after a reopen", async () => {
    log = openSegmentLog({ dir, segmentBytes: 4 });
    for (const line of ["a1", "a2", "b1", "b2", "c1"]) await log.append(line);

    const first = await log.peek(10);
    await log.ack();
    await log.close();
    log = openSegmentLog({ dir, segmentBytes: 4 });
    const reopened = log.size();
    const second = await log.peek(10);

    // A segment closes once it holds 4 bytes or more: "a1\na2\n" then "b1\nb2\n", then "c1\n".
    expect(first).toEqual(["a1", "a2"]);
    expect(reopened).toBe(3);
    expect(second).toEqual(["b1", "b2"]);
  });
});
