-- name: append_event
INSERT INTO events (complaint_id, kind, at, actor, data)
VALUES ($1, $2, coalesce($3, now()), $4, $5)
RETURNING id;

-- name: list_events_for_complaint
SELECT id, complaint_id, kind, at, actor, data
FROM events WHERE complaint_id = $1 ORDER BY at, id;
