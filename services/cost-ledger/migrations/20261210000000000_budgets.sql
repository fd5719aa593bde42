-- Up Migration

-- The reservation a row settled, and the prices its cost was computed at (nano-dollars per
-- million tokens). NULL prices: the caller sent none (e.g. no model was called).
ALTER TABLE usage_records
  ADD COLUMN reservation_id               text   NOT NULL DEFAULT '',
  ADD COLUMN input_nanos_per_mtok         bigint CHECK (input_nanos_per_mtok >= 0),
  ADD COLUMN output_nanos_per_mtok        bigint CHECK (output_nanos_per_mtok >= 0),
  ADD COLUMN cache_read_nanos_per_mtok    bigint CHECK (cache_read_nanos_per_mtok >= 0),
  ADD COLUMN cache_write_nanos_per_mtok   bigint CHECK (cache_write_nanos_per_mtok >= 0);

-- Spend queries by key, model and day within a tenant.
CREATE INDEX usage_records_tenant_key_started_at ON usage_records (tenant, api_key_id, started_at);

-- A spending limit per UTC calendar window. api_key_id '' is the whole tenant's budget.
CREATE TABLE budgets (
  tenant          text        NOT NULL CHECK (tenant <> ''),
  api_key_id      text        NOT NULL DEFAULT '',
  period          text        NOT NULL CHECK (period IN ('day', 'month')),
  limit_nanos     bigint      NOT NULL CHECK (limit_nanos >= 0),
  -- NULL: money only.
  limit_tokens    bigint      CHECK (limit_tokens >= 0),
  -- Empty: the ledger's default thresholds.
  alert_percents  integer[]   NOT NULL DEFAULT '{}',
  created_at      timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant, api_key_id, period)
);

-- Running totals of one budget's window, changed only under the tenant's advisory lock.
-- Rows are never deleted, so a reservation can always give back what it took.
CREATE TABLE budget_usage (
  tenant           text        NOT NULL,
  api_key_id       text        NOT NULL,
  period           text        NOT NULL CHECK (period IN ('day', 'month')),
  window_start     timestamptz NOT NULL,
  spent_nanos      bigint      NOT NULL DEFAULT 0 CHECK (spent_nanos >= 0),
  reserved_nanos   bigint      NOT NULL DEFAULT 0 CHECK (reserved_nanos >= 0),
  spent_tokens     bigint      NOT NULL DEFAULT 0 CHECK (spent_tokens >= 0),
  reserved_tokens  bigint      NOT NULL DEFAULT 0 CHECK (reserved_tokens >= 0),
  PRIMARY KEY (tenant, api_key_id, period, window_start)
);

-- Budget held for one request until it is settled, released, replaced or expires. charges
-- lists the budget windows it was taken from: [{"k": api_key_id, "p": period, "w": start}].
CREATE TABLE budget_reservations (
  reservation_id  text        PRIMARY KEY,
  request_id      text        NOT NULL CHECK (request_id <> ''),
  tenant          text        NOT NULL CHECK (tenant <> ''),
  api_key_id      text        NOT NULL DEFAULT '',
  model           text        NOT NULL DEFAULT '',
  amount_nanos    bigint      NOT NULL CHECK (amount_nanos >= 0),
  tokens          bigint      NOT NULL DEFAULT 0 CHECK (tokens >= 0),
  charges         jsonb       NOT NULL,
  state           text        NOT NULL
                  CHECK (state IN ('held', 'settled', 'released', 'expired', 'replaced')),
  settled_nanos   bigint,
  settled_tokens  bigint,
  created_at      timestamptz NOT NULL DEFAULT now(),
  expires_at      timestamptz NOT NULL,
  closed_at       timestamptz
);

-- One held reservation per request: a retried ReserveBudget finds it instead of taking more.
CREATE UNIQUE INDEX budget_reservations_held_request
  ON budget_reservations (request_id) WHERE state = 'held';
