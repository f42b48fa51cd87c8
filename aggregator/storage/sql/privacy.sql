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
