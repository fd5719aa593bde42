import { randomUUID } from "node:crypto";
import type { Logger } from "@mesh/logging";
import { formatUsd } from "@mesh/money";
import { GrpcStatus, RpcError } from "@mesh/rpc";
import type pg from "pg";
import {
  insertAlerts,
  thresholdReached,
  type AlertCandidate,
  type FiredAlert,
} from "./alerts.js";
import type { BudgetDirectory } from "./budget-directory.js";
import {
  applyDeltas,
  budgetFromDb,
  DeltaMap,
  expireTenantReservations,
  lockNamespace,
  totalsFromDb,
  windowKeyText,
  withTenantLocks,
  type BudgetRow,
  type Charge,
  type WindowKey,
  type WindowTotals,
} from "./budget-sql.js";
import {
  periodAdjective,
  windowEnd,
  windowStart,
  type Period,
} from "./budget-windows.js";
import type { LedgerMetrics } from "./metrics.js";

/** A budget with its current window's totals. */
export interface BudgetSnapshot {
  budget: BudgetRow;
  windowStart: Date;
  windowEnd: Date;
  totals: WindowTotals;
  /** Thresholds in effect: the budget's own, else the ledger's default. */
  alertPercents: number[];
  /** max(0, limit - spent - reserved). */
  remainingNanos: bigint;
  /** (spent + reserved) / limit of money or tokens, whichever is higher. */
  usedFraction: number;
}

/** A reservation as stored. */
export interface ReservationRow {
  reservationId: string;
  requestId: string;
  tenant: string;
  apiKeyId: string;
  model: string;
  amountNanos: bigint;
  tokens: bigint;
  state: ReservationStateText;
  createdAt: Date;
  expiresAt: Date;
}

/** budget_reservations.state. */
export type ReservationStateText = "held" | "settled" | "released" | "expired" | "replaced";

/** A validated ReserveBudget request. */
export interface ReserveInput {
  requestId: string;
  tenant: string;
  apiKeyId: string;
  model: string;
  amountNanos: bigint;
  tokens: bigint;
  /** "" when nothing is replaced. */
  replacesReservationId: string;
}

/** What ReserveBudget answers. */
export type ReserveOutcome =
  | { kind: "no_budget" }
  | {
      kind: "reserved";
      reservationId: string;
      expiresAt: Date;
      /** The request's budgets after the reservation. */
      budgets: BudgetSnapshot[];
    };

/** A validated SetBudget request. */
export interface BudgetInput {
  tenant: string;
  apiKeyId: string;
  period: Period;
  limitNanos: bigint;
  limitTokens: bigint | null;
  alertPercents: number[];
}

/** Totals and page of reservations in flight. */
export interface ReservationList {
  reservations: ReservationRow[];
  totalCount: bigint;
  totalAmountNanos: bigint;
}

/** Settings of the budget store. */
export interface BudgetStoreOptions {
  pool: pg.Pool;
  schema: string;
  logger: Logger;
  metrics: LedgerMetrics;
  reservationTtlMs: number;
  defaultAlertPercents: number[];
  /** Whether fired alerts will be posted (a webhook is configured) and for how long to lease. */
  alertDelivery: { deliver: boolean; leaseMs: number };
  /** Called after a transaction that fired alerts commits. */
  onAlerts(alerts: FiredAlert[]): void;
  /** Learns of budget changes: announced in their transaction, recorded after commit. */
  directory: Pick<BudgetDirectory, "channel" | "added" | "removed">;
}

