-- LAPOR! side: push, the updates feed, the manual worklist.

-- name: get_push_complaints
SELECT c.id, c.channel, c.title, c.content, c.classification, c.category_id, c.agency_id,
       c.anonymous, c.confidential, c.location, c.occurred_on, c.submitted_at, c.received_at,
       c.status, c.lapor_tracking_id, c.duplicate_of,
       r.name_enc, r.email_enc, r.phone_enc, r.nik_enc,
       EXISTS (SELECT 1 FROM complaint_attachments ca WHERE ca.complaint_id = c.id)
           AS has_attachments
FROM complaints c LEFT JOIN reporters r ON r.id = c.reporter_id
-- The ids asked for and those of the other push jobs this process holds (one read serves a
-- claimed batch), looked up in complaints_pkey. Not "id = ANY($1) OR id IN (…)": an OR of
-- the two reads every complaint, and with a million of them (an archive imported) each
-- push took a second. Every running job holds a lease: saying so lets jobs_lease_idx find
-- this process's among a backfill's queued million.
WHERE c.id = ANY (ARRAY(
    SELECT unnest($1::uuid[])
    UNION
    (SELECT j.complaint_id FROM jobs j
     WHERE j.kind = 'push' AND j.state = 'running' AND j.lease_until IS NOT NULL
       AND j.lease_owner = $2 AND j.complaint_id IS NOT NULL
     LIMIT $3)));

-- name: list_push_attachments
SELECT ca.sha256, ca.filename, ca.lapor_attachment_id, a.content_type, a.size, a.data
FROM complaint_attachments ca JOIN attachments a ON a.sha256 = ca.sha256
WHERE ca.complaint_id = $1
ORDER BY ca.filename, ca.sha256;

-- name: set_lapor_attachment_id
UPDATE complaint_attachments SET lapor_attachment_id = $3
WHERE complaint_id = $1 AND sha256 = $2;

