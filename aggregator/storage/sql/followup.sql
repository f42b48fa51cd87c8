-- Follow-up side: notifications, SLA clocks, the SLA report.

-- name: lock_complaint_notifications
SELECT pg_advisory_xact_lock(hashtextextended('notify:' || $1::text, 0));

-- name: get_notify_complaint
SELECT c.id, c.source, c.channel, c.title, c.status, c.agency_id, c.agency_name,
       c.anonymous, c.lapor_tracking_id, c.origin, c.solved_asked_at, c.duplicate_of,
       r.name_enc, r.email_enc, r.phone_enc,
       d.lapor_tracking_id AS linked_tracking_id
FROM complaints c
LEFT JOIN reporters r ON r.id = c.reporter_id
LEFT JOIN complaints d ON d.id = c.duplicate_of
WHERE c.id = $1;

-- name: lock_and_get_notify_complaint
-- lock_complaint_notifications ($2, the id as text) and get_notify_complaint ($1) in one
-- statement. The row is read in the statement's snapshot, which may be older than the lock:
-- what the notifier itself writes under the lock (notifications; solved_asked_at, set with a
-- guard of its own) is read by the statements after this one, which see it.
SELECT c.id, c.source, c.channel, c.title, c.status, c.agency_id, c.agency_name,
       c.anonymous, c.lapor_tracking_id, c.origin, c.solved_asked_at, c.duplicate_of,
       r.name_enc, r.email_enc, r.phone_enc,
       d.lapor_tracking_id AS linked_tracking_id
FROM (SELECT pg_advisory_xact_lock(hashtextextended('notify:' || $2::text, 0))) AS held
CROSS JOIN complaints c
LEFT JOIN reporters r ON r.id = c.reporter_id
LEFT JOIN complaints d ON d.id = c.duplicate_of
WHERE c.id = $1;

-- name: get_followup_for_notify
SELECT id, event_id, at, agency_id, agency_name, author, text, attachments, label, kind
FROM followups
WHERE complaint_id = $1 AND (event_id = $2 OR id = $3)
ORDER BY id LIMIT 1;

-- name: insert_notification
-- A notification for one event; the same dedup_key again (a retried job) finds the row.
INSERT INTO notifications (id, complaint_id, kind, channel, source, dedup_key, items, state,
                           detail)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
ON CONFLICT (dedup_key) DO NOTHING
RETURNING id;

-- name: insert_or_get_notification
-- insert_notification, and the state of the row the dedup key already had (NULL when the
-- row is new), in one statement.
WITH ins AS (
    INSERT INTO notifications (id, complaint_id, kind, channel, source, dedup_key, items,
                               state, detail)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
    ON CONFLICT (dedup_key) DO NOTHING
    RETURNING id
)
SELECT (SELECT id FROM ins) IS NOT NULL AS inserted,
       (SELECT state::text FROM notifications WHERE dedup_key = $6) AS existing_state;