/** Budgets, reservations and their settlement, atomic in Postgres across ledger replicas. */
export interface BudgetStore {
  reserve(input: ReserveInput): Promise<ReserveOutcome>;
  /** Releases a held reservation; false when it was already closed. NOT_FOUND when unknown. */
  release(reservationId: string): Promise<{ released: boolean; state: ReservationStateText }>;
  /**
   * The trailing parameters of ledger_settle(namespace, rows, default percents, delivery,
   * lease ms) after `rows`, for the writer's insert statement.
   */
  settleParams(): { namespace: number; tail: unknown[] };
  /** Handles what ledger_settle returned, once its statement committed. */
  settled(result: SettleJson): void;
  setBudget(input: BudgetInput): Promise<BudgetSnapshot>;
  deleteBudget(tenant: string, apiKeyId: string, period: Period): Promise<boolean>;
  /**
   * Budgets with their current windows. `apiKeyId` undefined lists all of the tenant's;
   * a string lists the tenant-wide ones plus that key's ("" = tenant-wide only).
   */
  listBudgets(tenant: string, apiKeyId: string | undefined, limit?: number): Promise<
    BudgetSnapshot[]
  >;
  listReservations(tenant: string, apiKeyId: string, limit: number): Promise<ReservationList>;
  /** Expires every tenant's overdue reservations; returns how many. */
  expireDue(): Promise<number>;
  /** Expires one tenant's overdue reservations, if any, before a read. */
  expireTenant(tenant: string): Promise<void>;
}

interface ReservationDbRow {
  reservation_id: string;
  request_id: string;
  tenant: string;
  api_key_id: string;
  model: string;
  amount_nanos: string;
  tokens: string;
  charges: Charge[];
  state: ReservationStateText;
  created_at: Date;
  expires_at: Date;
}

const RESERVATION_COLUMNS = `reservation_id, request_id, tenant, api_key_id, model,
  amount_nanos::text AS amount_nanos, tokens::text AS tokens, charges, state, created_at,
  expires_at`;

