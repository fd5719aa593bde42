import { describe, expect, it } from "vitest";
import { Balancer } from "./balancer.js";
import type { CatalogDeployment } from "./catalog.js";

function deployment(name: string, weight: number, expectedLatencyMs = 100): CatalogDeployment {
  return {
    id: `m@${name}`,
    name,
    model: "m",
    provider: "simulator",
    upstreamModel: "m",
    baseUrl: undefined,
    apiKeyEnv: undefined,
    apiKey: undefined,
    standby: false,
    weight,
    timeouts: {},
    expectedLatencyMs,
    enabled: true,
    disabledReason: undefined,
  };
}

/** A deterministic PRNG (mulberry32), so the shares below are exact run after run. */
function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

function firstPicks(balancer: Balancer, deployments: CatalogDeployment[], n: number) {
  const counts: Record<string, number> = {};
  for (let i = 0; i < n; i++) {
    const first = balancer.order(deployments)[0]?.name ?? "none";
    counts[first] = (counts[first] ?? 0) + 1;
  }
  return counts;
}

describe("Balancer", () => {
  it("shares traffic by weight between deployments of equal latency and load", () => {
    const balancer = new Balancer({ random: seeded(7) });
    const deployments = [deployment("a", 3), deployment("b", 1)];

    const counts = firstPicks(balancer, deployments, 4_000);

    // Expected share of "a" is 3/4; the seeded draw gives exactly this split.
    expect(counts).toEqual({ a: 3_021, b: 979 });
  });

  it("puts the deployment with the lower latency first (power of two choices)", () => {
    const balancer = new Balancer({ random: seeded(1) });
    const fast = deployment("fast", 1);
    const slow = deployment("slow", 1);
    balancer.observe(fast, 20);
    balancer.observe(slow, 200);

    expect(firstPicks(balancer, [slow, fast], 200)).toEqual({ fast: 200 });
  });

  it("moves traffic off a deployment with many calls in flight", () => {
    const balancer = new Balancer({ random: seeded(1) });
    const fast = deployment("fast", 1);
    const slow = deployment("slow", 1);
    balancer.observe(fast, 20);
    balancer.observe(slow, 200);
    // 20 ms × (10 + 1) = 220 > 200 ms × (0 + 1).
    const ends = Array.from({ length: 10 }, () => balancer.begin(fast));

    expect(balancer.order([fast, slow]).map((d) => d.name)).toEqual(["slow", "fast"]);

    for (const end of ends) end();
    expect(balancer.order([fast, slow]).map((d) => d.name)).toEqual(["fast", "slow"]);
    expect(balancer.snapshot(fast).inFlight).toBe(0);
  });

  it("averages latency with weight 0.3 on the newest sample", () => {
    const balancer = new Balancer();
    const d = deployment("a", 1, 500);

    expect(balancer.snapshot(d)).toEqual({ inFlight: 0, ewmaMs: 500, samples: 0 });
    balancer.observe(d, 100);
    balancer.observe(d, 200);

    expect(balancer.snapshot(d)).toEqual({ inFlight: 0, ewmaMs: 130, samples: 2 });
  });

  it("puts deployments whose breaker is open last", () => {
    const balancer = new Balancer({ random: () => 0 });
    const [a, b, c] = [deployment("a", 1), deployment("b", 1), deployment("c", 1)];

    const order = balancer.order([a, b, c] as CatalogDeployment[], (id) => id === "m@a");

    expect(order.map((d) => d.name)).toEqual(["b", "c", "a"]);
  });
});
