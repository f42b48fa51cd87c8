-- name: take_source_lease
-- One process polls a source at a time; a dead process's lease simply expires.
INSERT INTO source_state (source, kind, lease_owner, lease_until)
VALUES ($1, $2, $3, now() + make_interval(secs => $4))
ON CONFLICT (source) DO UPDATE
SET lease_owner = EXCLUDED.lease_owner, lease_until = EXCLUDED.lease_until, kind = EXCLUDED.kind
WHERE source_state.lease_owner IS NULL OR source_state.lease_owner = EXCLUDED.lease_owner
   OR source_state.lease_until < now()
RETURNING cursor;

-- name: mark_source_recovered
UPDATE source_state SET degraded = false WHERE source = $1;

-- name: release_source_lease
UPDATE source_state SET lease_owner = NULL, lease_until = NULL
WHERE source = $1 AND lease_owner = $2;

-- name: record_source_poll
UPDATE source_state SET last_poll_at = now(), last_batch_size = $2 WHERE source = $1;

-- name: record_source_error
UPDATE source_state
SET last_poll_at = now(), last_error_at = now(), last_error = $2, degraded = $3
WHERE source = $1;

-- name: list_source_states
SELECT s.source, s.kind, s.last_poll_at, s.last_success_at, s.last_error_at, s.last_error,
       s.degraded, s.items_total, s.last_batch_size,
       (SELECT count(*) FROM raw_items r WHERE r.source = s.source AND r.state = 'quarantined')
           AS quarantined
FROM source_state s ORDER BY s.source;

-- name: get_source_cursor
SELECT cursor FROM source_state WHERE source = $1;