/** Creates the budget store over the ledger's pool and schema. */
export function createBudgetStore(options: BudgetStoreOptions): BudgetStore {
  const { pool, logger, metrics, directory } = options;
  const namespace = lockNamespace(options.schema);
  const defaults = normalizePercents(options.defaultAlertPercents);

  const percentsOf = (b: BudgetRow) =>
    b.alertPercents.length > 0 ? normalizePercents(b.alertPercents) : defaults;

  function snapshot(budget: BudgetRow, start: Date, totals: WindowTotals): BudgetSnapshot {
    const used = totals.spentNanos + totals.reservedNanos;
    const remaining = budget.limitNanos - used;
    let fraction = ratio(used, budget.limitNanos);
    if (budget.limitTokens !== null) {
      const usedTokens = totals.spentTokens + totals.reservedTokens;
      fraction = Math.max(fraction, ratio(usedTokens, budget.limitTokens));
    }

    return {
      budget,
      windowStart: start,
      windowEnd: windowEnd(budget.period, start),
      totals,
      alertPercents: percentsOf(budget),
      remainingNanos: remaining > 0n ? remaining : 0n,
      usedFraction: fraction,
    };
  }

  function keyOf(budget: BudgetRow, start: Date): WindowKey {
    return {
      tenant: budget.tenant,
      apiKeyId: budget.apiKeyId,
      period: budget.period,
      windowStart: start.toISOString(),
    };
  }

  async function reserve(input: ReserveInput): Promise<ReserveOutcome> {
    const result = await pool.query<{ r: ReserveJson }>(
      "SELECT ledger_reserve($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) AS r",
      [
        namespace,
        randomUUID(),
        input.requestId,
        input.tenant,
        input.apiKeyId,
        input.model,
        input.amountNanos.toString(),
        input.tokens.toString(),
        input.replacesReservationId,
        options.reservationTtlMs,
      ],
    );
    const r = result.rows[0]!.r;
    countExpired(r.expired);

    switch (r.outcome) {
      case "reserved":
      case "existing":
        return {
          kind: "reserved",
          reservationId: r.reservation_id!,
          expiresAt: new Date(r.expires_at!),
          budgets: (r.budgets ?? []).map((w) => snapshotFromJson(input.tenant, w)),
        };
      case "no_budget":
        return { kind: "no_budget" };
      case "refused":
        throw refusalError(input, r.refusal!);
      case "exists_different":
        throw new RpcError(
          GrpcStatus.FAILED_PRECONDITION,
          `request ${input.requestId} already holds reservation ${r.reservation_id}; pass it ` +
            "as replaces_reservation_id to swap it, or release it first",
          "reservation_exists",
        );
      case "replaced_not_found":
        throw new RpcError(
          GrpcStatus.NOT_FOUND,
          `reservation ${input.replacesReservationId} does not exist; reserve without ` +
            "replaces_reservation_id",
          "reservation_not_found",
        );
      case "replaced_other_request":
        throw new RpcError(
          GrpcStatus.INVALID_ARGUMENT,
          `reservation ${input.replacesReservationId} belongs to another request; only a ` +
            `reservation of request ${input.requestId} can be replaced`,
          "invalid_reservation",
        );
    }
  }

  function snapshotFromJson(tenant: string, w: WindowJson): BudgetSnapshot {
    const budget: BudgetRow = {
      tenant,
      apiKeyId: w.k,
      period: w.p,
      limitNanos: BigInt(w.limit),
      limitTokens: w.limit_tokens === null ? null : BigInt(w.limit_tokens),
      alertPercents: w.percents,
    };
    return snapshot(budget, new Date(w.w), {
      spentNanos: BigInt(w.spent),
      reservedNanos: BigInt(w.reserved),
      spentTokens: BigInt(w.spent_tokens),
      reservedTokens: BigInt(w.reserved_tokens),
    });
  }

  // The refusal names the budget, what is left of it and what the request needed.
  function refusalError(input: ReserveInput, refusal: RefusalJson): BudgetExceededError {
    const budget: BudgetRow = {
      tenant: input.tenant,
      apiKeyId: refusal.k,
      period: refusal.p,
      limitNanos: BigInt(refusal.limit),
      limitTokens: refusal.limit_tokens === null ? null : BigInt(refusal.limit_tokens),
      alertPercents: [],
    };
    const scope = budget.apiKeyId ? "api_key" : "tenant";
    metrics.budgetRefusals.inc({ scope, period: budget.period });

    const start = new Date(refusal.w);
    const who = budgetOwner(budget);
    const window = windowLabel(budget.period, start);
    const adjective = periodAdjective(budget.period);
    const leftRaw = BigInt(refusal.left);
    const left = leftRaw > 0n ? leftRaw : 0n;
    // Waiting helps only when a fresh window could cover the request.
    const waitMs = (fits: boolean) =>
      fits ? Math.max(0, windowEnd(budget.period, start).getTime() - Date.now()) : undefined;

    if (refusal.reason === "money") {
      return new BudgetExceededError(
        budget,
        `${who} has $${formatUsd(left)} of its ${adjective} budget of ` +
          `$${formatUsd(budget.limitNanos)} left (${window}); this request needs up to ` +
          `$${formatUsd(input.amountNanos)}. Wait for the next window or raise the budget`,
        waitMs(input.amountNanos <= budget.limitNanos),
      );
    }
    const limitTokens = budget.limitTokens ?? 0n;
    return new BudgetExceededError(
      budget,
      `${who} has ${left} of its ${adjective} budget of ${limitTokens} tokens left ` +
        `(${window}); this request needs up to ${input.tokens} tokens. Wait for the next ` +
        "window or raise the budget",
      waitMs(input.tokens <= limitTokens),
    );
  }

  function countExpired(count: number): void {
    if (count === 0) return;

    metrics.reservationsExpired.inc(count);
    logger.info({ reservations: count }, "expired reservations released");
  }

  async function release(reservationId: string) {
    const found = await pool.query<{ tenant: string }>(
      "SELECT tenant FROM budget_reservations WHERE reservation_id = $1",
      [reservationId],
    );
    const tenant = found.rows[0]?.tenant;
    if (tenant === undefined) {
      throw new RpcError(
        GrpcStatus.NOT_FOUND,
        `reservation ${reservationId} does not exist; pass the id ReserveBudget returned`,
        "reservation_not_found",
      );
    }

    return withTenantLocks(pool, namespace, [tenant], async (client) => {
      const result = await client.query<ReservationDbRow>(
        `UPDATE budget_reservations SET state = 'released', closed_at = now()
          WHERE reservation_id = $1 AND state = 'held'
      RETURNING ${RESERVATION_COLUMNS}`,
        [reservationId],
      );
      const row = result.rows[0];
      if (!row) {
        const current = await client.query<{ state: ReservationStateText }>(
          "SELECT state FROM budget_reservations WHERE reservation_id = $1",
          [reservationId],
        );
        return { released: false, state: current.rows[0]!.state };
      }

      const deltas = new DeltaMap();
      deltas.release(row.tenant, row.charges, BigInt(row.amount_nanos), BigInt(row.tokens));
      await applyDeltas(client, deltas);
      return { released: true, state: "released" as const };
    });
  }

  function settled(result: SettleJson): void {
    for (const u of result.unmatched) {
      // The usage is billed anyway: losing a row would be worse than a stray reservation.
      logger.warn(
        { requestId: u.q, reservationId: u.r },
        "usage row names a reservation that is not held; spend counted without it",
      );
    }
    options.onAlerts(result.alerts.map(alertFromJson));
  }

  function candidate(b: BudgetRow, start: string, percent: number, spent: bigint): AlertCandidate {
    return {
      tenant: b.tenant,
      apiKeyId: b.apiKeyId,
      period: b.period,
      windowStart: start,
      thresholdPercent: percent,
      limitNanos: b.limitNanos,
      spentNanos: spent,
    };
  }

  async function setBudget(input: BudgetInput): Promise<BudgetSnapshot> {
    const result = await withTenantLocks(pool, namespace, [input.tenant], async (client, now) => {
      const existed = await client.query(
        "SELECT 1 FROM budgets WHERE tenant = $1 AND api_key_id = $2 AND period = $3",
        [input.tenant, input.apiKeyId, input.period],
      );
      const upserted = await client.query(
        `INSERT INTO budgets (tenant, api_key_id, period, limit_nanos, limit_tokens,
                              alert_percents)
         VALUES ($1, $2, $3, $4, $5, $6::int[])
         ON CONFLICT (tenant, api_key_id, period) DO UPDATE
            SET limit_nanos = EXCLUDED.limit_nanos, limit_tokens = EXCLUDED.limit_tokens,
                alert_percents = EXCLUDED.alert_percents, updated_at = now()
         RETURNING tenant, api_key_id, period, limit_nanos::text AS limit_nanos,
                   limit_tokens::text AS limit_tokens, alert_percents`,
        [
          input.tenant,
          input.apiKeyId,
          input.period,
          input.limitNanos.toString(),
          input.limitTokens?.toString() ?? null,
          input.alertPercents,
        ],
      );
      const budget = budgetFromDb(upserted.rows[0]);
      const start = windowStart(budget.period, now);
      await announce(client, budget.tenant);

      // A new budget starts from what the window has already spent; later rows add to it.
      if (existed.rowCount === 0) await recountWindow(client, budget, start);
      const deltas = new DeltaMap();
      deltas.at(keyOf(budget, start));
      const totals = (await applyDeltas(client, deltas)).get(windowKeyText(keyOf(budget, start)))!;

      const reached = percentsOf(budget).filter((p) =>
        thresholdReached(budget.limitNanos, p, totals.spentNanos),
      );
      const alerts = await insertAlerts(
        client,
        reached.map((p) => candidate(budget, start.toISOString(), p, totals.spentNanos)),
        options.alertDelivery,
      );
      return { snapshot: snapshot(budget, start, totals), alerts };
    });

    options.onAlerts(result.alerts);
    // Before the caller hears of the budget, so requests it sends next already reserve.
    await directory.added(input.tenant);
    return result.snapshot;
  }

  // Other replicas reload their directory when this transaction commits (NOTIFY waits for it).
  async function announce(client: pg.ClientBase, tenant: string): Promise<void> {
    if (directory.channel === undefined) return;

    await client.query("SELECT pg_notify($1, $2)", [directory.channel, tenant]);
  }

  async function recountWindow(client: pg.ClientBase, budget: BudgetRow, start: Date) {
    const end = windowEnd(budget.period, start);
    await client.query(
      `INSERT INTO budget_usage (tenant, api_key_id, period, window_start, spent_nanos,
                                 spent_tokens)
       SELECT $1, $2, $3, $4::timestamptz, COALESCE(SUM(cost_nanos), 0),
              COALESCE(SUM(input_tokens + output_tokens + cache_read_tokens
                           + cache_write_tokens), 0)
         FROM usage_records
        WHERE tenant = $1 AND ($2 = '' OR api_key_id = $2)
          AND started_at >= $4::timestamptz AND started_at < $5::timestamptz
       ON CONFLICT (tenant, api_key_id, period, window_start) DO UPDATE
          SET spent_nanos = EXCLUDED.spent_nanos, spent_tokens = EXCLUDED.spent_tokens`,
      [budget.tenant, budget.apiKeyId, budget.period, start.toISOString(), end.toISOString()],
    );
  }

  async function deleteBudget(tenant: string, apiKeyId: string, period: Period) {
    const deleted = await withTenantLocks(pool, namespace, [tenant], async (client) => {
      const result = await client.query(
        "DELETE FROM budgets WHERE tenant = $1 AND api_key_id = $2 AND period = $3",
        [tenant, apiKeyId, period],
      );
      const found = (result.rowCount ?? 0) > 0;
      if (found) await announce(client, tenant);
      return found;
    });

    if (deleted) await directory.removed(tenant);
    return deleted;
  }

  async function listBudgets(
    tenant: string,
    apiKeyId: string | undefined,
    limit = 10_000,
  ): Promise<BudgetSnapshot[]> {
    const result = await pool.query<BudgetWindowDbRow>(
      `SELECT b.tenant, b.api_key_id, b.period, b.limit_nanos::text AS limit_nanos,
              b.limit_tokens::text AS limit_tokens, b.alert_percents, w.start AS window_start,
              COALESCE(u.spent_nanos, 0)::text AS spent_nanos,
              COALESCE(u.reserved_nanos, 0)::text AS reserved_nanos,
              COALESCE(u.spent_tokens, 0)::text AS spent_tokens,
              COALESCE(u.reserved_tokens, 0)::text AS reserved_tokens
         FROM budgets b
         CROSS JOIN LATERAL (SELECT date_trunc(b.period, now(), 'UTC') AS start) w
         LEFT JOIN budget_usage u
           ON u.tenant = b.tenant AND u.api_key_id = b.api_key_id AND u.period = b.period
          AND u.window_start = w.start
        WHERE ($1 = '' OR b.tenant = $1) AND ($2::text IS NULL OR b.api_key_id IN ('', $2))
        ORDER BY b.tenant, b.api_key_id, b.period
        LIMIT $3`,
      [tenant, apiKeyId ?? null, limit],
    );
    return result.rows.map((row) =>
      snapshot(budgetFromDb(row), row.window_start, totalsFromDb(row)),
    );
  }

  async function listReservations(
    tenant: string,
    apiKeyId: string,
    limit: number,
  ): Promise<ReservationList> {
    const result = await pool.query<ReservationDbRow & { n: string; total: string }>(
      `SELECT ${RESERVATION_COLUMNS}, count(*) OVER ()::text AS n,
              sum(amount_nanos) OVER ()::text AS total
         FROM budget_reservations
        WHERE state = 'held' AND expires_at > now()
          AND ($1 = '' OR tenant = $1) AND ($2 = '' OR api_key_id = $2)
        ORDER BY created_at, reservation_id
        LIMIT $3`,
      [tenant, apiKeyId, limit],
    );

    // The window totals ride on every row; with no row, nothing is in flight.
    const first = result.rows[0];
    return {
      reservations: result.rows.map(reservationFromDb),
      totalCount: BigInt(first?.n ?? "0"),
      totalAmountNanos: BigInt(first?.total ?? "0"),
    };
  }

  async function expireTenant(tenant: string): Promise<void> {
    const due = await pool.query(
      `SELECT 1 FROM budget_reservations
        WHERE tenant = $1 AND state = 'held' AND expires_at <= now() LIMIT 1`,
      [tenant],
    );
    if (due.rowCount === 0) return;

    await expireLocked(tenant);
  }

  async function expireDue(): Promise<number> {
    const due = await pool.query<{ tenant: string }>(
      `SELECT DISTINCT tenant FROM budget_reservations
        WHERE state = 'held' AND expires_at <= now() LIMIT 100`,
    );
    let count = 0;
    for (const { tenant } of due.rows) count += await expireLocked(tenant);
    return count;
  }

  async function expireLocked(tenant: string): Promise<number> {
    const ids = await withTenantLocks(pool, namespace, [tenant], async (client) => {
      const deltas = new DeltaMap();
      const expired = await expireTenantReservations(client, tenant, deltas);
      await applyDeltas(client, deltas);
      return expired;
    });
    countExpired(ids.length);
    return ids.length;
  }

  return {
    reserve,
    release,
    settleParams: () => ({
      namespace,
      tail: [
        defaults,
        options.alertDelivery.deliver ? "pending" : "skipped",
        options.alertDelivery.leaseMs,
      ],
    }),
    settled,
    setBudget,
    deleteBudget,
    listBudgets,
    listReservations,
    expireDue,
    expireTenant,
  };
}

