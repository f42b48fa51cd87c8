-- SMS channel: delivery reports pushed by gateways (Kannel dlr-url) onto notifications.

-- name: record_sms_delivery
-- $1 notification id, $2 'delivered' | 'failed', $3 detail. A report never moves a
-- notification backwards (a late "buffered" after "delivered" changes nothing).
UPDATE notifications
SET state = $2::notification_state,
    delivered_at = CASE WHEN $2 = 'delivered' THEN now() ELSE delivered_at END,
    detail = $3
WHERE id::text = $1 AND state IN ('queued', 'sent')
RETURNING id;
