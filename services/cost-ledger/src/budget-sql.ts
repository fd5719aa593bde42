import { createHash } from "node:crypto";
import type pg from "pg";
import type { Period } from "./budget-windows.js";

/**
 * Low-level budget bookkeeping shared by the budget store and the usage writer: tenant locks,
 * window totals and their deltas. Every change to budget_usage or to a held reservation runs
 * in a transaction holding the tenant's advisory lock, so replicas never interleave.
 * @private
 */

/** A budget as stored: api_key_id "" is the whole tenant's. */
export interface BudgetRow {
  tenant: string;
  apiKeyId: string;
  period: Period;
  limitNanos: bigint;
  /** null: money only. */
  limitTokens: bigint | null;
  /** As stored; empty means the ledger's default thresholds. */
  alertPercents: number[];
}

/** Running totals of one budget window. */
export interface WindowTotals {
  spentNanos: bigint;
  reservedNanos: bigint;
  spentTokens: bigint;
  reservedTokens: bigint;
}

/** A window a reservation took budget from, as kept in budget_reservations.charges. */
export interface Charge {
  /** api_key_id of the budget ("" = tenant-wide). */
  k: string;
  p: Period;
  /** Window start, ISO-8601 UTC with milliseconds. */
  w: string;
}

/** The identity of a budget window. */
export interface WindowKey {
  tenant: string;
  apiKeyId: string;
  period: Period;
  /** ISO-8601 UTC with milliseconds, as Date.toISOString gives. */
  windowStart: string;
}

/** What a change adds to a window's totals (negative to give back). */
export interface Delta extends WindowTotals {
  key: WindowKey;
}

/** Text key of a window, for maps. */
export function windowKeyText(key: WindowKey): string {
  return JSON.stringify([key.tenant, key.apiKeyId, key.period, key.windowStart]);
}

/** Deltas gathered per window during one transaction, applied with one statement. */
export class DeltaMap {
  readonly #deltas = new Map<string, Delta>();

  /** The delta of a window, created at zero; touching a window makes it exist in Postgres. */
  at(key: WindowKey): Delta {
    const text = windowKeyText(key);
    let delta = this.#deltas.get(text);
    if (!delta) {
      delta = { key, spentNanos: 0n, reservedNanos: 0n, spentTokens: 0n, reservedTokens: 0n };
      this.#deltas.set(text, delta);
    }
    return delta;
  }

  /** Gives back what a reservation holds in each window it charged. */
  release(tenant: string, charges: Charge[], amountNanos: bigint, tokens: bigint): void {
    for (const c of charges) {
      const windowStart = new Date(c.w).toISOString();
      const d = this.at({ tenant, apiKeyId: c.k, period: c.p, windowStart });
      d.reservedNanos -= amountNanos;
      d.reservedTokens -= tokens;
    }
  }

  get(key: WindowKey): Delta | undefined {
    return this.#deltas.get(windowKeyText(key));
  }