/** What ledger_settle returns (see the budgets migration). */
export interface SettleJson {
  alerts: AlertJson[];
  /** Rows whose reservation was not held: q = request id, r = reservation id. */
  unmatched: Array<{ q: string; r: string }>;
}

interface AlertJson {
  alert_id: string;
  tenant: string;
  api_key_id: string;
  period: Period;
  window_start: string;
  threshold_percent: number;
  limit_nanos: string;
  spent_nanos: string;
  fired_at: string;
}

function alertFromJson(a: AlertJson): FiredAlert {
  return {
    alertId: a.alert_id,
    tenant: a.tenant,
    apiKeyId: a.api_key_id,
    period: a.period,
    windowStart: new Date(a.window_start).toISOString(),
    thresholdPercent: a.threshold_percent,
    limitNanos: BigInt(a.limit_nanos),
    spentNanos: BigInt(a.spent_nanos),
    firedAt: new Date(a.fired_at),
  };
}

// What ledger_reserve returns (see the budgets migration); bigints travel as text.
interface ReserveJson {
  outcome:
    | "reserved"
    | "existing"
    | "no_budget"
    | "refused"
    | "exists_different"
    | "replaced_not_found"
    | "replaced_other_request";
  expired: number;
  reservation_id?: string;
  expires_at?: string;
  budgets?: WindowJson[];
  refusal?: RefusalJson;
}

