-- Resumable archive imports (aggregator/intake/backfill.py) and the migration report.

-- name: get_backfill_run
SELECT source, cursor, started_at, finished_at, counts FROM backfill_runs WHERE source = $1;

-- name: start_backfill_run
-- A new run, or the unfinished one continued (its cursor and counts kept).
INSERT INTO backfill_runs (source, cursor, counts) VALUES ($1, NULL, $2)
ON CONFLICT (source) DO UPDATE
SET started_at = CASE WHEN backfill_runs.finished_at IS NULL THEN backfill_runs.started_at
                      ELSE now() END,
    cursor = CASE WHEN backfill_runs.finished_at IS NULL THEN backfill_runs.cursor END,
    counts = CASE WHEN backfill_runs.finished_at IS NULL THEN backfill_runs.counts
                  ELSE EXCLUDED.counts END,
    finished_at = NULL
RETURNING cursor, counts, started_at;

-- name: save_backfill_progress
UPDATE backfill_runs SET cursor = $2, counts = $3 WHERE source = $1;

-- name: finish_backfill_run
UPDATE backfill_runs SET finished_at = now(), counts = $2 WHERE source = $1;

-- name: delete_backfill_run
DELETE FROM backfill_runs WHERE source = $1;

-- Re-scan of old form rows across a backfill.

-- name: merge_backfill_open_rows
-- A backfill's open rows ($2 -> 'open': row id -> digest) join the live cursor's re-scan set
-- when the live poll already had a cursor (set_source_cursor_if_empty left it alone); the
-- live digests win, being newer.
UPDATE source_state
SET cursor = jsonb_set(cursor, '{open}',
                       coalesce($2::jsonb -> 'open', '{}'::jsonb)
                       || coalesce(cursor -> 'open', '{}'::jsonb))
WHERE source = $1 AND cursor IS NOT NULL AND $2::jsonb ? 'open';

-- name: migration_raw_counts
SELECT source,
       count(*) AS found,
       count(*) FILTER (WHERE state = 'quarantined') AS quarantined,
       count(*) FILTER (WHERE meta ? 'backfill') AS backfilled,
       max(ingested_at) FILTER (WHERE NOT meta ? 'backfill') AS last_live_at,
       count(*) FILTER (WHERE NOT meta ? 'backfill'
                        AND ingested_at > now() - make_interval(days => $1)) AS live_recent
FROM raw_items GROUP BY source;

-- name: migration_complaint_counts
SELECT source,
       count(*) AS complaints,
       count(*) FILTER (WHERE lapor_tracking_id IS NOT NULL) AS pushed,
       count(*) FILTER (WHERE status IN ('received', 'manual_pending')) AS waiting,
       count(*) FILTER (WHERE status = 'rejected_by_lapor') AS rejected,
       count(*) FILTER (WHERE status = 'history') AS history,
       count(*) FILTER (WHERE status = 'duplicate') AS duplicates,
       max(submitted_at) AS newest_submitted_at
FROM complaints GROUP BY source;

-- name: list_backfill_runs
SELECT source, started_at, finished_at, counts FROM backfill_runs ORDER BY source;
