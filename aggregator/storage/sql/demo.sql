-- The demo's progress and its closing summary (aggregator/demo/story.py). $1 is when this
-- demo run started: a demo run again in the same data directory tells its own story.

-- name: demo_progress
-- What keeps the demo from being over: this run's complaints not yet in a final state,
-- messages not yet delivered (queued, or an SMS whose delivery report has not come back),
-- open jobs.
SELECT
    (SELECT count(*) FROM complaints WHERE received_at >= $1) AS complaints,
    (SELECT count(*) FROM complaints
     WHERE received_at >= $1
       AND status NOT IN ('selesai', 'arsip', 'bukan_wewenang', 'dihapus', 'duplicate',
                          'history', 'rejected_by_lapor')) AS open_complaints,
    (SELECT count(*) FROM notifications
     WHERE state = 'queued'
        OR (state = 'sent' AND channel = 'sms'
            AND (merged_into IS NULL OR merged_into = id))) AS undelivered,
    (SELECT count(*) FROM jobs WHERE state IN ('queued', 'running', 'in_doubt')) AS open_jobs;

-- name: demo_complaints
SELECT c.id, c.channel, c.source, c.lapor_tracking_id, c.status, c.agency_name, c.title,
       c.closed_without_real_followup,
       (SELECT count(*) FROM followups f WHERE f.complaint_id = c.id) AS responses
FROM complaints c
WHERE c.received_at >= $1
ORDER BY c.received_at, c.id;

-- name: demo_followup_labels
SELECT f.label::text AS label, count(*) AS n,
       count(*) FILTER (WHERE jsonb_array_length(f.attachments) > 0) AS with_photos
FROM followups f
JOIN complaints c ON c.id = f.complaint_id
WHERE c.received_at >= $1
GROUP BY f.label
ORDER BY f.label;

-- name: demo_messages
-- One row per message a citizen got (a merged batch counts once, under its head; a status
-- change that is no news to a citizen was never sent).
SELECT n.channel, n.state::text AS state, count(*) AS n
FROM notifications n
LEFT JOIN complaints c ON c.id = n.complaint_id
WHERE (n.merged_into IS NULL OR n.merged_into = n.id) AND n.state <> 'skipped'
  AND coalesce(c.received_at, n.created_at) >= $1
GROUP BY n.channel, n.state
ORDER BY n.channel, n.state;
