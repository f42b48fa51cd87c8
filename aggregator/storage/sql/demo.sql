-- The demo's progress and its closing summary (aggregator/demo/story.py).

-- name: demo_progress
-- What keeps the demo from being over: complaints not yet in a final state, messages not yet
-- delivered (queued, or an SMS whose delivery report has not come back), open jobs.
SELECT
    (SELECT count(*) FROM complaints) AS complaints,
    (SELECT count(*) FROM complaints
     WHERE status NOT IN ('selesai', 'arsip', 'bukan_wewenang', 'dihapus', 'duplicate',
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
ORDER BY c.received_at, c.id;

-- name: demo_followup_labels
SELECT label::text AS label, count(*) AS n,
       count(*) FILTER (WHERE jsonb_array_length(attachments) > 0) AS with_photos
FROM followups
GROUP BY label
ORDER BY label;

-- name: demo_messages
-- One row per message a citizen got (a merged batch counts once, under its head; a status
-- change that is no news to a citizen was never sent).
SELECT channel, state::text AS state, count(*) AS n
FROM notifications
WHERE (merged_into IS NULL OR merged_into = id) AND state <> 'skipped'
GROUP BY channel, state
ORDER BY channel, state;
