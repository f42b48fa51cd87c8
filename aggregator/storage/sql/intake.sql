-- name: insert_raw_items
-- Items already held for (source, source_ref) are skipped: re-pulls are harmless.
-- payload is the original encrypted under key $8 (aggregator/intake/sealing.py).
INSERT INTO raw_items (source, source_ref, received_at, content_type, payload, meta, state,
                       content_hash, payload_key)
SELECT $1, r.source_ref, r.received_at, r.content_type, r.payload, r.meta::jsonb, 'accepted',
       r.content_hash, $8
FROM unnest($2::text[], $3::timestamptz[], $4::text[], $5::bytea[], $6::text[], $7::bytea[])
     AS r(source_ref, received_at, content_type, payload, meta, content_hash)
ON CONFLICT (source, source_ref) DO NOTHING
RETURNING id, source_ref;

-- name: insert_quarantined_raw_item
-- An item that could not be stored the ordinary way, kept (encrypted) with the reason.
INSERT INTO raw_items (source, source_ref, received_at, content_type, payload, meta, state,
                       reason, payload_key, content_hash)
VALUES ($1, $2, $3, $4, $5, $6::jsonb, 'quarantined', $7, $8, $9)
ON CONFLICT (source, source_ref) DO NOTHING RETURNING id;

-- name: set_raw_states
UPDATE raw_items r
SET state = u.state::raw_state, reason = u.reason, complaint_id = u.complaint_id
FROM unnest($1::bigint[], $2::text[], $3::text[], $4::uuid[]) AS u(id, state, reason, complaint_id)
WHERE r.id = u.id;

-- name: insert_reporters
INSERT INTO reporters (id, key_id, name_enc, email_enc, phone_enc, nik_enc,
                       email_hash, phone_hash, nik_hash, nik_valid)
SELECT * FROM unnest($1::uuid[], $2::text[], $3::bytea[], $4::bytea[], $5::bytea[], $6::bytea[],
                     $7::bytea[], $8::bytea[], $9::bytea[], $10::boolean[]);

-- name: insert_complaints
INSERT INTO complaints (id, source, channel, raw_item_id, reporter_id, title, content,
                        classification, agency_id, source_agency, anonymous, confidential,
                        location, occurred_on, submitted_at, status, duplicate_of, content_hash,
                        thread_keys, origin, flags, legacy_status, category_id,
                        route_category, route_agency, route_confidence, route_reasons,
                        needs_triage)
SELECT c.id, $1, c.channel, c.raw_item_id, c.reporter_id, c.title, c.content, c.classification,
       c.agency_id, $2, c.anonymous, c.confidential, c.location::jsonb, c.occurred_on,
       c.submitted_at, c.status::complaint_status, c.duplicate_of, c.content_hash,
       ARRAY(SELECT jsonb_array_elements_text(c.thread_keys::jsonb)),
       c.origin::jsonb,
       ARRAY(SELECT jsonb_array_elements_text(c.flags::jsonb)),
       c.legacy_status, c.category_id, c.route_category, c.route_agency, c.route_confidence,
       ARRAY(SELECT jsonb_array_elements_text(c.route_reasons::jsonb)), c.needs_triage
FROM unnest($3::uuid[], $4::text[], $5::bigint[], $6::uuid[], $7::text[], $8::text[],
            $9::text[], $10::text[], $11::boolean[], $12::boolean[], $13::text[], $14::date[],
            $15::timestamptz[], $16::text[], $17::uuid[], $18::bytea[], $19::text[],
            $20::text[], $21::text[], $22::text[], $23::text[], $24::text[], $25::text[],
            $26::real[], $27::text[], $28::boolean[])
     AS c(id, channel, raw_item_id, reporter_id, title, content, classification, agency_id,
          anonymous, confidential, location, occurred_on, submitted_at, status, duplicate_of,
          content_hash, thread_keys, origin, flags, legacy_status, category_id,
          route_category, route_agency, route_confidence, route_reasons, needs_triage);

-- name: insert_attachment
INSERT INTO attachments (sha256, content_type, size, data)
VALUES ($1, $2, $3, $4)
ON CONFLICT (sha256) DO NOTHING;

-- name: link_attachment
INSERT INTO complaint_attachments (complaint_id, sha256, filename, note)
VALUES ($1, $2, $3, $4)
ON CONFLICT DO NOTHING;

-- name: insert_jobs
-- $6: the lane of every job (0 live, 1 bulk: a backfill's, see migration 0200)
INSERT INTO jobs (kind, complaint_id, payload, dedup_key, run_after, lane)
SELECT j.kind, j.complaint_id, j.payload::jsonb, j.dedup_key, coalesce(j.run_after, now()),
       $6::smallint
FROM unnest($1::text[], $2::uuid[], $3::text[], $4::text[], $5::timestamptz[])
     AS j(kind, complaint_id, payload, dedup_key, run_after)
ON CONFLICT (dedup_key) WHERE dedup_key IS NOT NULL DO NOTHING;

-- name: insert_events
INSERT INTO events (complaint_id, kind, at, actor, data)
SELECT e.complaint_id, e.kind, now(), e.actor, e.data::jsonb
FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[]) AS e(complaint_id, kind, actor, data);

