import type { CatalogDeployment } from "./catalog.js";

/** What the balancer knows about one deployment right now. */
export interface DeploymentStats {
  /** Tries running against it now (streams count until they end). */
  inFlight: number;
  /** Exponentially weighted moving average of its latency to first output, in ms. */
  ewmaMs: number;
  /** Latencies observed so far (0: ewmaMs is still the catalog's expected latency). */
  samples: number;
}

export interface BalancerOptions {
  /** Weight of the newest latency in the moving average, 0..1 (default 0.3). */
  alpha?: number;
  /** Uniform random numbers in [0, 1); tests pass a seeded one. */
  random?: () => number;
}

/**
 * Orders a model's deployments for one request: weighted, and latency-aware by the power of
 * two choices. Two distinct deployments are drawn with probability proportional to their
 * catalog weight; the one with the lower cost, EWMA latency × (in-flight + 1), goes first
 * (a tie goes to the first drawn, so equal deployments share traffic by weight). The rest
 * are ordered the same way and serve as fallbacks; deployments whose breaker is open go last.
 *
 * Stats live for the process (a catalog reload keeps them) and are keyed by deployment id.
 * Latency is time to first output: the whole call for unary requests, the first text or
 * tool call for streams, so long answers do not read as slow deployments.
 */
export class Balancer {
  private readonly stats = new Map<string, DeploymentStats>();
  private readonly alpha: number;
  private readonly random: () => number;

  constructor(options: BalancerOptions = {}) {
    this.alpha = options.alpha ?? 0.3;
    this.random = options.random ?? Math.random;
  }

  /** The order to try the deployments in; `unavailable` ones (open breaker) go last. */
  order(
    deployments: readonly CatalogDeployment[],
    unavailable: (id: string) => boolean = () => false,
  ): CatalogDeployment[] {
    if (deployments.length < 2) return [...deployments];

    const remaining = [...deployments];
    const ordered: CatalogDeployment[] = [];
    while (remaining.length > 1) {
      const first = this.draw(remaining);
      const second = this.draw(remaining.filter((d) => d !== first));
      const winner = this.cost(second) < this.cost(first) ? second : first;
      ordered.push(winner);
      remaining.splice(remaining.indexOf(winner), 1);
    }
    ordered.push(...remaining);

    return [
      ...ordered.filter((d) => !unavailable(d.id)),
      ...ordered.filter((d) => unavailable(d.id)),
    ];
  }

  /** Marks a try as started; call the returned function exactly once when it ends. */
  begin(deployment: CatalogDeployment): () => void {
    const stats = this.statsOf(deployment);
    stats.inFlight++;
    let ended = false;
    return () => {
      if (ended) return;
      ended = true;
      stats.inFlight--;
    };
  }

  /** Records a successful try's latency to first output. */
  observe(deployment: CatalogDeployment, latencyMs: number): void {
    const stats = this.statsOf(deployment);
    stats.ewmaMs = stats.samples === 0
      ? latencyMs
      : this.alpha * latencyMs + (1 - this.alpha) * stats.ewmaMs;
    stats.samples++;
  }

  /** A copy of one deployment's stats (its expected latency when never used). */
  snapshot(deployment: CatalogDeployment): DeploymentStats {
    return { ...this.statsOf(deployment) };
  }

  /** Stats of every deployment seen so far, by id. */
  all(): ReadonlyMap<string, Readonly<DeploymentStats>> {
    return this.stats;
  }

  private cost(deployment: CatalogDeployment): number {
    const stats = this.statsOf(deployment);
    // 1 ms floor: a zero-latency estimate would make in-flight count for nothing.
    return Math.max(1, stats.ewmaMs) * (stats.inFlight + 1);
  }

  private draw(candidates: readonly CatalogDeployment[]): CatalogDeployment {
    const total = candidates.reduce((sum, d) => sum + d.weight, 0);
    let point = this.random() * total;
    for (const candidate of candidates) {
      point -= candidate.weight;
      if (point < 0) return candidate;
    }
    return candidates[candidates.length - 1] as CatalogDeployment;
  }

  private statsOf(deployment: CatalogDeployment): DeploymentStats {
    let stats = this.stats.get(deployment.id);
    if (!stats) {
      stats = { inFlight: 0, ewmaMs: deployment.expectedLatencyMs, samples: 0 };
      this.stats.set(deployment.id, stats);
    }
    return stats;
  }
}
