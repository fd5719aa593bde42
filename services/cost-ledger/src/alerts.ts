import { randomUUID } from "node:crypto";
import type { Logger } from "@mesh/logging";
import { formatUsd } from "@mesh/money";
import { ExponentialBackoff, handleAll, retry } from "cockatiel";
import type pg from "pg";
import { windowEnd, type Period } from "./budget-windows.js";
import type { LedgerMetrics } from "./metrics.js";

/** A threshold a budget window has reached, before the unique row decides whether it fires. */
export interface AlertCandidate {
  tenant: string;
  apiKeyId: string;
  period: Period;
  /** ISO-8601 UTC. */
  windowStart: string;
  thresholdPercent: number;
  limitNanos: bigint;
  spentNanos: bigint;
}

/** An alert that fired: its row was inserted by this transaction. */
export interface FiredAlert extends AlertCandidate {
  alertId: string;
  firedAt: Date;
}

/** True when `spent` has reached `percent` of `limit` (any spend reaches a zero limit). */
export function thresholdReached(limitNanos: bigint, percent: number, spentNanos: bigint): boolean {
  return spentNanos > 0n && spentNanos * 100n >= limitNanos * BigInt(percent);
}

/** How the alert rows start life: claimed by this replica for `leaseMs`, or not delivered. */
export interface AlertInsertOptions {
  /** False when no webhook is configured: rows are stored as 'skipped'. */
  deliver: boolean;
  leaseMs: number;
}

interface AlertDbRow {
  alert_id: string;
  tenant: string;
  api_key_id: string;
  period: Period;
  window_start: Date;
  threshold_percent: number;
  limit_nanos: string;
  spent_nanos: string;
  fired_at: Date;
}

const ALERT_COLUMNS = `alert_id, tenant, api_key_id, period, window_start, threshold_percent,
  limit_nanos::text AS limit_nanos, spent_nanos::text AS spent_nanos, fired_at`;

/**
 * Inserts an alert row per candidate; the unique (budget, window, threshold) key lets only the
 * first insert through, so an alert fires once however many replicas see the crossing. Returns
 * the alerts that fired here. Run inside the transaction that changed the spend.
 */
export async function insertAlerts(
  client: pg.ClientBase,
  candidates: AlertCandidate[],
  options: AlertInsertOptions,
): Promise<FiredAlert[]> {
  if (candidates.length === 0) return [];

  const result = await client.query<AlertDbRow>(
    `INSERT INTO budget_alerts (alert_id, tenant, api_key_id, period, window_start,
                                threshold_percent, limit_nanos, spent_nanos, delivery,
                                lease_until)
     SELECT a.*, $9::text,
            CASE WHEN $9::text = 'pending' THEN now() + $10::int * interval '1 millisecond' END
       FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::timestamptz[],
                   $6::int[], $7::bigint[], $8::bigint[]) AS a
     ON CONFLICT (tenant, api_key_id, period, window_start, threshold_percent) DO NOTHING
     RETURNING ${ALERT_COLUMNS}`,
    [
      candidates.map(() => randomUUID()),
      candidates.map((c) => c.tenant),
      candidates.map((c) => c.apiKeyId),
      candidates.map((c) => c.period),
      candidates.map((c) => c.windowStart),
      candidates.map((c) => c.thresholdPercent),
      candidates.map((c) => c.limitNanos.toString()),
      candidates.map((c) => c.spentNanos.toString()),
      options.deliver ? "pending" : "skipped",
      options.leaseMs,
    ],
  );
  return result.rows.map(alertFromDb);
}

function alertFromDb(row: AlertDbRow): FiredAlert {
  return {
    alertId: row.alert_id,
    tenant: row.tenant,
    apiKeyId: row.api_key_id,
    period: row.period,
    windowStart: row.window_start.toISOString(),
    thresholdPercent: row.threshold_percent,
    limitNanos: BigInt(row.limit_nanos),
    spentNanos: BigInt(row.spent_nanos),
    firedAt: row.fired_at,
  };
}

/** The JSON body posted to LEDGER_ALERT_WEBHOOK_URL; money as exact decimal USD strings. */
export interface AlertWebhookBody {
  type: "budget.threshold_reached";
  alert_id: string;
  tenant: string;
  /** "" for a tenant-wide budget. */
  api_key_id: string;
  scope: "tenant" | "api_key";
  period: Period;
  window_start: string;
  window_end: string;
  threshold_percent: number;
  limit_usd: string;
  spent_usd: string;
  fired_at: string;
}