-- name: find_recent_duplicates
-- Complaints with the same normalised text in the window, with their reporter's hashes.
-- The text hashes are probed first (MATERIALIZED): left to itself the planner ANDs them
-- with complaints_received_idx, which reads every complaint of the window, and after a
-- backfill that is every complaint there is (all received today).
-- A report LAPOR! already closed, archived or deleted is no home for a re-sent complaint
-- (its progress will never come): the re-sent one becomes a new complaint. A double
-- submission inside an imported archive (history) is still one complaint.
WITH same AS MATERIALIZED (
    SELECT id, content_hash, reporter_id, received_at, duplicate_of, status
    FROM complaints WHERE content_hash = ANY($1::bytea[])
)
SELECT c.id, c.content_hash, r.phone_hash, r.email_hash, r.nik_hash
FROM same c LEFT JOIN reporters r ON r.id = c.reporter_id
WHERE c.received_at > now() - make_interval(days => $2)
  AND c.duplicate_of IS NULL
  AND c.status NOT IN ('selesai', 'arsip', 'dihapus')
ORDER BY c.received_at;

-- name: find_held_raw_refs
-- Which of these source_refs a source already holds.
SELECT source_ref FROM raw_items WHERE source = $1 AND source_ref = ANY($2::text[]);

-- name: find_complaint_by_id
SELECT id, status FROM complaints WHERE id = $1;

-- name: find_complaint_by_tracking_id
SELECT id, status FROM complaints WHERE lapor_tracking_id = $1;

-- name: find_complaint_by_thread
SELECT c.id, c.status FROM complaints c
WHERE c.thread_keys && $1::text[]
UNION
SELECT n.complaint_id, c.status FROM notifications n JOIN complaints c ON c.id = n.complaint_id
WHERE n.external_id = ANY($1::text[])
LIMIT 1;

-- name: find_open_complaint_by_reporter_hash
-- The newest complaint from this phone/e-mail inside the reply window that is still open
-- (or closed recently enough that a SUDAH/BELUM answer belongs to it).
SELECT c.id, c.status FROM complaints c JOIN reporters r ON r.id = c.reporter_id
WHERE (r.phone_hash = $1 OR r.email_hash = $2)
  AND c.received_at > now() - make_interval(days => $3)
  AND c.status NOT IN ('duplicate', 'history', 'dihapus')
  AND ($4 OR c.status NOT IN ('selesai', 'arsip', 'bukan_wewenang'))
ORDER BY c.received_at DESC
LIMIT 1;

-- name: insert_reporter_replies
INSERT INTO reporter_replies (id, complaint_id, raw_item_id, channel, text, sent_at, resolved)
SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::bigint[], $4::text[], $5::text[],
                     $6::timestamptz[], $7::boolean[]);

-- name: set_resolved_by_reporter
UPDATE complaints SET resolved_by_reporter = $2, updated_at = now() WHERE id = $1;

-- name: find_open_complaints_by_phone_hashes
-- The newest open complaint per phone inside the reply window: an SMS from that number
-- without a new-complaint keyword is a reply to it.
SELECT DISTINCT ON (r.phone_hash) r.phone_hash, c.id, c.received_at
FROM complaints c JOIN reporters r ON r.id = c.reporter_id
WHERE r.phone_hash = ANY($1::bytea[])
  AND c.received_at > now() - make_interval(days => $2)
  AND c.status NOT IN ('duplicate', 'history', 'dihapus', 'selesai', 'arsip', 'bukan_wewenang')
ORDER BY r.phone_hash, c.received_at DESC;

-- name: save_source_cursor
INSERT INTO source_state (source, kind, cursor, last_poll_at, last_success_at, last_batch_size,
                          items_total)
VALUES ($1, $2, $3, now(), now(), $4::int, $4::int)
ON CONFLICT (source) DO UPDATE
SET cursor = coalesce(EXCLUDED.cursor, source_state.cursor), last_poll_at = now(),
    last_success_at = now(), last_batch_size = EXCLUDED.last_batch_size,
    items_total = source_state.items_total + EXCLUDED.last_batch_size,
    degraded = false;

-- name: notify_jobs
SELECT pg_notify('satukanal_jobs', $1);

-- name: find_complaint_by_form_row
-- The complaint an old form's row became, by the row's thread key, in this source only (two
-- form databases may each have a `pengaduan` row 1). Locked: a re-scan update changes it.
SELECT id, status::text AS status, legacy_status, origin FROM complaints
WHERE source = $1 AND thread_keys @> ARRAY[$2::text]
ORDER BY received_at, id
LIMIT 1
FOR UPDATE;

-- name: apply_legacy_form_update
-- What the old form shows now: its status (mapped; NULL keeps ours) and origin facts.
-- Neither column fires the write-back trigger, so nothing is mirrored back.
UPDATE complaints
SET legacy_status = coalesce($2, legacy_status), origin = origin || $3::jsonb,
    updated_at = now()
WHERE id = $1;

-- name: held_raw_digests
-- Held raw items (digest and original), to tell a re-pull from a reused reference.
SELECT source_ref, content_hash, payload, payload_key FROM raw_items
WHERE source = $1 AND source_ref = ANY($2::text[]);
