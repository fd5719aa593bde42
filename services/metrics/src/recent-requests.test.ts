import { describe, expect, it } from "vitest";
import { RecentRequests } from "./recent-requests.js";

describe("RecentRequests", () => {
  it("forgets the oldest request once full", () => {
    const recent = new RecentRequests(2);

    recent.remember("a", "claude-haiku-3");
    recent.remember("b", "claude-sonnet-4");
    recent.remember("c", "claude-opus-4");

    expect(recent.size).toBe(2);
    expect(recent.get("a")).toBeUndefined();
    expect(recent.get("b")).toEqual({ model: "claude-sonnet-4", scored: false });
    expect(recent.get("c")?.model).toBe("claude-opus-4");
  });

  it("counts a request as newest again when it is observed again", () => {
    const recent = new RecentRequests(2);

    recent.remember("a", "m1");
    recent.remember("b", "m2");
    recent.remember("a", "m1");
    recent.remember("c", "m3");

    expect(recent.get("a")?.model).toBe("m1");
    expect(recent.get("b")).toBeUndefined();
  });

  it("marks a request scored once, and keeps the mark when it is observed again", () => {
    const recent = new RecentRequests(10);
    recent.remember("a", "m1");

    expect(recent.markScored("a", "m1")).toBe(true);
    expect(recent.markScored("a", "m1")).toBe(false);
    recent.remember("a", "m1");
    expect(recent.markScored("a", "m1")).toBe(false);
  });

  it("adds an unknown request when its score comes with a model", () => {
    const recent = new RecentRequests(1);
    recent.remember("old", "m1");

    expect(recent.markScored("new", "m2")).toBe(true);

    expect(recent.get("new")).toEqual({ model: "m2", scored: true });
    expect(recent.get("old")).toBeUndefined();
  });

  it("refuses a capacity below one", () => {
    expect(() => new RecentRequests(0)).toThrow("capacity must be at least 1, got 0");
  });
});
