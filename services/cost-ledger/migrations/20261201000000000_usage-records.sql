-- Up Migration

-- One row per request the mesh served, keyed by the mesh's own request id so that a retried
-- write is a no-op. Money is integer nano-dollars (1e-9 USD); sums are taken as numeric.
CREATE TABLE usage_records (
  request_id          text        PRIMARY KEY CHECK (request_id <> ''),
  tenant              text        NOT NULL CHECK (tenant <> ''),
  api_key_id          text        NOT NULL DEFAULT '',
  user_id             text        NOT NULL DEFAULT '',
  model_requested     text        NOT NULL DEFAULT '',
  model               text        NOT NULL DEFAULT '',
  provider            text        NOT NULL DEFAULT '',
  deployment          text        NOT NULL DEFAULT '',
  endpoint            text        NOT NULL DEFAULT '',
  input_tokens        bigint      NOT NULL DEFAULT 0 CHECK (input_tokens >= 0),
  output_tokens       bigint      NOT NULL DEFAULT 0 CHECK (output_tokens >= 0),
  cache_read_tokens   bigint      NOT NULL DEFAULT 0 CHECK (cache_read_tokens >= 0),
  cache_write_tokens  bigint      NOT NULL DEFAULT 0 CHECK (cache_write_tokens >= 0),
  -- A breakdown of output_tokens, never billed on its own.
  reasoning_tokens    bigint      NOT NULL DEFAULT 0 CHECK (reasoning_tokens >= 0),
  cost_nanos          bigint      NOT NULL CHECK (cost_nanos >= 0),
  currency            text        NOT NULL DEFAULT 'USD' CHECK (currency ~ '^[A-Z]{3}$'),
  latency_ms          bigint      NOT NULL DEFAULT 0 CHECK (latency_ms >= 0),
  status              text        NOT NULL
                      CHECK (status IN ('ok', 'error', 'blocked', 'cancelled')),
  cache_hit           boolean     NOT NULL DEFAULT false,
  started_at          timestamptz NOT NULL,
  finished_at         timestamptz NOT NULL,
  recorded_at         timestamptz NOT NULL DEFAULT now()
);

-- Spend queries filter by tenant over a time range.
CREATE INDEX usage_records_tenant_started_at ON usage_records (tenant, started_at);

-- Down Migration

DROP TABLE usage_records;
