-- Dashboard sessions live on the server: the cookie carries a random id (stored hashed), not
-- the long-lived API token, and logging out or revoking the token ends the session.
CREATE TABLE dashboard_sessions (
    id_hash      bytea PRIMARY KEY,
    token_id     uuid NOT NULL REFERENCES api_tokens (id) ON DELETE CASCADE,
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL,
    revoked_at   timestamptz,
    last_seen_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX dashboard_sessions_token_idx ON dashboard_sessions (token_id);
CREATE INDEX dashboard_sessions_expires_idx ON dashboard_sessions (expires_at);

-- Who opened which reporter identity or raw original, and when (UU 27/2022 accountability).
-- It names the token and the subject, never the personal data itself.
CREATE TABLE access_log (
    id          bigserial PRIMARY KEY,
    at          timestamptz NOT NULL DEFAULT now(),
    token_id    uuid,
    actor       text NOT NULL,
    action      text NOT NULL,
    subject     text NOT NULL,
    detail      jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX access_log_at_idx ON access_log (at);