  values(): Delta[] {
    return [...this.#deltas.values()];
  }

  get size(): number {
    return this.#deltas.size;
  }
}

/** A lock namespace per schema, so isolated test schemas never wait on each other. */
export function lockNamespace(schema: string): number {
  return createHash("sha256").update(`cost-ledger-budgets:${schema}`).digest().readInt32BE(0);
}

/**
 * Takes the tenants' transaction-scoped advisory locks (ledger_lock_tenants: ascending key
 * order, so overlapping lockers cannot deadlock) and returns the database's now(). Statements
 * after this one see every change committed by an earlier lock holder.
 */
export async function lockTenants(
  client: pg.ClientBase,
  namespace: number,
  tenants: Iterable<string>,
): Promise<Date> {
  const result = await client.query<{ now: Date }>(
    "SELECT ledger_lock_tenants($1, $2::text[]), now() AS now",
    [namespace, [...new Set(tenants)]],
  );
  return result.rows[0]!.now;
}

/**
 * Runs `work` in a transaction: commits when it returns, rolls back when it throws. A
 * connection whose rollback fails is discarded rather than handed to the next caller.
 */
export async function inTransaction<T>(
  pool: pg.Pool,
  work: (client: pg.PoolClient) => Promise<T>,
): Promise<T> {
  const client = await pool.connect();
  let broken: Error | undefined;
  try {
    await client.query("BEGIN");
    try {
      const result = await work(client);
      await client.query("COMMIT");
      return result;
    } catch (err) {
      await client.query("ROLLBACK").catch((rollbackErr: unknown) => {
        broken = rollbackErr as Error;
      });
      throw err;
    }
  } catch (err) {
    broken ??= isConnectionLost(err) ? (err as Error) : undefined;
    throw err;
  } finally {
    client.release(broken);
  }
}

/** Runs `work` in a transaction holding the tenants' locks; `now` is the database's. */
export function withTenantLocks<T>(
  pool: pg.Pool,
  namespace: number,
  tenants: Iterable<string>,
  work: (client: pg.PoolClient, now: Date) => Promise<T>,
): Promise<T> {
  return inTransaction(pool, async (client) =>
    work(client, await lockTenants(client, namespace, tenants)),
  );
}

function isConnectionLost(err: unknown): boolean {
  return err instanceof Error && /connection terminated|not queryable/i.test(err.message);
}

interface BudgetDbRow {
  tenant: string;
  api_key_id: string;
  period: Period;
  limit_nanos: string;
  limit_tokens: string | null;
  alert_percents: number[];
}

/** Maps a budgets row read with limits as text. */
export function budgetFromDb(row: BudgetDbRow): BudgetRow {
  return {
    tenant: row.tenant,
    apiKeyId: row.api_key_id,
    period: row.period,
    limitNanos: BigInt(row.limit_nanos),
    limitTokens: row.limit_tokens === null ? null : BigInt(row.limit_tokens),
    alertPercents: row.alert_percents,
  };
}

interface TotalsDbRow {
  tenant: string;
  api_key_id: string;
  period: Period;
  window_start: Date;
  spent_nanos: string;
  reserved_nanos: string;
  spent_tokens: string;
  reserved_tokens: string;
}

type TotalsText = Pick<
  TotalsDbRow,
  "spent_nanos" | "reserved_nanos" | "spent_tokens" | "reserved_tokens"
>;

/** Maps totals read as text. */
export function totalsFromDb(row: TotalsText): WindowTotals {
  return {
    spentNanos: BigInt(row.spent_nanos),
    reservedNanos: BigInt(row.reserved_nanos),
    spentTokens: BigInt(row.spent_tokens),
    reservedTokens: BigInt(row.reserved_tokens),
  };
}

/**
 * Adds the deltas to their windows (creating missing windows at zero first, so CHECKs see
 * real totals) and returns every touched window's totals afterwards, keyed by windowKeyText.
 * Call with the tenants' locks held.
 */
export async function applyDeltas(
  client: pg.ClientBase,
  deltas: DeltaMap,
): Promise<Map<string, WindowTotals>> {
  const totals = new Map<string, WindowTotals>();
  if (deltas.size === 0) return totals;

  const all = deltas.values();
  const keyColumns = [
    all.map((d) => d.key.tenant),
    all.map((d) => d.key.apiKeyId),
    all.map((d) => d.key.period),
    all.map((d) => d.key.windowStart),
  ];
  await client.query(
    `INSERT INTO budget_usage (tenant, api_key_id, period, window_start)
     SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[])
     ON CONFLICT DO NOTHING`,
    keyColumns,
  );

  const result = await client.query<TotalsDbRow>(
    `UPDATE budget_usage AS u
        SET spent_nanos = u.spent_nanos + d.spent_nanos,
            reserved_nanos = u.reserved_nanos + d.reserved_nanos,
            spent_tokens = u.spent_tokens + d.spent_tokens,
            reserved_tokens = u.reserved_tokens + d.reserved_tokens
       FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[],
                   $5::bigint[], $6::bigint[], $7::bigint[], $8::bigint[])
            AS d(tenant, api_key_id, period, window_start,
                 spent_nanos, reserved_nanos, spent_tokens, reserved_tokens)
      WHERE u.tenant = d.tenant AND u.api_key_id = d.api_key_id AND u.period = d.period
        AND u.window_start = d.window_start
  RETURNING u.tenant, u.api_key_id, u.period, u.window_start,
            u.spent_nanos::text AS spent_nanos, u.reserved_nanos::text AS reserved_nanos,
            u.spent_tokens::text AS spent_tokens, u.reserved_tokens::text AS reserved_tokens`,
    [
      ...keyColumns,
      all.map((d) => d.spentNanos.toString()),
      all.map((d) => d.reservedNanos.toString()),
      all.map((d) => d.spentTokens.toString()),
      all.map((d) => d.reservedTokens.toString()),
    ],
  );

  for (const row of result.rows) {
    const key = {
      tenant: row.tenant,
      apiKeyId: row.api_key_id,
      period: row.period,
      windowStart: row.window_start.toISOString(),
    };
    totals.set(windowKeyText(key), totalsFromDb(row));
  }
  return totals;
}

interface ExpiredDbRow {
  reservation_id: string;
  tenant: string;
  amount_nanos: string;
  tokens: string;
  charges: Charge[];
}

/**
 * Marks the tenant's held reservations past their expiry as expired and adds what they held
 * to `deltas` as released. Returns how many expired. Call with the tenant's lock held.
 */
export async function expireTenantReservations(
  client: pg.ClientBase,
  tenant: string,
  deltas: DeltaMap,
): Promise<string[]> {
  const result = await client.query<ExpiredDbRow>(
    `UPDATE budget_reservations SET state = 'expired', closed_at = now()
      WHERE tenant = $1 AND state = 'held' AND expires_at <= now()
  RETURNING reservation_id, tenant, amount_nanos::text AS amount_nanos, tokens::text AS tokens,
            charges`,
    [tenant],
  );
  for (const row of result.rows) {
    deltas.release(row.tenant, row.charges, BigInt(row.amount_nanos), BigInt(row.tokens));
  }
  return result.rows.map((r) => r.reservation_id);
}