CREATE INDEX budget_reservations_held_expiry
  ON budget_reservations (tenant, expires_at) WHERE state = 'held';
CREATE INDEX budget_reservations_held_expiry_all
  ON budget_reservations (expires_at) WHERE state = 'held';

-- An alert fired for a budget window at a threshold; the unique key makes it fire once.
-- Delivery is a transactional outbox: a replica leases the row while it calls the webhook.
CREATE TABLE budget_alerts (
  alert_id           text        PRIMARY KEY,
  tenant             text        NOT NULL,
  api_key_id         text        NOT NULL,
  period             text        NOT NULL,
  window_start       timestamptz NOT NULL,
  threshold_percent  integer     NOT NULL CHECK (threshold_percent > 0),
  limit_nanos        bigint      NOT NULL,
  spent_nanos        bigint      NOT NULL,
  fired_at           timestamptz NOT NULL DEFAULT now(),
  delivery           text        NOT NULL DEFAULT 'pending'
                     CHECK (delivery IN ('pending', 'delivered', 'skipped', 'failed')),
  attempts           integer     NOT NULL DEFAULT 0,
  lease_until        timestamptz,
  delivered_at       timestamptz,
  last_error         text,
  UNIQUE (tenant, api_key_id, period, window_start, threshold_percent)
);

CREATE INDEX budget_alerts_pending ON budget_alerts (fired_at) WHERE delivery = 'pending';

-- Takes the transaction-scoped advisory locks of the tenants, in ascending key order so two
-- transactions locking overlapping tenants cannot deadlock. Every change to budget_usage and
-- to held reservations happens under these locks; statements after this call see every change
-- an earlier holder committed. Key collisions only serialize a little more.
CREATE FUNCTION ledger_lock_tenants(p_lock_namespace integer, p_tenants text[])
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  v_key integer;
BEGIN
  FOR v_key IN SELECT DISTINCT hashtext(t) FROM unnest(p_tenants) AS t ORDER BY 1 LOOP
    PERFORM pg_advisory_xact_lock(p_lock_namespace, v_key);
  END LOOP;
END
$$;