interface WindowJson {
  k: string;
  p: Period;
  w: string;
  limit: string;
  limit_tokens: string | null;
  percents: number[];
  spent: string;
  reserved: string;
  spent_tokens: string;
  reserved_tokens: string;
}

interface RefusalJson {
  k: string;
  p: Period;
  w: string;
  limit: string;
  limit_tokens: string | null;
  reason: "money" | "tokens";
  left: string;
}

interface BudgetWindowDbRow {
  tenant: string;
  api_key_id: string;
  period: Period;
  limit_nanos: string;
  limit_tokens: string | null;
  alert_percents: number[];
  window_start: Date;
  spent_nanos: string;
  reserved_nanos: string;
  spent_tokens: string;
  reserved_tokens: string;
}

function reservationFromDb(row: ReservationDbRow): ReservationRow {
  return {
    reservationId: row.reservation_id,
    requestId: row.request_id,
    tenant: row.tenant,
    apiKeyId: row.api_key_id,
    model: row.model,
    amountNanos: BigInt(row.amount_nanos),
    tokens: BigInt(row.tokens),
    state: row.state,
    createdAt: row.created_at,
    expiresAt: row.expires_at,
  };
}

/** RESOURCE_EXHAUSTED with reason budget_exceeded, naming the budget that refused. */
export class BudgetExceededError extends RpcError {
  readonly budget: BudgetRow;

  constructor(budget: BudgetRow, message: string, retryAfterMs: number | undefined) {
    super(GrpcStatus.RESOURCE_EXHAUSTED, message, "budget_exceeded", retryAfterMs);
    this.budget = budget;
  }
}

function budgetOwner(budget: BudgetRow): string {
  return budget.apiKeyId
    ? `API key "${budget.apiKeyId}" of tenant "${budget.tenant}"`
    : `tenant "${budget.tenant}"`;
}

function windowLabel(period: Period, start: Date): string {
  const iso = start.toISOString();
  return period === "day" ? `UTC day ${iso.slice(0, 10)}` : `UTC month ${iso.slice(0, 7)}`;
}

// (spent + reserved) / limit; a zero limit counts as fully used.
function ratio(used: bigint, limit: bigint): number {
  if (limit === 0n) return 1;
  return Number(used) / Number(limit);
}

/** Sorted, unique percents. */
export function normalizePercents(percents: readonly number[]): number[] {
  return [...new Set(percents)].sort((a, b) => a - b);
}
