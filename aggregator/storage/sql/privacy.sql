-- name: raw_items_needing_rotation
-- Raw originals not under the newest key: an older key, or plaintext from before encryption.
SELECT id, payload, payload_key, meta FROM raw_items
WHERE payload_key IS DISTINCT FROM $1 AND id > $2
ORDER BY id LIMIT $3 FOR UPDATE SKIP LOCKED;

-- name: update_raw_item_sealed
UPDATE raw_items SET payload = $2, payload_key = $3, meta = $4::jsonb, content_hash = $5
WHERE id = $1;

-- name: notifications_needing_rotation
SELECT id, body, body_enc, body_key FROM notifications
WHERE (body IS NOT NULL OR (body_enc IS NOT NULL AND body_key IS DISTINCT FROM $1))
  AND id > $2
ORDER BY id LIMIT $3 FOR UPDATE SKIP LOCKED;

-- name: update_notification_body
UPDATE notifications SET body = NULL, body_enc = $2, body_key = $3 WHERE id = $1;

-- name: jobs_needing_rotation
-- Jobs holding an address in plaintext (enqueued before sealing) or under an older key.
SELECT id, payload FROM jobs
WHERE (payload ? 'address' OR payload #>> '{address_enc,k}' IS DISTINCT FROM $1
       AND payload ? 'address_enc')
  AND id > $2
ORDER BY id LIMIT $3 FOR UPDATE SKIP LOCKED;

-- name: update_job_payload
UPDATE jobs SET payload = $2::jsonb WHERE id = $1;

-- name: complaints_needing_rotation
-- An anonymous reporter's original text (before redaction), sealed in origin.
SELECT id, origin FROM complaints
WHERE origin ? 'original_text' AND origin #>> '{original_text,k}' IS DISTINCT FROM $1
  AND id > $2
ORDER BY id LIMIT $3 FOR UPDATE SKIP LOCKED;

-- name: update_complaint_origin
UPDATE complaints SET origin = $2::jsonb WHERE id = $1;

-- name: purge_final_raw_originals
-- The bytes of raw originals whose complaint became final more than $1 days ago; the row
-- stays (it proves what was received, and when), emptied.
UPDATE raw_items r
SET payload = '\x'::bytea, payload_key = NULL, purged_at = now(),
    meta = r.meta - 'reply_to_enc' - 'sender_enc' - 'from_enc'
FROM complaints c
WHERE c.id = r.complaint_id AND r.purged_at IS NULL
  AND (c.status IN ('selesai', 'arsip', 'bukan_wewenang', 'dihapus', 'duplicate', 'history')
       OR c.erased_at IS NOT NULL)
  AND c.status_at < now() - make_interval(days => $1);

-- name: purge_unlinked_raw_items
-- Quarantined and ignored items older than $1 days that no complaint or reply points at.
DELETE FROM raw_items r
WHERE r.state IN ('quarantined', 'ignored') AND r.complaint_id IS NULL
  AND r.ingested_at < now() - make_interval(days => $1)
  AND NOT EXISTS (SELECT 1 FROM complaints c WHERE c.raw_item_id = r.id)
  AND NOT EXISTS (SELECT 1 FROM reporter_replies x WHERE x.raw_item_id = r.id);

-- name: purge_notification_bodies
UPDATE notifications SET body = NULL, body_enc = NULL, body_key = NULL
WHERE (body IS NOT NULL OR body_enc IS NOT NULL)
  AND coalesce(sent_at, created_at) < now() - make_interval(days => $1);

-- name: purge_finished_jobs
DELETE FROM jobs
WHERE state IN ('done', 'dead')
  AND coalesce(finished_at, updated_at) < now() - make_interval(days => $1);

-- name: purge_dashboard_sessions
DELETE FROM dashboard_sessions
WHERE expires_at < now() - make_interval(days => $1)
   OR revoked_at < now() - make_interval(days => $1);

