import { BudgetPeriod } from "@mesh/contracts/ledger/v1/ledger_pb";

/** A budget's window as stored in Postgres: a UTC calendar day or month. */
export type Period = "day" | "month";

/** Both periods, in the order budgets are listed. */
export const PERIODS: readonly Period[] = ["day", "month"];

/** The first instant of the UTC calendar window holding `at`. */
export function windowStart(period: Period, at: Date): Date {
  const year = at.getUTCFullYear();
  const month = at.getUTCMonth();
  if (period === "month") return new Date(Date.UTC(year, month, 1));

  return new Date(Date.UTC(year, month, at.getUTCDate()));
}

/** The first instant after the window that starts at `start` (exclusive end). */
export function windowEnd(period: Period, start: Date): Date {
  const year = start.getUTCFullYear();
  const month = start.getUTCMonth();
  if (period === "month") return new Date(Date.UTC(year, month + 1, 1));

  return new Date(Date.UTC(year, month, start.getUTCDate() + 1));
}

/** The wire enum of a stored period. */
export function periodToProto(period: Period): BudgetPeriod {
  return period === "day" ? BudgetPeriod.DAY : BudgetPeriod.MONTH;
}

/** The stored period of a wire enum; undefined for UNSPECIFIED or an unknown value. */
export function periodFromProto(period: BudgetPeriod): Period | undefined {
  if (period === BudgetPeriod.DAY) return "day";
  if (period === BudgetPeriod.MONTH) return "month";
  return undefined;
}

/** "daily" or "monthly", for messages. */
export function periodAdjective(period: Period): string {
  return period === "day" ? "daily" : "monthly";
}
