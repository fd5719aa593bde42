import { describe, expect, it } from "vitest";
import { SlidingSums } from "./sliding-sums.js";

describe("SlidingSums", () => {
  it("sums the slots of the window, the current partial slot included", () => {
    const sums = new SlidingSums(1_000, 300, 2);

    sums.add(10_000, 0, 1); // second 10
    sums.add(69_500, 0, 2); // second 69
    sums.add(70_999, 0, 4); // second 70
    sums.add(70_999, 1, 0.5);

    // At 70.999 s the last 60 s are seconds 11..70: second 10 is out.
    expect([...sums.sum(70_999, 60_000)]).toEqual([6, 0.5]);
    expect([...sums.sum(70_999, 61_000)]).toEqual([7, 0.5]);
    // One second later second 11..71 → still 6; at 130 s only second 70 and later remain.
    expect([...sums.sum(129_999, 60_000)]).toEqual([4, 0.5]);
    expect([...sums.sum(131_000, 60_000)]).toEqual([0, 0]);
  });

  it("reuses a slot once the ring wraps, forgetting the old counts", () => {
    const sums = new SlidingSums(1_000, 5, 1);

    sums.add(1_000, 0, 3); // row 1
    sums.add(6_000, 0, 7); // second 6, also row 1: the 3 is gone

    expect(sums.sum(6_000, 5_000)[0]).toBe(7);
    // Windows longer than the ring are cut to the ring.
    expect(sums.sum(6_000, 60_000)[0]).toBe(7);
  });

  it("ignores slots from the future of the asked time", () => {
    const sums = new SlidingSums(60_000, 1_440, 1);

    sums.add(120_000, 0, 5);

    expect(sums.sum(60_000, 86_400_000)[0]).toBe(0);
    expect(sums.sum(120_000, 86_400_000)[0]).toBe(5);
  });

  it("tells when nothing was added during a window", () => {
    const sums = new SlidingSums(1_000, 10, 1);

    expect(sums.idleFor(0, 5_000)).toBe(true);
    sums.add(3_000, 0, 1);
    expect(sums.idleFor(7_999, 5_000)).toBe(false);
    expect(sums.idleFor(8_000, 5_000)).toBe(true);
  });
});