/** Builds the webhook body of an alert. */
export function alertWebhookBody(alert: FiredAlert): AlertWebhookBody {
  const start = new Date(alert.windowStart);
  return {
    type: "budget.threshold_reached",
    alert_id: alert.alertId,
    tenant: alert.tenant,
    api_key_id: alert.apiKeyId,
    scope: alert.apiKeyId ? "api_key" : "tenant",
    period: alert.period,
    window_start: start.toISOString(),
    window_end: windowEnd(alert.period, start).toISOString(),
    threshold_percent: alert.thresholdPercent,
    limit_usd: formatUsd(alert.limitNanos),
    spent_usd: formatUsd(alert.spentNanos),
    fired_at: alert.firedAt.toISOString(),
  };
}

/** Where and how alerts are delivered. */
export interface AlertDispatcherOptions {
  pool: pg.Pool;
  logger: Logger;
  metrics: LedgerMetrics;
  /** Unset: alerts are logged and counted only. */
  webhookUrl: string | undefined;
  /** Per attempt. */
  timeoutMs: number;
  /** Attempts per delivery run, the first included. */
  attempts: number;
  retryInitialMs: number;
  retryMaxMs: number;
  /** How often pending alerts whose lease ran out are picked up again. */
  pollMs: number;
  /** After this long since firing, a still undelivered alert is marked failed. */
  giveUpMs: number;
}

/** Delivers fired alerts by webhook, with retries, from whichever replica holds the lease. */
export interface AlertDispatcher {
  /** True when a webhook is configured. */
  readonly delivers: boolean;
  /** How long a replica owns an alert while delivering it; covers every retry of one run. */
  readonly leaseMs: number;
  /** Logs, counts and starts delivering alerts a committed transaction fired. */
  fired(alerts: FiredAlert[]): void;
  /** Claims pending alerts whose lease ran out and delivers them; returns how many. */
  pollOnce(): Promise<number>;
  /** Resolves when no delivery is in flight (for tests and shutdown). */
  idle(): Promise<void>;
  /** Stops polling and abandons retries; unfinished alerts stay pending for a replica. */
  stop(): Promise<void>;
}

const CLAIM_BATCH = 20;

/**
 * Creates the alert dispatcher and starts its poll loop. Each alert row is a transactional
 * outbox entry: the transaction that fired it also leased it to this replica, so it is posted
 * at once; if this replica dies first, another picks the row up when the lease runs out.
 * Receivers should treat `alert_id` (also the Idempotency-Key header) as the dedup key, since
 * a crash between a successful post and marking it delivered repeats the post.
 */
