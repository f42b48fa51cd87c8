-- name: register_component
-- Configured components are listed (as unknown) before their first contact.
INSERT INTO component_health (component, kind, name, expected_interval_s)
VALUES ($1, $2, $3, $4)
ON CONFLICT (component) DO UPDATE SET expected_interval_s = EXCLUDED.expected_interval_s;

-- name: record_component_success
INSERT INTO component_health (component, kind, name, last_attempt_at, last_success_at,
                              consecutive_failures, needs_human, last_items)
VALUES ($1, $2, $3, $4, $4, 0, false, $5)
ON CONFLICT (component) DO UPDATE
SET last_attempt_at = EXCLUDED.last_attempt_at, last_success_at = EXCLUDED.last_success_at,
    consecutive_failures = 0, needs_human = false, last_items = EXCLUDED.last_items;

-- name: record_component_failure
INSERT INTO component_health (component, kind, name, last_attempt_at, last_failure_at,
                              consecutive_failures, needs_human, last_error)
VALUES ($1, $2, $3, $4, $4, 1, $5, $6)
ON CONFLICT (component) DO UPDATE
SET last_attempt_at = EXCLUDED.last_attempt_at, last_failure_at = EXCLUDED.last_failure_at,
    consecutive_failures = component_health.consecutive_failures + 1,
    needs_human = EXCLUDED.needs_human, last_error = EXCLUDED.last_error;

-- name: list_components
SELECT component, kind, name, registered_at, last_attempt_at, last_success_at,
       last_failure_at, consecutive_failures, needs_human, last_error, expected_interval_s,
       last_items
FROM component_health ORDER BY kind, name;

-- name: lock_incident_evaluation
-- One evaluator at a time across replicas (released with the transaction).
SELECT pg_try_advisory_xact_lock(hashtext('satukanal:incidents'));

-- name: list_active_incidents
SELECT * FROM incidents WHERE state <> 'resolved' ORDER BY first_seen_at, id;

-- name: list_open_incidents
SELECT * FROM incidents WHERE state = 'open' ORDER BY opened_at, id;

-- name: list_recent_incidents
SELECT * FROM incidents ORDER BY coalesce(resolved_at, opened_at, first_seen_at) DESC, id DESC
LIMIT $1;

-- name: insert_pending_incident
INSERT INTO incidents (kind, subject, summary, detail, first_seen_at, last_seen_at)
VALUES ($1, $2, $3, $4, $5, $5)
ON CONFLICT (kind, subject) WHERE state <> 'resolved' DO NOTHING
RETURNING *;

-- name: touch_incident
-- The condition still holds: keep its latest summary, and it is no longer clearing.
UPDATE incidents SET last_seen_at = $2, summary = $3, detail = $4, clear_since = NULL
WHERE id = $1 RETURNING *;

-- name: open_incident
UPDATE incidents SET state = 'open', opened_at = $2 WHERE id = $1 AND state = 'pending'
RETURNING *;

-- name: delete_pending_incident
-- It cleared before it was ever opened: a blip, nobody was told, nothing to keep.
DELETE FROM incidents WHERE id = $1 AND state = 'pending';

-- name: clearing_incident
UPDATE incidents SET clear_since = coalesce(clear_since, $2) WHERE id = $1 RETURNING *;

-- name: resolve_incident
UPDATE incidents SET state = 'resolved', resolved_at = $2 WHERE id = $1 AND state = 'open'
RETURNING *;

-- name: mark_incident_notified
UPDATE incidents
SET notified = notified || $2::jsonb, notify_attempts = notify_attempts + $3
WHERE id = $1;

-- name: list_unnotified_incidents
-- Openings (and resolutions) some contact has not been told of yet, a few tries each.
SELECT * FROM incidents
WHERE ((state = 'open' AND NOT notified ? ('opened:' || $1))
    OR (state = 'resolved' AND opened_at IS NOT NULL AND resolved_at > $2
        AND NOT notified ? ('resolved:' || $1)))
  AND notify_attempts < $3
ORDER BY id;

-- name: source_volume
-- Per source: items over the baseline days before the silent span, and within the span.
SELECT source,
       count(*) FILTER (WHERE ingested_at < $1) AS baseline,
       count(*) FILTER (WHERE ingested_at >= $1) AS recent
-- (one index range per configured source on raw_items_source_ingested_idx)
FROM raw_items
WHERE source = ANY($3::text[]) AND ingested_at >= $2
GROUP BY source;

-- name: count_dead_jobs
SELECT count(*) FROM jobs WHERE state = 'dead';

-- name: count_backlog
-- Through the partial indexes, as count_jobs does (every running job holds a lease).
SELECT count(*) FROM jobs
WHERE state IN ('queued', 'in_doubt') OR (state = 'running' AND lease_until IS NOT NULL);

-- name: delivery_outcomes_since
SELECT count(*) AS sent, count(*) FILTER (WHERE state = 'failed') AS failed
FROM notifications WHERE sent_at >= $1;

-- name: count_open_breaches
SELECT count(*) AS breaches, count(DISTINCT complaint_id) AS complaints
FROM sla_clocks WHERE breached_at >= $1;
