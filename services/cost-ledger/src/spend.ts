import type pg from "pg";

/** Totals of a tenant's usage rows over a time range. */
export interface SpendTotals {
  costNanos: bigint;
  requests: bigint;
  inputTokens: bigint;
  outputTokens: bigint;
}

/** A half-open window [since, until) on started_at; an open end is unbounded. */
export interface SpendWindow {
  tenant: string;
  /** ISO-8601 instant, inclusive. */
  since?: string | undefined;
  /** ISO-8601 instant, exclusive. */
  until?: string | undefined;
}

interface SpendRow {
  cost_nanos: string;
  requests: string;
  input_tokens: string;
  output_tokens: string;
}

// Sums come back as text so numeric totals beyond 2^53 stay exact all the way to bigint.
const SPEND_SQL = `
  SELECT COALESCE(SUM(cost_nanos), 0)::text    AS cost_nanos,
         COUNT(*)::text                        AS requests,
         COALESCE(SUM(input_tokens), 0)::text  AS input_tokens,
         COALESCE(SUM(output_tokens), 0)::text AS output_tokens
    FROM usage_records
   WHERE tenant = $1 AND started_at >= $2::timestamptz AND started_at < $3::timestamptz`;

/** Sums cost (exact nano-dollars), requests and tokens for one tenant over a window. */
export async function querySpend(pool: pg.Pool, window: SpendWindow): Promise<SpendTotals> {
  const result = await pool.query<SpendRow>(SPEND_SQL, [
    window.tenant,
    window.since ?? "-infinity",
    window.until ?? "infinity",
  ]);

  const row = result.rows[0];
  return {
    costNanos: BigInt(row?.cost_nanos ?? "0"),
    requests: BigInt(row?.requests ?? "0"),
    inputTokens: BigInt(row?.input_tokens ?? "0"),
    outputTokens: BigInt(row?.output_tokens ?? "0"),
  };
}