export function createAlertDispatcher(options: AlertDispatcherOptions): AlertDispatcher {
  const { pool, logger, metrics, webhookUrl } = options;
  const leaseMs = options.attempts * (options.timeoutMs + options.retryMaxMs) + 5_000;
  const stopping = new AbortController();
  const inFlight = new Set<Promise<void>>();
  const policy = retry(handleAll, {
    maxAttempts: Math.max(0, options.attempts - 1),
    backoff: new ExponentialBackoff({
      initialDelay: options.retryInitialMs,
      maxDelay: options.retryMaxMs,
    }),
  });

  let polling = false;
  const timer = setInterval(() => {
    void dispatcher.pollOnce().catch((err: unknown) => {
      logger.warn({ err }, "could not poll pending budget alerts; retrying next interval");
    });
  }, options.pollMs);
  timer.unref();

  function track(alert: FiredAlert): void {
    const run = deliver(alert).finally(() => inFlight.delete(run));
    inFlight.add(run);
  }

  async function deliver(alert: FiredAlert): Promise<void> {
    if (!webhookUrl) return;

    let attempts = 0;
    try {
      await policy.execute(async ({ signal }) => {
        attempts++;
        await post(webhookUrl, alert, AbortSignal.any([signal, timeoutSignal()]));
      }, stopping.signal);
    } catch (err) {
      metrics.alertDeliveries.inc({ result: "failed" });
      await recordFailure(alert, attempts, err);
      return;
    }

    metrics.alertDeliveries.inc({ result: "delivered" });
    await pool
      .query(
        `UPDATE budget_alerts SET delivery = 'delivered', delivered_at = now(),
                attempts = attempts + $2, lease_until = NULL, last_error = NULL
          WHERE alert_id = $1`,
        [alert.alertId, attempts],
      )
      .catch((err: unknown) => {
        // The webhook has it; a replica may post it again once the lease runs out.
        logger.warn({ err, alertId: alert.alertId }, "budget alert posted but not marked");
      });
    logger.info({ alertId: alert.alertId, attempts }, "budget alert delivered");
  }

  function timeoutSignal(): AbortSignal {
    return AbortSignal.timeout(options.timeoutMs);
  }

  async function recordFailure(alert: FiredAlert, attempts: number, err: unknown) {
    const message = err instanceof Error ? err.message : String(err);
    try {
      const result = await pool.query<{ delivery: string }>(
        `UPDATE budget_alerts
            SET attempts = attempts + $2, last_error = $3,
                lease_until = now() + $4::int * interval '1 millisecond',
                delivery = CASE WHEN fired_at < now() - $5::bigint * interval '1 millisecond'
                                THEN 'failed' ELSE 'pending' END
          WHERE alert_id = $1
      RETURNING delivery`,
        [alert.alertId, attempts, message.slice(0, 500), options.pollMs, options.giveUpMs],
      );
      const gaveUp = result.rows[0]?.delivery === "failed";
      const log = { alertId: alert.alertId, attempts, error: message };
      if (gaveUp) logger.error(log, "budget alert undeliverable; gave up");
      else logger.warn(log, "budget alert webhook failed; retrying on a later poll");
    } catch (dbErr) {
      logger.warn({ err: dbErr, alertId: alert.alertId }, "budget alert failure not recorded");
    }
  }

  const dispatcher: AlertDispatcher = {
    delivers: webhookUrl !== undefined,
    leaseMs,

    fired(alerts) {
      for (const alert of alerts) {
        const scope = alert.apiKeyId ? "api_key" : "tenant";
        metrics.alertsFired.inc({
          scope,
          period: alert.period,
          threshold: String(alert.thresholdPercent),
        });
        logger.warn(
          {
            alertId: alert.alertId,
            tenant: alert.tenant,
            apiKeyId: alert.apiKeyId,
            period: alert.period,
            windowStart: alert.windowStart,
            thresholdPercent: alert.thresholdPercent,
            spentUsd: formatUsd(alert.spentNanos),
            limitUsd: formatUsd(alert.limitNanos),
          },
          "budget alert fired",
        );
        if (webhookUrl && !stopping.signal.aborted) track(alert);
      }
    },

    async pollOnce() {
      if (!webhookUrl || polling || stopping.signal.aborted) return 0;

      polling = true;
      try {
        const claimed = await pool.query<AlertDbRow>(
          `UPDATE budget_alerts SET lease_until = now() + $1::int * interval '1 millisecond'
            WHERE alert_id IN (
                  SELECT alert_id FROM budget_alerts
                   WHERE delivery = 'pending' AND (lease_until IS NULL OR lease_until < now())
                   ORDER BY fired_at LIMIT $2 FOR UPDATE SKIP LOCKED)
        RETURNING ${ALERT_COLUMNS}`,
          [leaseMs, CLAIM_BATCH],
        );
        for (const row of claimed.rows) track(alertFromDb(row));
        return claimed.rows.length;
      } finally {
        polling = false;
      }
    },

    async idle() {
      while (inFlight.size > 0) await Promise.allSettled([...inFlight]);
    },

    async stop() {
      clearInterval(timer);
      stopping.abort();
      await dispatcher.idle();
    },
  };
  return dispatcher;
}

async function post(url: string, alert: FiredAlert, signal: AbortSignal): Promise<void> {
  const response = await fetch(url, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      "idempotency-key": alert.alertId,
      "user-agent": "mesh-cost-ledger",
    },
    body: JSON.stringify(alertWebhookBody(alert)),
    signal,
  });
  // Drain the body so the connection can be reused.
  await response.arrayBuffer().catch(() => undefined);
  if (!response.ok) throw new Error(`webhook answered HTTP ${response.status}`);
}
