-- Write-back ledger (migration 0120): each write into an old form table, keyed in our
-- database, with the one wording it is written in.

-- name: list_form_writes
SELECT write_key, wording, confirmed_at FROM form_writes WHERE complaint_id = $1;

-- name: plan_form_writes
-- Fix the wording of writes not yet planned ($2 keys, $3 wordings, same order); a key
-- already planned keeps its first wording. Returns every key's wording and confirmation.
WITH ins AS (
    INSERT INTO form_writes (complaint_id, write_key, wording)
    SELECT $1, k, w FROM unnest($2::text[], $3::text[]) AS t (k, w)
    ON CONFLICT (complaint_id, write_key) DO NOTHING
    RETURNING write_key, wording, confirmed_at
)
SELECT write_key, wording, confirmed_at FROM ins
UNION ALL
SELECT write_key, wording, confirmed_at FROM form_writes
WHERE complaint_id = $1 AND write_key = ANY ($2::text[])
  AND write_key NOT IN (SELECT write_key FROM ins);

-- name: confirm_form_writes
-- The old table holds these writes (written now, or found there already).
UPDATE form_writes SET confirmed_at = now()
WHERE complaint_id = $1 AND write_key = ANY ($2::text[]) AND confirmed_at IS NULL;

-- name: lock_write_back_session
-- One write-back at a time per complaint, held by the job's connection until
-- unlock_write_back (or the connection's end), so the ledger writes between commit at once.
SELECT pg_advisory_lock(hashtext('write_back:' || $1::text));

-- name: unlock_write_back
SELECT pg_advisory_unlock(hashtext('write_back:' || $1::text));
