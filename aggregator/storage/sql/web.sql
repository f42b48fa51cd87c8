-- name: insert_dashboard_session
INSERT INTO dashboard_sessions (id_hash, token_id, expires_at) VALUES ($1, $2, $3);

-- name: find_dashboard_session
-- A session is valid while it is neither expired nor revoked and its token is not revoked.
UPDATE dashboard_sessions s SET last_seen_at = now()
FROM api_tokens t
WHERE s.id_hash = $1 AND s.revoked_at IS NULL AND s.expires_at > now()
  AND t.id = s.token_id AND t.revoked_at IS NULL
RETURNING t.id, t.name, t.role::text AS role, t.agency;

-- name: revoke_dashboard_session
UPDATE dashboard_sessions SET revoked_at = now()
WHERE id_hash = $1 AND revoked_at IS NULL RETURNING token_id;

-- name: delete_stale_dashboard_sessions
DELETE FROM dashboard_sessions WHERE expires_at < $1 OR revoked_at < $1;

-- name: insert_access_log
INSERT INTO access_log (token_id, actor, action, subject, detail) VALUES ($1, $2, $3, $4, $5);

-- name: list_access_log
SELECT id, at, token_id, actor, action, subject, detail
FROM access_log ORDER BY id DESC LIMIT $1;

-- name: get_raw_original
-- A raw item with what decides who may see it: its state and whether the complaint it became
-- is anonymous (an attachment quarantined apart from its complaint says so in its meta).
SELECT r.id, r.source, r.state::text AS state, r.reason, r.payload, r.content_type,
       r.received_at,
       coalesce(c.anonymous, (r.meta ->> 'of_anonymous')::boolean, false) AS anonymous,
       r.payload_key
FROM raw_items r LEFT JOIN complaints c ON c.id = r.complaint_id
WHERE r.id = $1;
