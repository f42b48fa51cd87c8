-- Delivery followed to the end: the hand-over marker, auto-reply guards, redelivery.

-- name: begin_notification_send
-- Committed before the hand-over to the channel. Returns the previous marker: not NULL
-- means an earlier hand-over of this very message may have gone out unrecorded.
UPDATE notifications n
SET sending_at = $2, attempts = n.attempts + 1, address_hash = $3, body_hash = $4
FROM (SELECT id, sending_at FROM notifications WHERE id = $1 FOR UPDATE) old
WHERE n.id = old.id AND n.state = 'queued'
RETURNING old.sending_at AS previous;

-- name: begin_notification_send_guarded
-- count_recent_to_address for the message $1 and begin_notification_send, in one statement:
-- the marker is set only when the address is under the loop guards' limits ($7 hand-overs
-- in the hour since $5, $8 of the same text since $6; 0: no limit). Returns the counts, and
-- whether the marker was set with the one before it (as begin_notification_send).
WITH RECURSIVE own AS (
    SELECT id, retry_of, 0 AS depth FROM notifications WHERE id = $1
    UNION ALL
    SELECT n.id, n.retry_of, o.depth + 1
    FROM notifications n JOIN own o ON n.id = o.retry_of
    WHERE o.depth < 20
),
counts AS (
    SELECT count(*) FILTER (WHERE sending_at >= $5) AS recent,
           count(*) FILTER (WHERE body_hash = $4 AND sending_at >= $6) AS identical
    FROM notifications
    WHERE address_hash = $3 AND sending_at >= least($5, $6) AND id <> $1
      AND id NOT IN (SELECT id FROM own)
      AND state IN ('sent', 'delivered', 'failed')
),
began AS (
    UPDATE notifications n
    SET sending_at = $2, attempts = n.attempts + 1, address_hash = $3, body_hash = $4
    FROM (SELECT id, sending_at FROM notifications WHERE id = $1 FOR UPDATE) old, counts
    WHERE n.id = old.id AND n.state = 'queued'
      AND ($7::int = 0 OR counts.recent < $7::int)
      AND ($8::int = 0 OR counts.identical < $8::int)
    RETURNING old.sending_at AS previous
)
SELECT counts.recent, counts.identical, EXISTS (SELECT 1 FROM began) AS began,
       (SELECT previous FROM began) AS previous
FROM counts;

-- name: skip_notification_batch
UPDATE notifications
SET state = 'skipped', channel = $3,
    body_enc = CASE WHEN id = $1 THEN $4::bytea ELSE body_enc END,
    body_key = CASE WHEN id = $1 THEN $5 ELSE body_key END,
    detail = $2
WHERE merged_into = $1 AND state = 'queued';

-- name: count_recent_to_address
-- Hand-overs to one address since $2, and how many of them carried the text whose keyed
-- hash is $3 since $4. The message $5 and the attempts it redelivers are not counted: a
-- retry after a failure is the same message again, not an auto-reply loop.
WITH RECURSIVE own AS (
    SELECT id, retry_of, 0 AS depth FROM notifications WHERE id = $5
    UNION ALL
    SELECT n.id, n.retry_of, o.depth + 1
    FROM notifications n JOIN own o ON n.id = o.retry_of
    WHERE o.depth < 20
)
SELECT count(*) FILTER (WHERE sending_at >= $2) AS recent,
       count(*) FILTER (WHERE body_hash = $3 AND sending_at >= $4) AS identical
FROM notifications
WHERE address_hash = $1 AND sending_at >= least($2, $4) AND id <> $5
  AND id NOT IN (SELECT id FROM own)
  AND state IN ('sent', 'delivered', 'failed');

-- name: get_notification_for_redelivery
SELECT n.id, n.complaint_id, n.kind, n.channel, n.source, n.state, n.detail, n.items,
       n.redelivery_no, n.retry_of, n.subject, n.body, n.body_enc
FROM notifications n WHERE n.id = $1;

-- name: list_batch_items
SELECT items FROM notifications WHERE merged_into = $1 ORDER BY created_at, id;

-- name: insert_redelivery
INSERT INTO notifications (id, complaint_id, kind, channel, source, dedup_key, items, state,
                           merged_into, retry_of, redelivery_no)
VALUES ($1, $2, $3, $4, $5, $6, $7, 'queued', $1, $8, $9)
ON CONFLICT (dedup_key) DO NOTHING
RETURNING id;

-- name: get_redelivery_by_key
SELECT id, state FROM notifications WHERE dedup_key = $1;

-- name: list_redelivery_chain
-- A notification and the ones it was a redelivery of, newest first.
WITH RECURSIVE chain AS (
    SELECT id, retry_of, channel, source, state, detail, 0 AS depth FROM notifications WHERE id = $1
    UNION ALL
    SELECT n.id, n.retry_of, n.channel, n.source, n.state, n.detail, c.depth + 1
    FROM notifications n JOIN chain c ON n.id = c.retry_of
    WHERE c.depth < 20
)
SELECT id, channel, source, state::text AS state, detail FROM chain ORDER BY depth;

-- name: begin_standalone_send
-- A message with no complaint: its row exists (queued) before the hand-over.
INSERT INTO notifications (id, complaint_id, kind, channel, source, dedup_key, items, state,
                           body_enc, body_key, subject, sending_at, attempts, address_hash,
                           body_hash)
VALUES ($1, NULL, $2, $3, $4, $5, '[]', 'queued', $6, $10, $7, $8, 1, $9, $11)
ON CONFLICT (dedup_key) DO UPDATE
SET sending_at = EXCLUDED.sending_at, attempts = notifications.attempts + 1
WHERE notifications.state = 'queued'
RETURNING (SELECT sending_at FROM notifications WHERE dedup_key = $5) AS previous,
          xmax <> 0 AS existed;

-- name: get_reporter_addresses
SELECT r.email_enc IS NOT NULL AS email, r.phone_enc IS NOT NULL AS sms
FROM complaints c LEFT JOIN reporters r ON r.id = c.reporter_id
WHERE c.id = $1;

-- name: clear_notification_send
-- The channel refused before anything left (unreachable, login refused): no doubt remains.
UPDATE notifications SET sending_at = NULL WHERE id = $1 AND state = 'queued';
