-- The server itself: what the probes and clocks ask of it.

-- name: server_version
SHOW server_version;

-- name: database_now
-- The database's clock, the one every process sharing the queue agrees on.
SELECT now();
