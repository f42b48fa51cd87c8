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
