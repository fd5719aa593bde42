import { create } from "@bufbuild/protobuf";
import {
  DashboardFiguresSchema,
  ModelWindowSchema,
  type DashboardFigures,
  type ModelWindow,
} from "@mesh/contracts/metrics/v1/metrics_pb";
import { usdFromNanos } from "@mesh/money";
import { SlidingSums } from "./sliding-sums.js";

const MINUTE_MS = 60_000;
const FIVE_MINUTES_MS = 5 * MINUTE_MS;
const DAY_MS = 24 * 60 * MINUTE_MS;

// Fields of the per-second ring; the latency buckets follow the fixed ones.
const REQUESTS = 0;
const ERRORS = 1;
const FIRST_BUCKET = 2;

/**
 * One replica's counts behind the dashboard figures, per model: requests and errors by the
 * second over 5 minutes, with a latency histogram, and cost by the minute over 24 hours.
 * About (2 + buckets) × 300 + 1,440 numbers per model, so ~50 KB for each.
 */
export interface DashboardWindows {
  record(nowMs: number, entry: WindowEntry): void;
  /** The raw counts, mergeable across replicas. */
  snapshot(nowMs: number): ModelWindow[];
}

/** What one finished request adds to the windows. */
export interface WindowEntry {
  model: string;
  latencySeconds: number;
  failed: boolean;
  costNanos: number;
}

export function createDashboardWindows(latencyBounds: readonly number[]): DashboardWindows {
  const byModel = new Map<string, { seconds: SlidingSums; minutes: SlidingSums }>();
  const fields = FIRST_BUCKET + latencyBounds.length + 1;

  function record(nowMs: number, entry: WindowEntry): void {
    let rings = byModel.get(entry.model);
    if (!rings) {
      rings = {
        seconds: new SlidingSums(1_000, 300, fields),
        minutes: new SlidingSums(60_000, 1_440, 1),
      };
      byModel.set(entry.model, rings);
    }

    rings.seconds.add(nowMs, REQUESTS, 1);
    if (entry.failed) rings.seconds.add(nowMs, ERRORS, 1);
    rings.seconds.add(nowMs, FIRST_BUCKET + bucketIndex(latencyBounds, entry.latencySeconds), 1);
    rings.minutes.add(nowMs, 0, entry.costNanos);
  }

  function snapshot(nowMs: number): ModelWindow[] {
    const out: ModelWindow[] = [];
    for (const [model, rings] of [...byModel].sort(([a], [b]) => a.localeCompare(b))) {
      if (rings.minutes.idleFor(nowMs, DAY_MS)) {
        // A model gone from the catalog stops costing memory a day after its last request.
        byModel.delete(model);
        continue;
      }

      const five = rings.seconds.sum(nowMs, FIVE_MINUTES_MS);
      const one = rings.seconds.sum(nowMs, MINUTE_MS);
      out.push(
        create(ModelWindowSchema, {
          model,
          requests1m: BigInt(one[REQUESTS] ?? 0),
          requests5m: BigInt(five[REQUESTS] ?? 0),
          errors5m: BigInt(five[ERRORS] ?? 0),
          latencyBucketCounts5m: [...five.subarray(FIRST_BUCKET)].map((n) => BigInt(n)),
          costNanos24h: BigInt(Math.round(rings.minutes.sum(nowMs, DAY_MS)[0] ?? 0)),
        }),
      );
    }
    return out;
  }

  return { record, snapshot };
}

/** Index of the first bucket whose upper bound holds the value (Prometheus's `le`). */
function bucketIndex(bounds: readonly number[], value: number): number {
  const i = bounds.findIndex((bound) => value <= bound);
  return i === -1 ? bounds.length : i;
}

/**
 * Adds up windows of the same model from several replicas. Throws when two replicas use
 * different latency buckets, because their counts cannot be added.
 */
export function mergeWindows(windows: readonly ModelWindow[]): ModelWindow {
  const merged = create(ModelWindowSchema, { model: windows[0]?.model ?? "" });
  for (const w of windows) {
    if (merged.latencyBucketCounts5m.length === 0) {
      merged.latencyBucketCounts5m = w.latencyBucketCounts5m.map(() => 0n);
    }
    if (w.latencyBucketCounts5m.length !== merged.latencyBucketCounts5m.length) {
      throw new Error("replicas use different latency buckets; run one version of the service");
    }

    merged.requests1m += w.requests1m;
    merged.requests5m += w.requests5m;
    merged.errors5m += w.errors5m;
    merged.costNanos24h += w.costNanos24h;
    w.latencyBucketCounts5m.forEach((n, i) => {
      merged.latencyBucketCounts5m[i] = (merged.latencyBucketCounts5m[i] ?? 0n) + n;
    });
  }
  return merged;
}

/** The four figures from a window's counts. */
export function figuresOf(window: ModelWindow, bounds: readonly number[]): DashboardFigures {
  const requests = Number(window.requests5m);
  const counts = window.latencyBucketCounts5m.map(Number);

  return create(DashboardFiguresSchema, {
    requestsPerMinute: Number(window.requests1m),
    p99LatencySeconds: requests > 0 ? bucketQuantile(0.99, bounds, counts) : undefined,
    errorRate: requests > 0 ? Number(window.errors5m) / requests : undefined,
    cost24h: usdFromNanos(window.costNanos24h),
    requests5m: window.requests5m,
    errors5m: window.errors5m,
  });
}

/**
 * The q-quantile of a histogram the way Prometheus's histogram_quantile computes it, so the
 * console and Grafana agree: linear interpolation inside the bucket where the rank falls,
 * from 0 for the first bucket; a rank in the +Inf bucket gives the highest finite bound.
 *
 * @param bounds finite upper bounds, ascending
 * @param counts non-cumulative counts, one per bound and one for +Inf
 */
export function bucketQuantile(q: number, bounds: readonly number[], counts: readonly number[]) {
  const cumulative: number[] = [];
  let running = 0;
  for (const n of counts) cumulative.push((running += n));
  const total = running;
  if (total === 0) return Number.NaN;

  const rank = q * total;
  let b = cumulative.findIndex((c, i) => i < bounds.length && c >= rank);
  if (b === -1) b = bounds.length;
  if (b === bounds.length) return bounds[bounds.length - 1] ?? Number.NaN;

  const start = b === 0 ? 0 : (bounds[b - 1] ?? 0);
  const end = bounds[b] ?? 0;
  const below = b === 0 ? 0 : (cumulative[b - 1] ?? 0);
  const inBucket = (cumulative[b] ?? 0) - below;
  return start + (end - start) * ((rank - below) / inBucket);
}