-- name: mark_complaints_pushed
-- One statement, so one transaction per batch: for each complaint the Tracking ID (set once;
-- updated = false when it was there already), LAPOR!'s first status as of the report's
-- creation (unknown creation time: the receipt time, so every feed event counts as newer),
-- the timeline event and the notify job for the citizen; and the feed events that came
-- before we knew the Tracking ID.
-- The commit does not wait for its WAL flush (synchronous_commit off, this transaction only):
-- the worker's later, synchronous "job done" commit flushes the WAL past this one, so the
-- Tracking ID is durable before the job counts as done; a crash before that re-runs the job,
-- which looks the report up by external_ref first.
WITH input AS (
    SELECT i.* FROM unnest($1::uuid[], $2::text[], $3::timestamptz[], $4::text[], $5::text[],
                           $6::text[], $7::text[], $8::text[], $9::smallint[])
        AS i(id, tracking_id, created_at, status, actor, data, payload, dedup_key, lane),
        (SELECT set_config('synchronous_commit', 'off', true)) AS cfg
), upd AS (
    UPDATE complaints c
    SET lapor_tracking_id = i.tracking_id,
        lapor_created_at = coalesce(c.lapor_created_at, i.created_at),
        status = CASE WHEN c.status IN ('received', 'manual_pending', 'rejected_by_lapor')
                      THEN i.status::complaint_status ELSE c.status END,
        status_at = CASE WHEN c.status IN ('received', 'manual_pending', 'rejected_by_lapor')
                         THEN coalesce(i.created_at, c.received_at) ELSE c.status_at END,
        lapor_errors = NULL,
        updated_at = now()
    FROM input i
    WHERE c.id = i.id AND c.lapor_tracking_id IS NULL
    RETURNING c.id
), ev AS (
    INSERT INTO events (complaint_id, kind, at, actor, data)
    SELECT i.id, 'lapor_pushed', now(), i.actor, i.data::jsonb FROM input i JOIN upd USING (id)
), job AS (
    -- Through enqueue_jobs() (migration 0160), the one place jobs are inserted, in the lane
    -- of the push (a backfill's acknowledgements wait in the bulk lane). A SELECT in WITH
    -- runs only as far as the main query reads it: ``queued`` below reads it.
    SELECT count(*) AS n FROM (
        SELECT enqueue_jobs(array_agg('notify'::text), array_agg(i.id),
                            array_agg(i.payload::jsonb), array_agg(i.dedup_key), NULL, NULL,
                            NULL, array_agg(i.lane))
        FROM input i JOIN upd USING (id)
    ) AS e
), wake AS (
    -- The notify worker hears of the acknowledgement now, not at its next poll. Once per
    -- batch: the commit is asynchronous, so the NOTIFY queue's lock is held only briefly.
    SELECT pg_notify('satukanal_jobs', 'notify') WHERE (SELECT n FROM job) > 0
)
SELECT i.id, upd.id IS NOT NULL AS updated,
       ARRAY(SELECT e.event_id FROM lapor_events e
             WHERE e.tracking_id = i.tracking_id AND NOT e.applied ORDER BY e.at) AS waiting,
       (SELECT n FROM job) AS queued
FROM input i LEFT JOIN upd USING (id), (SELECT count(*) FROM wake) AS woken;

-- name: mark_complaint_rejected
UPDATE complaints
SET status = 'rejected_by_lapor', lapor_errors = $2, status_at = now(), updated_at = now()
WHERE id = $1 AND lapor_tracking_id IS NULL
RETURNING id;

-- name: mark_complaint_manual_pending
UPDATE complaints
SET status = 'manual_pending', status_at = now(), updated_at = now()
WHERE id = $1 AND lapor_tracking_id IS NULL AND status IN ('received', 'rejected_by_lapor')
RETURNING id;

-- name: get_reply_for_push
SELECT rr.id, rr.complaint_id, rr.text, rr.sent_at, rr.resolved, rr.lapor_reply_id,
       c.lapor_tracking_id, c.status
FROM reporter_replies rr JOIN complaints c ON c.id = rr.complaint_id
WHERE rr.id = $1;

-- name: set_lapor_reply_id
UPDATE reporter_replies SET lapor_reply_id = $2 WHERE id = $1 AND lapor_reply_id IS NULL
RETURNING id;

-- name: get_lapor_state
SELECT cursor, updated_at FROM lapor_state WHERE name = $1;

-- name: save_lapor_state
INSERT INTO lapor_state (name, cursor, updated_at) VALUES ($1, $2, now())
ON CONFLICT (name) DO UPDATE SET cursor = EXCLUDED.cursor, updated_at = now();

-- name: insert_lapor_events
-- The feed delivers at least once: an event already held is skipped.
INSERT INTO lapor_events (event_id, tracking_id, type, at, body)
SELECT e.event_id, e.tracking_id, e.type, e.at, e.body::jsonb
FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[], $5::text[])
     AS e(event_id, tracking_id, type, at, body)
ON CONFLICT (event_id) DO NOTHING
RETURNING event_id;

-- name: claim_lapor_events
-- Applied exactly once: whoever flips `applied` applies (the row lock decides races).
-- The body is returned only for events the caller has not parsed already ($2).
UPDATE lapor_events e
SET applied = true, complaint_id = c.id
FROM complaints c
WHERE e.event_id = ANY($1::text[]) AND NOT e.applied AND c.lapor_tracking_id = e.tracking_id
RETURNING e.event_id, CASE WHEN e.event_id = ANY($2::text[]) THEN NULL ELSE e.body END AS body,
          c.id AS complaint_id;

-- name: list_unapplied_lapor_events
-- Events that came before their complaint had its Tracking ID (push still in doubt).
SELECT e.event_id FROM lapor_events e
JOIN complaints c ON c.lapor_tracking_id = e.tracking_id
WHERE NOT e.applied
ORDER BY e.at
LIMIT $1;

-- name: list_unapplied_lapor_events_for_tracking
SELECT event_id FROM lapor_events WHERE tracking_id = $1 AND NOT applied ORDER BY at;

