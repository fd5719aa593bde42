import type { Logger } from "@mesh/logging";
import { Counter, Gauge, Registry } from "prom-client";

/** One budget's current window, as the /metrics gauges show it. */
export interface BudgetGaugeRow {
  tenant: string;
  apiKeyId: string;
  period: string;
  remainingNanos: bigint;
  reservedNanos: bigint;
  usedFraction: number;
}

/** What a scrape reads from Postgres. */
export interface BudgetGaugeSource {
  budgets(limit: number): Promise<BudgetGaugeRow[]>;
  reservationsInFlight(): Promise<number>;
}

/**
 * The ledger's Prometheus metrics, in a registry of its own (several ledgers can run in one
 * test process). Labels stay bounded: scope, period and threshold come from small fixed sets;
 * tenant and api_key_id appear only on the budget gauges, one series per configured budget,
 * capped at LEDGER_METRICS_MAX_BUDGETS.
 */
export interface LedgerMetrics {
  readonly registry: Registry;
  /** Alerts fired by this replica (each alert fires on exactly one replica). */
  readonly alertsFired: Counter<"scope" | "period" | "threshold">;
  /** Webhook delivery runs by outcome: delivered, failed. */
  readonly alertDeliveries: Counter<"result">;
  /** ReserveBudget calls refused with budget_exceeded, by the budget that refused. */
  readonly budgetRefusals: Counter<"scope" | "period">;
  /** Reservations this replica expired after their time to live. */
  readonly reservationsExpired: Counter;
  /** Refreshes the gauges from Postgres, then renders the registry as Prometheus text. */
  render(): Promise<string>;
}

/** Creates the ledger's metrics; the gauges read `source` on every scrape. */
export function createLedgerMetrics(
  source: BudgetGaugeSource,
  logger: Logger,
  maxBudgets: number,
): LedgerMetrics {
  const registry = new Registry();
  const budgetLabels = ["tenant", "api_key_id", "period"] as const;

  const alertsFired = new Counter({
    name: "ai_budget_alerts_total",
    help: "Budget threshold alerts fired, each once per budget, window and threshold",
    labelNames: ["scope", "period", "threshold"] as const,
    registers: [registry],
  });
  const alertDeliveries = new Counter({
    name: "ai_budget_alert_deliveries_total",
    help: "Budget alert webhook delivery runs (each with retries) by result",
    labelNames: ["result"] as const,
    registers: [registry],
  });
  const budgetRefusals = new Counter({
    name: "ai_budget_refusals_total",
    help: "Reservations refused because a budget could not cover them",
    labelNames: ["scope", "period"] as const,
    registers: [registry],
  });
  const reservationsExpired = new Counter({
    name: "ai_budget_reservations_expired_total",
    help: "Reservations released by the ledger after their time to live",
    registers: [registry],
  });
  const remaining = new Gauge({
    name: "ai_budget_remaining_usd",
    help: "Budget left in the current UTC window (limit - spent - reserved), in USD",
    labelNames: budgetLabels,
    registers: [registry],
  });
  const reserved = new Gauge({
    name: "ai_budget_reserved_usd",
    help: "Budget held by reservations in flight in the current UTC window, in USD",
    labelNames: budgetLabels,
    registers: [registry],
  });
  const used = new Gauge({
    name: "ai_budget_used_ratio",
    help: "(spent + reserved) / limit of the current UTC window, money or tokens, the higher",
    labelNames: budgetLabels,
    registers: [registry],
  });
  const inFlight = new Gauge({
    name: "ai_budget_reservations_in_flight",
    help: "Reservations held and not yet expired, all tenants",
    registers: [registry],
  });

  async function refresh(): Promise<void> {
    const [rows, held] = await Promise.all([
      source.budgets(maxBudgets),
      source.reservationsInFlight(),
    ]);

    for (const gauge of [remaining, reserved, used]) gauge.reset();
    for (const row of rows) {
      const labels = { tenant: row.tenant, api_key_id: row.apiKeyId, period: row.period };
      remaining.set(labels, usd(row.remainingNanos));
      reserved.set(labels, usd(row.reservedNanos));
      used.set(labels, row.usedFraction);
    }
    inFlight.set(held);
    if (rows.length >= maxBudgets) {
      logger.warn({ maxBudgets }, "more budgets than LEDGER_METRICS_MAX_BUDGETS; gauges cut");
    }
  }

  return {
    registry,
    alertsFired,
    alertDeliveries,
    budgetRefusals,
    reservationsExpired,
    async render() {
      try {
        await refresh();
      } catch (err) {
        // Counters are still worth serving while Postgres is away; the gauges keep old values.
        logger.warn({ err }, "could not read budgets for /metrics");
      }
      return registry.metrics();
    },
  };
}

// Gauges are floats, fine for dashboards and alert rules; exact figures stay in Postgres.
function usd(nanos: bigint): number {
  return Number(nanos) / 1e9;
}
