-- name: list_complaints
SELECT c.id, c.source, c.channel, c.title, c.status::text AS status, c.lapor_tracking_id,
       c.agency_id, c.agency_name, c.received_at, c.status_at, c.anonymous, c.confidential,
       c.closed_without_real_followup, c.flags
FROM complaints c
WHERE ($1::text IS NULL OR c.status::text = $1)
  AND ($2::text[] IS NULL OR c.agency_id = ANY ($2) OR c.source_agency = ANY ($2))
  AND ($3::timestamptz IS NULL OR c.received_at < $3)
ORDER BY c.received_at DESC, c.id
LIMIT $4;

-- name: get_complaint
SELECT c.id, c.source, c.channel, c.title, c.content, c.classification,
       c.status::text AS status, c.status_at, c.lapor_tracking_id, c.lapor_created_at,
       c.lapor_errors, c.agency_id, c.agency_name, c.source_agency, c.category_id,
       c.anonymous, c.confidential, c.location, c.occurred_on, c.submitted_at, c.received_at,
       c.duplicate_of, c.flags, c.legacy_status, c.closed_without_real_followup,
       c.resolved_by_reporter, c.reopen_count, c.reporter_id, c.origin
FROM complaints c WHERE c.id = $1;

-- name: get_reporter
SELECT id, key_id, name_enc, email_enc, phone_enc, nik_enc, nik_valid FROM reporters WHERE id = $1;

-- name: list_complaint_followups
SELECT id, at, agency_name, author, text, label::text AS label, reasons, attachments, kind
FROM followups WHERE complaint_id = $1 ORDER BY at, id;

-- name: list_complaint_notifications
SELECT id, kind, channel, state::text AS state, subject, created_at, sent_at, delivered_at, detail
FROM notifications WHERE complaint_id = $1 ORDER BY created_at;

-- name: list_quarantined
SELECT id, source, source_ref, reason, ingested_at, length(payload) AS size
FROM raw_items WHERE state = 'quarantined' AND ($1::text IS NULL OR source = $1)
ORDER BY id DESC LIMIT $2;

-- name: get_raw_item
SELECT id, source, source_ref, state::text AS state, reason, payload, meta, received_at,
       content_type, payload_key
FROM raw_items WHERE id = $1;

-- name: complaint_status_counts
-- From the counters the complaints trigger keeps (migration 0140): no count over the table.
SELECT status::text AS status, sum(n)::bigint AS n FROM complaint_counts
GROUP BY status HAVING sum(n) <> 0;

-- name: insert_api_token
INSERT INTO api_tokens (id, name, token_hash, role, agency)
VALUES ($1, $2, $3, $4::token_role, $5);

-- name: find_api_token
UPDATE api_tokens SET last_used_at = now()
WHERE token_hash = $1 AND revoked_at IS NULL
RETURNING id, name, role::text AS role, agency;

-- name: revoke_api_token
UPDATE api_tokens SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL RETURNING id;

-- name: list_api_tokens
SELECT id, name, role::text AS role, agency, created_at, revoked_at, last_used_at
FROM api_tokens ORDER BY created_at;

-- name: reporters_needing_rotation
SELECT id, key_id, name_enc, email_enc, phone_enc, nik_enc FROM reporters
WHERE key_id <> $1 ORDER BY id LIMIT $2 FOR UPDATE SKIP LOCKED;

-- name: update_reporter_ciphertexts
UPDATE reporters SET key_id = $2, name_enc = $3, email_enc = $4, phone_enc = $5, nik_enc = $6
WHERE id = $1;

-- name: find_complaint_by_reference
-- A Tracking ID first (unique); else a receipt code, compared as printed on the slip.
SELECT id FROM complaints WHERE lapor_tracking_id = $1
UNION ALL
(SELECT id FROM complaints
 WHERE origin ? 'receipt_code' AND upper(origin ->> 'receipt_code') = upper($1)
 ORDER BY received_at DESC LIMIT 1)
LIMIT 1;

-- name: complaint_exists
SELECT true FROM complaints WHERE id = $1;
