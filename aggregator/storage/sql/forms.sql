-- Legacy web forms: the public status page and write-back into old form databases.

-- name: find_status_by_receipt
-- The public status page: no reporter, no text, only what the receipt holder may see.
SELECT c.id, c.status, c.lapor_tracking_id, c.submitted_at, c.received_at, c.status_at,
       c.agency_name, c.title, c.confidential
FROM complaints c
WHERE c.source = $1 AND c.origin ? 'receipt_code' AND c.origin ->> 'receipt_code' = $2;

-- name: find_status_by_tracking_id
-- The public page by LAPOR! Tracking ID, for complaints from every channel.
SELECT c.id, c.status, c.lapor_tracking_id, c.received_at, c.status_at, c.agency_name,
       c.confidential
FROM complaints c WHERE c.lapor_tracking_id = $1;

-- name: list_public_followups
SELECT at, agency_name, text, kind FROM followups WHERE complaint_id = $1 ORDER BY at, id;

-- name: get_write_back_state
-- Everything write-back mirrors into the old form's tables, for one complaint.
SELECT c.id, c.source, c.status, c.lapor_tracking_id, c.origin, c.raw_item_id
FROM complaints c WHERE c.id = $1;

-- name: list_followups_for_write_back
SELECT id, at, agency_name, author, text, kind FROM followups
WHERE complaint_id = $1 ORDER BY at, id;

-- name: get_replayed_legacy_update
-- What a replayed re-scan update became: the complaint it reached and, when the complaint
-- already held it, why nothing new was recorded.
SELECT complaint_id, reason FROM raw_items WHERE source = $1 AND source_ref = $2;

-- name: mark_form_row_deleted
-- Write-back found the complaint's form row gone before a re-scan did: the same origin fact
-- intake's re-scan sets (`apply_legacy_form_update`), set once. A row back means this call
-- recorded it (the caller adds the timeline event); none means it was already recorded.
-- origin does not fire the write-back trigger.
UPDATE complaints
SET origin = origin || '{"legacy_row_deleted": true}'::jsonb, updated_at = now()
WHERE id = $1 AND NOT coalesce((origin ->> 'legacy_row_deleted')::boolean, false)
RETURNING id;

-- name: lock_write_back
-- One write-back at a time per complaint (until the transaction ends): two jobs must not
-- both pass a form table's NOT EXISTS check before either inserts.
SELECT pg_advisory_xact_lock(hashtext('write_back:' || $1::text));
