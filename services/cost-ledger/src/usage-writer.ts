import type { Logger } from "@mesh/logging";
import { GrpcStatus, RpcError } from "@mesh/rpc";
import { context, SpanStatusCode, trace, type Context, type Link } from "@opentelemetry/api";
import type pg from "pg";
import type { BudgetStore, SettleJson } from "./budget-store.js";
import { isTransientDatabaseError } from "./database-errors.js";
import { USAGE_COLUMNS, type UsageRow } from "./usage-record.js";

/** How the writer groups rows into INSERT statements. */
export interface UsageWriterOptions {
  pool: pg.Pool;
  logger: Logger;
  /** Rows per INSERT at most. */
  maxBatchRows: number;
  /**
   * How long the first queued row waits for company before its batch is sent; 0 sends on the
   * next turn of the event loop. Rows arriving while batches are in flight wait anyway.
   */
  lingerMs: number;
  /** INSERTs running at once; keep below the pool size so reads still get a connection. */
  maxInFlightBatches: number;
  /** Rows waiting at most (default 10,000); beyond this writes are refused as UNAVAILABLE. */
  maxQueuedRows?: number;
  /**
   * Settles reservations and counts spend against budgets in the transaction that inserts the
   * rows; without it rows are inserted alone (benchmarks of the bare insert).
   */
  budgets?: BudgetStore;
}

/** The outcome of one write. */
export interface WriteResult {
  /** True when a row with this request id was already stored (or queued before this one). */
  duplicate: boolean;
}

/** Writes usage rows in batches; each caller still learns whether its own row was new. */
export interface UsageWriter {
  /** Queues a row and resolves once it is stored or found to exist already. */
  write(row: UsageRow): Promise<WriteResult>;
  /** Resolves when nothing is queued or in flight. */
  flush(): Promise<void>;
  /** Rows queued and batches in flight, for tests and logs. */
  stats(): { queuedRows: number; inFlightBatches: number; batches: number };
}

interface Pending {
  row: UsageRow;
  ctx: Context;
  resolve(result: WriteResult): void;
  reject(err: unknown): void;
}

const tracer = trace.getTracer("cost-ledger");
const MAX_SPAN_LINKS = 128;

/**
 * Creates the batching writer: rows from concurrent RecordUsage calls share one
 * `INSERT … SELECT FROM unnest(…) ON CONFLICT (request_id) DO NOTHING RETURNING request_id`,
 * so throughput grows with load while a lone call is sent at once. With `budgets`, the same
 * statement settles the rows' reservations and adds their cost to the budget windows.
 */