-- name: fix_pending_notifications
-- A complaint's queued notifications, with those in no batch yet put into one whose head is
-- the newest of them, in one statement (the caller holds the complaint's lock). Each row as
-- it is after: ``merged_into`` its batch's head, ``fresh`` when it was put in one just now.
WITH pending AS (
    SELECT id, kind, channel, source, items, merged_into, created_at
    FROM notifications
    WHERE complaint_id = $1 AND state = 'queued'
),
head AS (
    SELECT id FROM pending WHERE merged_into IS NULL ORDER BY created_at DESC, id DESC LIMIT 1
),
assigned AS (
    UPDATE notifications n SET merged_into = (SELECT id FROM head)
    FROM pending p
    WHERE n.id = p.id AND p.merged_into IS NULL
    RETURNING n.id
)
SELECT p.id, p.kind, p.channel, p.source, p.items,
       coalesce(p.merged_into, (SELECT id FROM head)) AS merged_into, p.created_at,
       p.merged_into IS NULL AS fresh
FROM pending p
ORDER BY p.created_at, p.id;

-- name: mark_notification_sent
-- The head of a batch carries the message; the others point at it.
UPDATE notifications
SET state = CASE WHEN id = $1 THEN $2::notification_state ELSE 'sent' END,
    channel = $3, body_enc = CASE WHEN id = $1 THEN $4::bytea ELSE body_enc END,
    body_key = CASE WHEN id = $1 THEN $9 ELSE body_key END,
    subject = CASE WHEN id = $1 THEN $5 ELSE subject END,
    external_id = CASE WHEN id = $1 THEN $6 ELSE external_id END,
    detail = CASE WHEN id = $1 THEN $7 ELSE 'sent with ' || $1::text END,
    sent_at = $8::timestamptz,
    delivered_at = CASE WHEN $2::notification_state = 'delivered' THEN $8::timestamptz ELSE NULL END
WHERE merged_into = $1 AND state = 'queued';

-- name: mark_notification_sent_with_event
-- mark_notification_sent, its timeline event and, when $13 is not NULL, the sink's success
-- (record_component_success: $13 component, $14 sink name, $15 when) in one statement (one
-- round trip, its own transaction): $10 complaint, $11 event kind, $12 event data.
WITH sent AS (
    UPDATE notifications
    SET state = CASE WHEN id = $1 THEN $2::notification_state ELSE 'sent' END,
        channel = $3, body_enc = CASE WHEN id = $1 THEN $4::bytea ELSE body_enc END,
        body_key = CASE WHEN id = $1 THEN $9 ELSE body_key END,
        subject = CASE WHEN id = $1 THEN $5 ELSE subject END,
        external_id = CASE WHEN id = $1 THEN $6 ELSE external_id END,
        detail = CASE WHEN id = $1 THEN $7 ELSE 'sent with ' || $1::text END,
        sent_at = $8::timestamptz,
        delivered_at = CASE WHEN $2::notification_state = 'delivered' THEN $8::timestamptz
                            ELSE NULL END
    WHERE merged_into = $1 AND state = 'queued'
    RETURNING id
),
sink_ok AS (
    INSERT INTO component_health (component, kind, name, last_attempt_at, last_success_at,
                                  consecutive_failures, needs_human, last_items)
    SELECT $13, 'sink', $14, $15, $15, 0, false, 1
    WHERE $13::text IS NOT NULL
    ON CONFLICT (component) DO UPDATE
    SET last_attempt_at = EXCLUDED.last_attempt_at, last_success_at = EXCLUDED.last_success_at,
        consecutive_failures = 0, needs_human = false, last_items = EXCLUDED.last_items
    RETURNING component
)
INSERT INTO events (complaint_id, kind, at, actor, data)
VALUES ($10, $11, now(), 'system', $12);

-- name: mark_notification_skipped
UPDATE notifications SET state = 'skipped', detail = $2 WHERE id = $1 AND state = 'queued';

-- name: has_queued_flush
SELECT EXISTS (
    SELECT 1 FROM jobs
    WHERE kind = 'notify' AND complaint_id = $1 AND state IN ('queued', 'in_doubt')
      AND payload ->> 'event' = 'flush');

-- name: set_solved_asked
UPDATE complaints SET solved_asked_at = $2, updated_at = now()
WHERE id = $1 AND solved_asked_at IS NULL
RETURNING id;

-- name: list_notifications_for_complaint
SELECT id, kind, channel, source, state, subject, body, body_enc, items, merged_into,
       external_id, detail, created_at, sent_at, delivered_at
FROM notifications WHERE complaint_id = $1 ORDER BY created_at, id;

-- name: insert_standalone_notification
INSERT INTO notifications (id, complaint_id, kind, channel, source, dedup_key, items, state,
                           subject, body_enc, external_id, detail, sent_at, body_key)
VALUES ($1, $2, $3, $4, $5, $6, '[]', $7, $8, $9, $10, $11, $12, $13)
ON CONFLICT (dedup_key) DO UPDATE
SET state = EXCLUDED.state, external_id = EXCLUDED.external_id, detail = EXCLUDED.detail,
    sent_at = EXCLUDED.sent_at
WHERE notifications.state IN ('queued', 'failed')
RETURNING id;

-- name: get_notification_state
SELECT state FROM notifications WHERE dedup_key = $1;

-- SLA ---------------------------------------------------------------------------------------

-- name: list_sla_candidates
-- Complaints in LAPOR! whose clocks may still move: not closed, or closed with a clock that
-- is still open or never evaluated, or touched recently.
SELECT c.id, c.lapor_tracking_id, c.lapor_created_at, c.status, c.status_at, c.agency_id,
       c.agency_name, c.waiting_on_reporter, c.closed_without_real_followup, c.reopen_count
FROM complaints c
WHERE c.lapor_tracking_id IS NOT NULL AND c.lapor_created_at IS NOT NULL AND c.id > $1
  AND (c.status NOT IN ('selesai', 'arsip', 'bukan_wewenang', 'dihapus')
       OR c.updated_at > $3
       OR NOT EXISTS (SELECT 1 FROM sla_clocks s WHERE s.complaint_id = c.id
                      AND s.clock = 'settlement')
       OR EXISTS (SELECT 1 FROM sla_clocks s WHERE s.complaint_id = c.id
                  AND s.met_at IS NULL AND s.breached_at IS NULL))
ORDER BY c.id
LIMIT $2;

-- name: list_sla_history
-- What moves the clocks, for a set of complaints: LAPOR! events, follow-ups, our replies.
SELECT c.id AS complaint_id, e.at, e.type AS kind, e.body ->> 'status' AS status,
       e.body -> 'agency' ->> 'id' AS agency_id, NULL::text AS label
FROM complaints c JOIN lapor_events e ON e.tracking_id = c.lapor_tracking_id
WHERE c.id = ANY($1::uuid[])
  AND e.type IN ('status_changed', 'disposed', 'reporter_replied', 'deleted')
UNION ALL
SELECT f.complaint_id, f.at, CASE WHEN f.kind = 'info_request' THEN 'info_requested'
                                  ELSE 'response' END, NULL, f.agency_id, f.label::text
FROM followups f WHERE f.complaint_id = ANY($1::uuid[])
UNION ALL
SELECT r.complaint_id, coalesce(r.sent_at, r.created_at), 'reporter_replied', NULL, NULL, NULL
FROM reporter_replies r WHERE r.complaint_id = ANY($1::uuid[])
  AND r.verified  -- a held reply (not from the reporter) does not move an agency's clock
ORDER BY 1, 2;

-- name: list_sla_clocks
SELECT complaint_id, clock, started_at, due_at, paused_at, paused_total, met_at, breached_at,
       agency_id
FROM sla_clocks WHERE complaint_id = ANY($1::uuid[]);

-- name: upsert_sla_clock
INSERT INTO sla_clocks (complaint_id, clock, started_at, due_at, paused_at, paused_total,
                        met_at, breached_at, agency_id)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
ON CONFLICT (complaint_id, clock) DO UPDATE
SET started_at = EXCLUDED.started_at, due_at = EXCLUDED.due_at,
    paused_at = EXCLUDED.paused_at, paused_total = EXCLUDED.paused_total,
    met_at = EXCLUDED.met_at,
    -- a breach is history: it stays even if the clock is met late
    breached_at = coalesce(sla_clocks.breached_at, EXCLUDED.breached_at),
    agency_id = EXCLUDED.agency_id;

-- name: set_followup_flags
UPDATE complaints
SET closed_without_real_followup = $2, reopen_count = greatest(reopen_count, $3),
    updated_at = CASE WHEN closed_without_real_followup IS DISTINCT FROM $2
                        OR reopen_count < $3 THEN now() ELSE updated_at END
WHERE id = $1;

-- Report ------------------------------------------------------------------------------------

-- name: report_sla_complaints
-- One row per complaint received in [from, to), with what the SLA report aggregates.
SELECT c.id, coalesce(c.agency_id, '') AS agency_id, c.agency_name, c.status,
       c.closed_without_real_followup, c.reopen_count,
       coalesce(fr.started_at, c.lapor_created_at) AS assigned_at,
       (SELECT min(f.at) FROM followups f WHERE f.complaint_id = c.id
          AND f.label IN ('substantive', 'substantive_with_evidence')) AS first_substantive_at,
       (SELECT count(*) FROM followups f WHERE f.complaint_id = c.id
          AND f.kind = 'response') AS responses,
       (SELECT count(*) FROM followups f WHERE f.complaint_id = c.id
          AND f.kind = 'response' AND f.label = 'acknowledgement') AS ack_responses,
       (SELECT count(*) FROM sla_clocks s WHERE s.complaint_id = c.id
          AND s.breached_at IS NOT NULL) AS breaches,
       EXISTS (SELECT 1 FROM lapor_events e WHERE e.tracking_id = c.lapor_tracking_id
               AND e.type = 'status_changed' AND e.body ->> 'status' = 'selesai')
         OR c.status = 'selesai' AS ever_closed
FROM complaints c
LEFT JOIN sla_clocks fr ON fr.complaint_id = c.id AND fr.clock = 'first_response'
WHERE c.received_at >= $1 AND c.received_at < $2
  AND c.status NOT IN ('duplicate', 'history')
ORDER BY c.id;

-- name: list_undelivered_notifications
-- Heads of messages handed to a channel that can tell later whether they arrived.
SELECT id, source FROM notifications
WHERE state = 'sent' AND external_id IS NOT NULL AND sent_at > $1
  AND source = ANY($2::text[])
ORDER BY sent_at
LIMIT $3;

-- name: set_notification_delivery
UPDATE notifications
SET state = $2::notification_state,
    delivered_at = CASE WHEN $2 = 'delivered' THEN coalesce($3, now()) ELSE delivered_at END,
    detail = coalesce($4, detail)
WHERE id = $1 AND state = 'sent';
