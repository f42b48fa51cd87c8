-- The server itself: what the probes and clocks ask of it.

-- name: server_version
SHOW server_version;

-- name: database_now
-- The database's clock, the one every process sharing the queue agrees on.
SELECT now();

-- name: set_local_statement_timeout
-- This transaction's statements may run longer ($1 milliseconds) than the session allows.
SELECT set_config('statement_timeout', $1, true);

-- name: set_session_statement_timeout
SELECT set_config('statement_timeout', $1, false);

-- name: reset_session_statement_timeout
-- Back to what the session started with (database.statement_timeout_s).
RESET statement_timeout;