export function createUsageWriter(options: UsageWriterOptions): UsageWriter {
  const { pool, logger, maxBatchRows, lingerMs, maxInFlightBatches, budgets } = options;
  const maxQueuedRows = options.maxQueuedRows ?? 10_000;
  const insertSql = buildInsertSql();
  const settleSql = buildInsertAndSettleSql();

  let queue: Pending[] = [];
  let inFlight = 0;
  let batches = 0;
  let timer: NodeJS.Timeout | NodeJS.Immediate | undefined;
  let idleWaiters: Array<() => void> = [];

  function write(row: UsageRow): Promise<WriteResult> {
    if (queue.length >= maxQueuedRows) {
      return Promise.reject(
        new RpcError(
          GrpcStatus.UNAVAILABLE,
          `the ledger has ${queue.length} rows waiting for the database; retry later`,
          "ledger_overloaded",
        ),
      );
    }

    return new Promise<WriteResult>((resolve, reject) => {
      queue.push({ row, ctx: context.active(), resolve, reject });
      if (queue.length >= maxBatchRows) pump();
      else schedule();
    });
  }

  function schedule(): void {
    if (timer) return;

    const fire = () => {
      timer = undefined;
      pump();
    };
    timer = lingerMs > 0 ? setTimeout(fire, lingerMs) : setImmediate(fire);
  }

  function pump(): void {
    while (queue.length > 0 && inFlight < maxInFlightBatches) {
      const batch = queue.length <= maxBatchRows ? queue : queue.slice(0, maxBatchRows);
      queue = queue.length <= maxBatchRows ? [] : queue.slice(maxBatchRows);
      inFlight++;
      batches++;
      void context
        .with(batch[0]!.ctx, () => runBatch(batch))
        .catch((err: unknown) => {
          // Settling an already settled promise is a no-op, so only waiting callers see this.
          logger.error({ err }, "usage batch failed unexpectedly");
          for (const p of batch) p.reject(err);
        })
        .finally(() => {
          inFlight--;
          if (queue.length > 0) pump();
          else if (inFlight === 0) settleIdle();
        });
    }
  }

  async function runBatch(batch: Pending[]): Promise<void> {
    // The same id twice in one statement: the first is the insert, later ones are duplicates.
    const firsts = new Map<string, Pending>();
    const repeats: Pending[] = [];
    for (const p of batch) {
      if (firsts.has(p.row.requestId)) repeats.push(p);
      else firsts.set(p.row.requestId, p);
    }

    const links: Link[] = batch
      .slice(1, MAX_SPAN_LINKS + 1)
      .map((p) => trace.getSpanContext(p.ctx))
      .filter((sc) => sc !== undefined)
      .map((sc) => ({ context: sc }));
    await tracer.startActiveSpan(
      "ledger.insert_usage_batch",
      { attributes: { "ledger.batch.rows": batch.length }, links },
      async (span) => {
        const failures = await insertAll([...firsts.values()]);
        for (const p of repeats) {
          const failure = failures.get(p.row.requestId);
          if (failure === undefined) p.resolve({ duplicate: true });
          else p.reject(failure);
        }

        if (failures.size > 0) span.setStatus({ code: SpanStatusCode.ERROR });
        span.end();
      },
    );
  }

  // Inserts the rows; returns the error of each row that failed (none when all landed).
  async function insertAll(pending: Pending[]): Promise<Map<string, unknown>> {
    const failures = new Map<string, unknown>();
    try {
      const inserted = await insertRows(pending.map((p) => p.row));
      for (const p of pending) p.resolve({ duplicate: !inserted.has(p.row.requestId) });
      return failures;
    } catch (err) {
      if (pending.length === 1 || isTransientDatabaseError(err)) {
        for (const p of pending) {
          failures.set(p.row.requestId, err);
          p.reject(err);
        }
        return failures;
      }

      // One bad row must not fail its neighbours: find it by sending rows one at a time.
      logger.warn({ err, rows: pending.length }, "usage batch failed; retrying rows one by one");
    }

    for (const p of pending) {
      try {
        const inserted = await insertRows([p.row]);
        p.resolve({ duplicate: !inserted.has(p.row.requestId) });
      } catch (err) {
        failures.set(p.row.requestId, err);
        p.reject(err);
      }
    }
    return failures;
  }

  async function insertRows(rows: UsageRow[]): Promise<Set<string>> {
    const values = USAGE_COLUMNS.map((column) => rows.map((row) => column.value(row)));
    if (!budgets) {
      const result = await pool.query<{ request_id: string }>(insertSql, values);
      return new Set(result.rows.map((r) => r.request_id));
    }

    // One statement, one round trip: the insert, then ledger_settle under the tenants' locks,
    // committed together. Only rows new to the table count, so a retry never counts twice.
    const { namespace, tail } = budgets.settleParams();
    const result = await pool.query<{ inserted: string[]; settled: SettleJson }>(settleSql, [
      ...values,
      namespace,
      ...tail,
    ]);
    const row = result.rows[0]!;
    budgets.settled(row.settled);
    return new Set(row.inserted);
  }

  function settleIdle(): void {
    const waiters = idleWaiters;
    idleWaiters = [];
    for (const resolve of waiters) resolve();
  }

  return {
    write,
    flush() {
      if (queue.length === 0 && inFlight === 0) return Promise.resolve();

      return new Promise<void>((resolve) => {
        idleWaiters.push(resolve);
        pump();
      });
    },
    stats: () => ({ queuedRows: queue.length, inFlightBatches: inFlight, batches }),
  };
}

// The insert feeding the inserted rows to ledger_settle (see the budgets migration), which
// settles their reservations and counts their cost against budgets in the same statement.
function buildInsertAndSettleSql(): string {
  const first = USAGE_COLUMNS.length + 1;
  const tokens = "input_tokens + output_tokens + cache_read_tokens + cache_write_tokens";
  return (
    `WITH ins AS (${buildInsertSql()}, tenant, api_key_id, reservation_id, cost_nanos, ` +
    `${tokens} AS tokens, started_at) ` +
    "SELECT (SELECT COALESCE(array_agg(request_id), '{}') FROM ins) AS inserted, " +
    `ledger_settle($${first}, (SELECT jsonb_agg(jsonb_build_object('q', request_id, ` +
    "'t', tenant, 'k', api_key_id, 'r', reservation_id, 'c', cost_nanos, 'n', tokens, " +
    `'s', started_at)) FROM ins), $${first + 1}::int[], $${first + 2}, $${first + 3}) AS settled`
  );
}

// One array parameter per column keeps the statement text the same for any batch size.
function buildInsertSql(): string {
  const names = USAGE_COLUMNS.map((c) => c.name).join(", ");
  const arrays = USAGE_COLUMNS.map((c, i) => `$${i + 1}::${c.pgType}[]`).join(", ");
  return (
    `INSERT INTO usage_records (${names}) SELECT * FROM unnest(${arrays}) ` +
    "ON CONFLICT (request_id) DO NOTHING RETURNING request_id"
  );
}