-- name: lock_complaints_for_events
SELECT id, status, status_at, classification, category_id, title, agency_id, agency_name,
       waiting_on_reporter
FROM complaints WHERE id = ANY($1::uuid[])
ORDER BY id
FOR UPDATE;

-- name: apply_complaint_changes
UPDATE complaints c
SET status = u.status::complaint_status, status_at = u.status_at,
    agency_id = u.agency_id, agency_name = u.agency_name,
    classification = u.classification, category_id = u.category_id, title = u.title,
    waiting_on_reporter = u.waiting, updated_at = now()
FROM unnest($1::uuid[], $2::text[], $3::timestamptz[], $4::text[], $5::text[], $6::text[],
            $7::text[], $8::text[], $9::boolean[])
     AS u(id, status, status_at, agency_id, agency_name, classification, category_id, title,
          waiting)
WHERE c.id = u.id;

-- name: note_lapor_events
UPDATE lapor_events e SET note = u.note
FROM unnest($1::text[], $2::text[]) AS u(event_id, note)
WHERE e.event_id = u.event_id;

-- name: insert_lapor_timeline
INSERT INTO events (complaint_id, kind, at, actor, data)
SELECT t.complaint_id, t.kind, t.at, t.actor, t.data::jsonb
FROM unnest($1::uuid[], $2::text[], $3::timestamptz[], $4::text[], $5::text[])
     AS t(complaint_id, kind, at, actor, data);

-- name: insert_followups
INSERT INTO followups (complaint_id, event_id, at, agency_id, agency_name, author, text,
                       attachments, label, reasons, kind)
SELECT f.complaint_id, f.event_id, f.at, f.agency_id, f.agency_name, f.author, f.text,
       f.attachments::jsonb, f.label::followup_label, f.reasons::jsonb, f.kind
FROM unnest($1::uuid[], $2::text[], $3::timestamptz[], $4::text[], $5::text[], $6::text[],
            $7::text[], $8::text[], $9::text[], $10::text[], $11::text[])
     AS f(complaint_id, event_id, at, agency_id, agency_name, author, text, attachments, label,
          reasons, kind)
ON CONFLICT (event_id) DO NOTHING;

-- name: list_manual_worklist
SELECT c.id, c.channel, c.title, c.content, c.classification, c.category_id, c.agency_id,
       c.anonymous, c.confidential, c.location, c.occurred_on, c.submitted_at, c.received_at,
       c.status, c.status_at, c.source,
       r.name_enc, r.email_enc, r.phone_enc, r.nik_enc
FROM complaints c LEFT JOIN reporters r ON r.id = c.reporter_id
WHERE c.status = 'manual_pending' AND c.lapor_tracking_id IS NULL
ORDER BY c.received_at
LIMIT $1 OFFSET $2;

-- name: count_manual_worklist
SELECT count(*) FROM complaints WHERE status = 'manual_pending' AND lapor_tracking_id IS NULL;

-- name: next_manual_event_seq
SELECT count(*) + 1 FROM lapor_events WHERE tracking_id = $1;

-- name: get_complaint_lapor
SELECT id, status, status_at, lapor_tracking_id, agency_id, agency_name
FROM complaints WHERE id = $1;

-- name: lock_lapor_feed
SELECT pg_advisory_xact_lock(1517092589);

-- name: reserve_rate_slots
-- GCRA: $2 slots of $3 seconds each from max(tat, now + $4); the caller sends slot i at
-- max(now, tat_before + i * $3 - burst tolerance). Returns the new tat and the clock it
-- was computed against.
INSERT INTO rate_buckets AS b (bucket, tat)
VALUES ($1, clock_timestamp() + make_interval(secs => $4::float8 + $2::int * $3::float8))
ON CONFLICT (bucket) DO UPDATE
SET tat = greatest(b.tat, clock_timestamp() + make_interval(secs => $4::float8))
    + make_interval(secs => $2::int * $3::float8)
RETURNING tat, clock_timestamp() AS db_now;
