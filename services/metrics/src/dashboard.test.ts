import { create } from "@bufbuild/protobuf";
import { ModelWindowSchema } from "@mesh/contracts/metrics/v1/metrics_pb";
import { moneyToNanos } from "@mesh/money";
import { describe, expect, it } from "vitest";
import { bucketQuantile, createDashboardWindows, figuresOf, mergeWindows } from "./dashboard.js";

const BOUNDS = [0.1, 0.5, 1];

describe("bucketQuantile", () => {
  it("interpolates inside the bucket the rank falls in, as histogram_quantile does", () => {
    // 100 requests: 50 up to 0.1 s, 40 in (0.1, 0.5], 10 in (0.5, 1].
    const counts = [50, 40, 10, 0];

    expect(bucketQuantile(0.5, BOUNDS, counts)).toBe(0.1);
    // rank 25 in the first bucket, interpolated from 0.
    expect(bucketQuantile(0.25, BOUNDS, counts)).toBeCloseTo(0.05, 12);
    // rank 99: 9 of the 10 in (0.5, 1].
    expect(bucketQuantile(0.99, BOUNDS, counts)).toBeCloseTo(0.95, 12);
  });

  it("answers the highest finite bound when the rank lies in +Inf, NaN with no data", () => {
    expect(bucketQuantile(0.99, BOUNDS, [0, 0, 1, 9])).toBe(1);
    expect(bucketQuantile(0.99, BOUNDS, [0, 0, 0, 0])).toBeNaN();
  });
});

describe("dashboard windows", () => {
  it("gives requests per minute, p99, error rate and 24 h cost per model", () => {
    const windows = createDashboardWindows(BOUNDS);
    const t0 = 1_700_000_000_000;

    // 10 minutes ago: one costly request, outside the 1 m and 5 m windows.
    windows.record(t0 - 600_000, { model: "m", latencySeconds: 2, failed: false, costNanos: 5e9 });
    // 2 minutes ago: 3 requests, one failed.
    for (const failed of [false, false, true]) {
      windows.record(t0 - 120_000, { model: "m", latencySeconds: 0.3, failed, costNanos: 1_000 });
    }
    // Now: one fast request.
    windows.record(t0, { model: "m", latencySeconds: 0.05, failed: false, costNanos: 250 });

    const [w] = windows.snapshot(t0);
    expect(w).toMatchObject({
      model: "m",
      requests1m: 1n,
      requests5m: 4n,
      errors5m: 1n,
      latencyBucketCounts5m: [1n, 3n, 0n, 0n],
      costNanos24h: 5_000_003_250n,
    });

    const figures = figuresOf(w ?? create(ModelWindowSchema), BOUNDS);
    expect(figures.requestsPerMinute).toBe(1);
    expect(figures.errorRate).toBe(0.25);
    // rank 3.96 of 4: 2.96 of the 3 in (0.1, 0.5].
    expect(figures.p99LatencySeconds).toBeCloseTo(0.1 + 0.4 * (2.96 / 3), 12);
    expect(moneyToNanos(figures.cost24h)).toBe(5_000_003_250n);
  });

  it("leaves p99 and error rate unset without requests in 5 minutes, and drops idle models", () => {
    const windows = createDashboardWindows(BOUNDS);
    windows.record(0, { model: "m", latencySeconds: 0.2, failed: false, costNanos: 7 });

    const [w] = windows.snapshot(600_000);
    const figures = figuresOf(w ?? create(ModelWindowSchema), BOUNDS);
    expect(figures.p99LatencySeconds).toBeUndefined();
    expect(figures.errorRate).toBeUndefined();
    expect(moneyToNanos(figures.cost24h)).toBe(7n);

    expect(windows.snapshot(24 * 3_600_000 + 60_000)).toEqual([]);
  });

  it("adds replicas' windows bucket by bucket", () => {
    const a = create(ModelWindowSchema, {
      model: "m",
      requests1m: 1n,
      requests5m: 2n,
      errors5m: 1n,
      latencyBucketCounts5m: [1n, 1n, 0n, 0n],
      costNanos24h: 10n,
    });
    const b = create(ModelWindowSchema, {
      model: "m",
      requests1m: 3n,
      requests5m: 3n,
      errors5m: 0n,
      latencyBucketCounts5m: [0n, 0n, 2n, 1n],
      costNanos24h: 5n,
    });

    expect(mergeWindows([a, b])).toMatchObject({
      model: "m",
      requests1m: 4n,
      requests5m: 5n,
      errors5m: 1n,
      latencyBucketCounts5m: [1n, 1n, 2n, 1n],
      costNanos24h: 15n,
    });
    const short = create(ModelWindowSchema, { model: "m", latencyBucketCounts5m: [1n] });
    expect(() => mergeWindows([a, short])).toThrow("different latency buckets");
  });
});
