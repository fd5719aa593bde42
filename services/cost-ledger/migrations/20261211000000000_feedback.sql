-- Up Migration

-- A caller's quality score for a request, 0 (worst) to 1 (best); set once.
ALTER TABLE usage_records
  ADD COLUMN quality_score double precision CHECK (quality_score >= 0 AND quality_score <= 1),
  ADD COLUMN feedback_comment text,
  ADD COLUMN feedback_at timestamptz;

-- Down Migration

ALTER TABLE usage_records
  DROP COLUMN feedback_at,
  DROP COLUMN feedback_comment,
  DROP COLUMN quality_score;