-- name: purge_access_log
DELETE FROM access_log WHERE at < now() - make_interval(days => $1);

-- name: find_reporters_by_hashes
SELECT id FROM reporters WHERE phone_hash = $1 OR email_hash = $2 OR nik_hash = $3;

-- name: find_reporter_of_complaint
SELECT reporter_id FROM complaints WHERE id = $1;

-- name: complaints_of_reporters
SELECT id, title, content FROM complaints WHERE reporter_id = ANY($1::uuid[]) FOR UPDATE;

-- name: complaints_by_ids
SELECT id, title, content FROM complaints WHERE id = ANY($1::uuid[]) FOR UPDATE;

-- name: erase_complaint
-- What identifies the reporter leaves the complaint; its facts (status, agency, Tracking
-- ID, dates) stay for the statistics and for LAPOR!'s record. The subject and the intake
-- notes go too (a forwarder's note gives the citizen's number, a subject their name).
UPDATE complaints
SET reporter_id = NULL, title = $2, content = $3,
    origin = origin - 'original_text' - 'intake_notes' - 'subject',
    erased_at = now(), updated_at = now()
WHERE id = $1;

-- name: erase_raw_items_of_complaints
UPDATE raw_items r SET payload = '\x'::bytea, payload_key = NULL, purged_at = now(), meta = '{}'
WHERE r.complaint_id = ANY($1::uuid[])
   OR r.id IN (SELECT raw_item_id FROM complaints WHERE id = ANY($1::uuid[]))
   OR r.id IN (SELECT raw_item_id FROM reporter_replies WHERE complaint_id = ANY($1::uuid[]));

-- name: erase_notifications_of_complaints
UPDATE notifications SET body = NULL, body_enc = NULL, body_key = NULL
WHERE complaint_id = ANY($1::uuid[]) AND (body IS NOT NULL OR body_enc IS NOT NULL);

-- name: erase_event_texts_of_complaints
-- What the reporter wrote kept in the timeline as it came (a burst's later SMS).
UPDATE events SET data = jsonb_set(data, '{text}', '"[dihapus atas permintaan pelapor]"')
WHERE complaint_id = ANY($1::uuid[]) AND data ? 'text';

-- name: erase_job_addresses_of_complaints
UPDATE jobs SET payload = payload - 'address' - 'address_enc' - 'text'
WHERE complaint_id = ANY($1::uuid[]) AND (payload ? 'address' OR payload ? 'address_enc');

-- name: erase_replies_of_complaints
UPDATE reporter_replies SET text = '[dihapus atas permintaan pelapor]'
WHERE complaint_id = ANY($1::uuid[]);

-- name: erase_attachments_of_complaints
WITH gone AS (
    DELETE FROM complaint_attachments WHERE complaint_id = ANY($1::uuid[]) RETURNING sha256
)
DELETE FROM attachments a
WHERE a.sha256 IN (SELECT sha256 FROM gone)
  AND NOT EXISTS (SELECT 1 FROM complaint_attachments ca
                  WHERE ca.sha256 = a.sha256 AND NOT (ca.complaint_id = ANY($1::uuid[])));

-- name: delete_reporters
DELETE FROM reporters r WHERE r.id = ANY($1::uuid[])
  AND NOT EXISTS (SELECT 1 FROM complaints c WHERE c.reporter_id = r.id);

-- name: link_quarantined_attachment
-- An attachment quarantined apart from its complaint (an image that could not be cleaned,
-- a message attached whole) belongs to that complaint: erased by `forget`, purged when it
-- is final and masked like it, instead of waiting as an unlinked item.
UPDATE raw_items a SET complaint_id = r.complaint_id
FROM raw_items r
WHERE a.source = $1 AND a.source_ref = $2 AND a.complaint_id IS NULL
  AND r.source = $1 AND r.source_ref = $3 AND r.complaint_id IS NOT NULL;
