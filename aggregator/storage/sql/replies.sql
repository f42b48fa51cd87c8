-- Reporter replies: who may speak for a report, what is held for an operator, and the
-- replies in a complaint's timeline.

-- name: reply_target_identity
-- What a reply's sender is compared with: the report's reporter hashes and receipt code.
SELECT c.id, c.lapor_tracking_id, c.anonymous, c.origin ->> 'receipt_code' AS receipt_code,
       r.phone_hash, r.email_hash
FROM complaints c LEFT JOIN reporters r ON r.id = c.reporter_id
WHERE c.id = $1;

-- name: insert_checked_replies
INSERT INTO reporter_replies (id, complaint_id, raw_item_id, channel, text, sent_at, resolved,
                              verified, verified_by, unverified_reason)
SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::bigint[], $4::text[], $5::text[],
                     $6::timestamptz[], $7::boolean[], $8::boolean[], $9::text[], $10::text[]);

-- name: list_held_replies
-- Unverified replies nobody has reviewed yet, oldest first.
SELECT rr.id, rr.complaint_id, rr.channel, rr.text, rr.sent_at, rr.created_at, rr.resolved,
       rr.unverified_reason, c.lapor_tracking_id, c.title
FROM reporter_replies rr JOIN complaints c ON c.id = rr.complaint_id
WHERE NOT rr.verified AND rr.reviewed_at IS NULL
ORDER BY rr.created_at, rr.raw_item_id NULLS LAST, rr.id
LIMIT $1;

-- name: count_held_replies
SELECT count(*) FROM reporter_replies WHERE NOT verified AND reviewed_at IS NULL;

-- name: review_held_reply
-- An operator's decision on a held reply, once. Accepting makes it the reporter's.
UPDATE reporter_replies
SET reviewed_at = now(), reviewed_by = $2, review = $3,
    verified = ($3 = 'accepted'), verified_by = CASE WHEN $3 = 'accepted' THEN 'operator' END
WHERE id = $1 AND NOT verified AND reviewed_at IS NULL
RETURNING id, complaint_id, resolved;

-- name: list_complaint_replies
SELECT id, channel, text, sent_at, created_at, resolved, verified, verified_by,
       unverified_reason, review, reviewed_by, reviewed_at, lapor_reply_id
FROM reporter_replies WHERE complaint_id = $1
ORDER BY created_at, raw_item_id NULLS LAST, id;  -- one batch shares created_at: arrival order

-- name: reply_is_verified
SELECT verified FROM reporter_replies WHERE id = $1;

-- name: set_resolved_from_reply
UPDATE complaints SET resolved_by_reporter = $2, updated_at = now() WHERE id = $1;