-- The windows of a tenant's (and key's) budgets at `at`, with their totals, as JSON; money and
-- tokens as text so bigints survive JSON. Missing windows read as zero.
CREATE FUNCTION ledger_budget_windows(p_tenant text, p_api_key_id text, p_at timestamptz)
RETURNS jsonb LANGUAGE sql STABLE AS $$
  SELECT COALESCE(jsonb_agg(jsonb_build_object(
           'k', b.api_key_id,
           'p', b.period,
           'w', to_char(w.start AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
           'limit', b.limit_nanos::text,
           'limit_tokens', b.limit_tokens::text,
           'percents', to_jsonb(b.alert_percents),
           'spent', COALESCE(u.spent_nanos, 0)::text,
           'reserved', COALESCE(u.reserved_nanos, 0)::text,
           'spent_tokens', COALESCE(u.spent_tokens, 0)::text,
           'reserved_tokens', COALESCE(u.reserved_tokens, 0)::text)
         ORDER BY b.api_key_id DESC, b.period), '[]'::jsonb)
    FROM budgets b
    CROSS JOIN LATERAL (SELECT date_trunc(b.period, p_at, 'UTC') AS start) w
    LEFT JOIN budget_usage u
      ON u.tenant = b.tenant AND u.api_key_id = b.api_key_id AND u.period = b.period
     AND u.window_start = w.start
   WHERE b.tenant = p_tenant AND b.api_key_id IN ('', p_api_key_id)
$$;

-- Gives back what a reservation holds in each window it charged.
CREATE FUNCTION ledger_release_charges(p_tenant text, p_charges jsonb, p_amount bigint,
                                       p_tokens bigint)
RETURNS void LANGUAGE sql AS $$
  UPDATE budget_usage AS u
     SET reserved_nanos = u.reserved_nanos - p_amount,
         reserved_tokens = u.reserved_tokens - p_tokens
    FROM jsonb_to_recordset(p_charges) AS c(k text, p text, w timestamptz)
   WHERE u.tenant = p_tenant AND u.api_key_id = c.k AND u.period = c.p AND u.window_start = c.w
$$;

-- ReserveBudget in one round trip, so the tenant's lock is held only while Postgres works:
-- expire overdue reservations, check the replaced one, find a retried reserve, check every
-- budget of the tenant and key (counting the replaced reservation as given back), then swap
-- and hold. A refusal changes nothing but the expiries. Returns JSON whose "outcome" is
-- reserved, no_budget, refused, existing, exists_different, replaced_not_found or
-- replaced_other_request.
CREATE FUNCTION ledger_reserve(
  p_lock_namespace integer, p_reservation_id text, p_request_id text, p_tenant text,
  p_api_key_id text, p_model text, p_amount bigint, p_tokens bigint, p_replaces text,
  p_ttl_ms integer)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
  v_now timestamptz;
  v_expired integer := 0;
  v_row record;
  v_old budget_reservations%ROWTYPE;
  v_old_held boolean := false;
  v_budget record;
  v_window timestamptz;
  v_usage record;
  v_back bigint;
  v_back_tokens bigint;
  v_left bigint;
  v_charges jsonb := '[]'::jsonb;
  v_expires timestamptz;
  v_refusal jsonb;
BEGIN
  PERFORM ledger_lock_tenants(p_lock_namespace, ARRAY[p_tenant]);
  -- Read after the lock: now() would be when the statement started, before any wait.
  v_now := clock_timestamp();

  FOR v_row IN
    UPDATE budget_reservations SET state = 'expired', closed_at = v_now
     WHERE tenant = p_tenant AND state = 'held' AND expires_at <= v_now
    RETURNING amount_nanos, tokens, charges
  LOOP
    v_expired := v_expired + 1;
    PERFORM ledger_release_charges(p_tenant, v_row.charges, v_row.amount_nanos, v_row.tokens);
  END LOOP;

  IF p_replaces <> '' THEN
    SELECT * INTO v_old FROM budget_reservations WHERE reservation_id = p_replaces;
    IF NOT FOUND THEN
      RETURN jsonb_build_object('outcome', 'replaced_not_found', 'expired', v_expired);
    END IF;
    IF v_old.request_id <> p_request_id OR v_old.tenant <> p_tenant THEN
      RETURN jsonb_build_object('outcome', 'replaced_other_request', 'expired', v_expired);
    END IF;
    v_old_held := v_old.state = 'held';
  END IF;

  SELECT * INTO v_row FROM budget_reservations
   WHERE request_id = p_request_id AND state = 'held' AND reservation_id <> p_replaces;
  IF FOUND THEN
    IF v_row.tenant = p_tenant AND v_row.api_key_id = p_api_key_id AND v_row.model = p_model
       AND v_row.amount_nanos = p_amount AND v_row.tokens = p_tokens THEN
      RETURN jsonb_build_object(
        'outcome', 'existing', 'expired', v_expired,
        'reservation_id', v_row.reservation_id, 'expires_at', v_row.expires_at,
        'budgets', ledger_budget_windows(p_tenant, p_api_key_id, v_row.created_at));
    END IF;
    RETURN jsonb_build_object('outcome', 'exists_different', 'expired', v_expired,
                              'reservation_id', v_row.reservation_id);
  END IF;

  FOR v_budget IN
    SELECT * FROM budgets WHERE tenant = p_tenant AND api_key_id IN ('', p_api_key_id)
     ORDER BY api_key_id DESC, period
  LOOP
    v_window := date_trunc(v_budget.period, v_now, 'UTC');
    INSERT INTO budget_usage (tenant, api_key_id, period, window_start)
    VALUES (p_tenant, v_budget.api_key_id, v_budget.period, v_window)
    ON CONFLICT DO NOTHING;
    SELECT * INTO v_usage FROM budget_usage
     WHERE tenant = p_tenant AND api_key_id = v_budget.api_key_id
       AND period = v_budget.period AND window_start = v_window;

    v_back := 0;
    v_back_tokens := 0;
    IF v_old_held AND EXISTS (
      SELECT 1 FROM jsonb_to_recordset(v_old.charges) AS c(k text, p text, w timestamptz)
       WHERE c.k = v_budget.api_key_id AND c.p = v_budget.period AND c.w = v_window) THEN
      v_back := v_old.amount_nanos;
      v_back_tokens := v_old.tokens;
    END IF;

    v_refusal := jsonb_build_object(
      'k', v_budget.api_key_id, 'p', v_budget.period,
      'w', to_char(v_window AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
      'limit', v_budget.limit_nanos::text, 'limit_tokens', v_budget.limit_tokens::text);
    v_left := v_budget.limit_nanos - v_usage.spent_nanos - v_usage.reserved_nanos + v_back;
    IF p_amount > v_left THEN
      RETURN jsonb_build_object('outcome', 'refused', 'expired', v_expired, 'refusal',
        v_refusal || jsonb_build_object('reason', 'money', 'left', v_left::text));
    END IF;
    IF v_budget.limit_tokens IS NOT NULL THEN
      v_left := v_budget.limit_tokens - v_usage.spent_tokens - v_usage.reserved_tokens
                + v_back_tokens;
      IF p_tokens > v_left THEN
        RETURN jsonb_build_object('outcome', 'refused', 'expired', v_expired, 'refusal',
          v_refusal || jsonb_build_object('reason', 'tokens', 'left', v_left::text));
      END IF;
    END IF;

    v_charges := v_charges || jsonb_build_array(jsonb_build_object(
      'k', v_budget.api_key_id, 'p', v_budget.period, 'w', v_refusal -> 'w'));
  END LOOP;

  IF v_old_held THEN
    UPDATE budget_reservations SET state = 'replaced', closed_at = v_now
     WHERE reservation_id = v_old.reservation_id;
    PERFORM ledger_release_charges(p_tenant, v_old.charges, v_old.amount_nanos, v_old.tokens);
  END IF;

  IF jsonb_array_length(v_charges) = 0 THEN
    RETURN jsonb_build_object('outcome', 'no_budget', 'expired', v_expired);
  END IF;

  UPDATE budget_usage AS u
     SET reserved_nanos = u.reserved_nanos + p_amount,
         reserved_tokens = u.reserved_tokens + p_tokens
    FROM jsonb_to_recordset(v_charges) AS c(k text, p text, w timestamptz)
   WHERE u.tenant = p_tenant AND u.api_key_id = c.k AND u.period = c.p AND u.window_start = c.w;
  INSERT INTO budget_reservations (reservation_id, request_id, tenant, api_key_id, model,
                                   amount_nanos, tokens, charges, state, created_at,
                                   expires_at)
  VALUES (p_reservation_id, p_request_id, p_tenant, p_api_key_id, p_model, p_amount,
          p_tokens, v_charges, 'held', v_now,
          v_now + p_ttl_ms * interval '1 millisecond')
  RETURNING expires_at INTO v_expires;

  RETURN jsonb_build_object(
    'outcome', 'reserved', 'expired', v_expired, 'reservation_id', p_reservation_id,
    'expires_at', v_expires, 'budgets', ledger_budget_windows(p_tenant, p_api_key_id, v_now));
END
$$;

-- Settles reservations and counts spend for usage rows the same statement just inserted, then
-- fires alerts for thresholds the spend crossed. p_rows: [{"q": request id, "t": tenant,
-- "k": api key id, "r": reservation id, "c": cost nanos, "n": billed tokens, "s": started at}].
-- A held reservation of the row's tenant moves its actual cost into the windows it charged and
-- gives the rest back; every other budget of the tenant and key counts the cost in the window
-- the request started. Returns {"alerts": [fired...], "unmatched": [{"q", "r"}...]}, the
-- latter naming rows whose reservation was not held (billed without it).
CREATE FUNCTION ledger_settle(p_lock_namespace integer, p_rows jsonb,
                              p_default_percents integer[], p_delivery text,
                              p_lease_ms integer)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
  v_deltas jsonb;
  v_unmatched jsonb;
  v_fired jsonb;
BEGIN
  IF p_rows IS NULL OR jsonb_array_length(p_rows) = 0 THEN
    RETURN jsonb_build_object('alerts', '[]'::jsonb, 'unmatched', '[]'::jsonb);
  END IF;
  PERFORM ledger_lock_tenants(
    p_lock_namespace, ARRAY(SELECT DISTINCT x ->> 't' FROM jsonb_array_elements(p_rows) AS x));

  -- Most rows belong to tenants without budgets and name no reservation.
  IF NOT EXISTS (SELECT 1 FROM jsonb_array_elements(p_rows) AS x WHERE x ->> 'r' <> '')
     AND NOT EXISTS (
       SELECT 1 FROM budgets
        WHERE tenant IN (SELECT x ->> 't' FROM jsonb_array_elements(p_rows) AS x)) THEN
    RETURN jsonb_build_object('alerts', '[]'::jsonb, 'unmatched', '[]'::jsonb);
  END IF;

  WITH input AS (
    SELECT * FROM jsonb_to_recordset(p_rows)
      AS x(q text, t text, k text, r text, c bigint, n bigint, s timestamptz)
  ), settled AS (
    UPDATE budget_reservations AS res
       SET state = 'settled', settled_nanos = x.c, settled_tokens = x.n, closed_at = now()
      FROM input AS x
     WHERE x.r <> '' AND res.reservation_id = x.r AND res.tenant = x.t AND res.state = 'held'
    RETURNING x.q, res.tenant, res.amount_nanos, res.tokens, res.charges, x.c, x.n
  ), charged AS (
    SELECT s.q, s.tenant AS t, ch.k, ch.p, ch.w, s.c, s.n, s.amount_nanos, s.tokens
      FROM settled AS s
     CROSS JOIN LATERAL jsonb_to_recordset(s.charges) AS ch(k text, p text, w timestamptz)
  ), spread AS (
    SELECT x.t, b.api_key_id AS k, b.period AS p, date_trunc(b.period, x.s, 'UTC') AS w,
           x.c, x.n
      FROM input AS x
      JOIN budgets AS b ON b.tenant = x.t AND b.api_key_id IN ('', x.k)
     WHERE NOT EXISTS (
       SELECT 1 FROM charged AS ch WHERE ch.q = x.q AND ch.k = b.api_key_id AND ch.p = b.period)
  ), deltas AS (
    SELECT t, k, p, w, sum(spent) AS spent, sum(reserved) AS reserved,
           sum(spent_tokens) AS spent_tokens, sum(reserved_tokens) AS reserved_tokens
      FROM (SELECT t, k, p, w, c AS spent, -amount_nanos AS reserved, n AS spent_tokens,
                   -tokens AS reserved_tokens
              FROM charged
            UNION ALL
            SELECT t, k, p, w, c, 0, n, 0 FROM spread) AS d
     GROUP BY t, k, p, w
  )
  SELECT (SELECT COALESCE(jsonb_agg(to_jsonb(deltas)), '[]'::jsonb) FROM deltas),
         (SELECT COALESCE(jsonb_agg(jsonb_build_object('q', x.q, 'r', x.r)), '[]'::jsonb)
            FROM input AS x
           WHERE x.r <> '' AND NOT EXISTS (SELECT 1 FROM settled AS s WHERE s.q = x.q))
    INTO v_deltas, v_unmatched;

  -- Windows must exist before the update so CHECKs judge real totals, never a lone delta.
  INSERT INTO budget_usage (tenant, api_key_id, period, window_start)
  SELECT d.t, d.k, d.p, d.w
    FROM jsonb_to_recordset(v_deltas) AS d(t text, k text, p text, w timestamptz)
  ON CONFLICT DO NOTHING;

  WITH updated AS (
    UPDATE budget_usage AS u
       SET spent_nanos = u.spent_nanos + d.spent,
           reserved_nanos = u.reserved_nanos + d.reserved,
           spent_tokens = u.spent_tokens + d.spent_tokens,
           reserved_tokens = u.reserved_tokens + d.reserved_tokens
      FROM jsonb_to_recordset(v_deltas) AS d(t text, k text, p text, w timestamptz,
                                             spent bigint, reserved bigint,
                                             spent_tokens bigint, reserved_tokens bigint)
     WHERE u.tenant = d.t AND u.api_key_id = d.k AND u.period = d.p AND u.window_start = d.w
    RETURNING u.tenant, u.api_key_id, u.period, u.window_start,
              u.spent_nanos::numeric AS after, (u.spent_nanos - d.spent)::numeric AS before
  ), crossed AS (
    SELECT w.*, b.limit_nanos, pct
      FROM updated AS w
      JOIN budgets AS b
        ON b.tenant = w.tenant AND b.api_key_id = w.api_key_id AND b.period = w.period
     CROSS JOIN LATERAL unnest(CASE WHEN cardinality(b.alert_percents) > 0
                                    THEN b.alert_percents ELSE p_default_percents END) AS pct
     WHERE w.after > w.before
       AND w.after > 0 AND w.after * 100 >= b.limit_nanos::numeric * pct
       AND NOT (w.before > 0 AND w.before * 100 >= b.limit_nanos::numeric * pct)
  ), fired AS (
    INSERT INTO budget_alerts (alert_id, tenant, api_key_id, period, window_start,
                               threshold_percent, limit_nanos, spent_nanos, delivery,
                               lease_until)
    SELECT gen_random_uuid()::text, tenant, api_key_id, period, window_start, pct,
           limit_nanos, after, p_delivery,
           CASE WHEN p_delivery = 'pending'
                THEN now() + p_lease_ms * interval '1 millisecond' END
      FROM crossed
    ON CONFLICT (tenant, api_key_id, period, window_start, threshold_percent) DO NOTHING
    RETURNING alert_id, tenant, api_key_id, period, window_start, threshold_percent,
              limit_nanos, spent_nanos, fired_at
  )
  SELECT COALESCE(jsonb_agg(jsonb_build_object(
           'alert_id', alert_id, 'tenant', tenant, 'api_key_id', api_key_id,
           'period', period,
           'window_start',
             to_char(window_start AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
           'threshold_percent', threshold_percent, 'limit_nanos', limit_nanos::text,
           'spent_nanos', spent_nanos::text, 'fired_at', fired_at)), '[]'::jsonb)
    INTO v_fired
    FROM fired;

  RETURN jsonb_build_object('alerts', v_fired, 'unmatched', v_unmatched);
END
$$;

-- Down Migration

DROP FUNCTION ledger_settle(integer, jsonb, integer[], text, integer);
DROP FUNCTION ledger_reserve(integer, text, text, text, text, text, bigint, bigint, text,
                             integer);
DROP FUNCTION ledger_release_charges(text, jsonb, bigint, bigint);
DROP FUNCTION ledger_budget_windows(text, text, timestamptz);
DROP FUNCTION ledger_lock_tenants(integer, text[]);
DROP TABLE budget_alerts;
DROP TABLE budget_reservations;
DROP TABLE budget_usage;
DROP TABLE budgets;
DROP INDEX usage_records_tenant_key_started_at;
ALTER TABLE usage_records
  DROP COLUMN reservation_id,
  DROP COLUMN input_nanos_per_mtok,
  DROP COLUMN output_nanos_per_mtok,
  DROP COLUMN cache_read_nanos_per_mtok,
  DROP COLUMN cache_write_nanos_per_mtok;
