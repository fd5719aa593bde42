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

/** A dimension spend can be grouped by. */
export type SpendGroupName = "tenant" | "api_key" | "model" | "day" | "status";

// Whitelisted SQL for each dimension; the order here is the order of output columns.
const GROUP_SQL: Record<SpendGroupName, string> = {
  tenant: "tenant",
  api_key: "api_key_id",
  model: "model",
  day: `to_char(started_at AT TIME ZONE 'UTC', 'YYYY-MM-DD')`,
  status: "status",
};
const GROUP_ORDER: readonly SpendGroupName[] = ["tenant", "api_key", "model", "day", "status"];

/** A grouped spend query; empty filters match everything. */
export interface SpendQuery {
  tenant: string;
  apiKeyId: string;
  model: string;
  /** ISO-8601, inclusive; undefined = open. */
  since?: string | undefined;
  /** ISO-8601, exclusive; undefined = open. */
  until?: string | undefined;
  groupBy: readonly SpendGroupName[];
  limit: number;
}

/** One group's totals; dimensions not grouped by are "". */
export interface SpendGroupRow {
  tenant: string;
  apiKeyId: string;
  model: string;
  day: string;
  status: string;
  costNanos: bigint;
  requests: bigint;
  inputTokens: bigint;
  outputTokens: bigint;
  cacheReadTokens: bigint;
  cacheWriteTokens: bigint;
  reasoningTokens: bigint;
}

interface GroupDbRow {
  tenant: string;
  api_key_id: string;
  model: string;
  day: string;
  status: string;
  cost_nanos: string;
  requests: string;
  input_tokens: string;
  output_tokens: string;
  cache_read_tokens: string;
  cache_write_tokens: string;
  reasoning_tokens: string;
}

const SUMS = `COALESCE(SUM(cost_nanos), 0)::text AS cost_nanos,
  COUNT(*)::text AS requests,
  COALESCE(SUM(input_tokens), 0)::text AS input_tokens,
  COALESCE(SUM(output_tokens), 0)::text AS output_tokens,
  COALESCE(SUM(cache_read_tokens), 0)::text AS cache_read_tokens,
  COALESCE(SUM(cache_write_tokens), 0)::text AS cache_write_tokens,
  COALESCE(SUM(reasoning_tokens), 0)::text AS reasoning_tokens`;

const FILTER = `($1 = '' OR tenant = $1) AND ($2 = '' OR api_key_id = $2)
  AND ($3 = '' OR model = $3)
  AND started_at >= $4::timestamptz AND started_at < $5::timestamptz`;

/**
 * Spend grouped by any of tenant, API key, model, UTC day and status, in that column order,
 * sorted, at most `limit` groups; plus the total over every matching row. Sums are exact.
 */
export async function querySpendGroups(
  pool: pg.Pool,
  query: SpendQuery,
): Promise<{ rows: SpendGroupRow[]; total: SpendGroupRow; truncated: boolean }> {
  const grouped = GROUP_ORDER.filter((g) => query.groupBy.includes(g));
  const dims = GROUP_ORDER.map((g) => (grouped.includes(g) ? GROUP_SQL[g] : "''"));
  const params = [
    query.tenant,
    query.apiKeyId,
    query.model,
    query.since ?? "-infinity",
    query.until ?? "infinity",
  ];
  const totalSql = `SELECT '' AS tenant, '' AS api_key_id, '' AS model, '' AS day,
                           '' AS status, ${SUMS}
                      FROM usage_records WHERE ${FILTER}`;

  const totalResult = await pool.query<GroupDbRow>(totalSql, params);
  const total = groupFromDb(totalResult.rows[0]!);
  if (grouped.length === 0) return { rows: [total], total, truncated: false };

  const keys = grouped.map((g) => GROUP_SQL[g]).join(", ");
  // One row past the limit tells whether there were more.
  const result = await pool.query<GroupDbRow>(
    `SELECT ${dims[0]} AS tenant, ${dims[1]} AS api_key_id, ${dims[2]} AS model,
            ${dims[3]} AS day, ${dims[4]} AS status, ${SUMS}
       FROM usage_records WHERE ${FILTER}
      GROUP BY ${keys} ORDER BY ${keys} LIMIT $6`,
    [...params, query.limit + 1],
  );
  const truncated = result.rows.length > query.limit;
  return { rows: result.rows.slice(0, query.limit).map(groupFromDb), total, truncated };
}

function groupFromDb(row: GroupDbRow): SpendGroupRow {
  return {
    tenant: row.tenant,
    apiKeyId: row.api_key_id,
    model: row.model,
    day: row.day,
    status: row.status,
    costNanos: BigInt(row.cost_nanos),
    requests: BigInt(row.requests),
    inputTokens: BigInt(row.input_tokens),
    outputTokens: BigInt(row.output_tokens),
    cacheReadTokens: BigInt(row.cache_read_tokens),
    cacheWriteTokens: BigInt(row.cache_write_tokens),
    reasoningTokens: BigInt(row.reasoning_tokens),
  };
}
