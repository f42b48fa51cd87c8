-- The job queue (aggregator/queue.py through aggregator/storage/jobs.py).
--
-- Every statement takes the current time as a nullable parameter: NULL means the database's
-- now(), so every process sharing the database agrees on lease expiry whatever its own clock
-- says; tests pass a clock to move time.

-- name: enqueue_job
-- One round trip: the row and, when $8, its NOTIFY (sent at commit; enqueue_jobs() yields
-- nothing when the dedup_key was taken, so no NOTIFY then). aggregator.queue rate-limits the
-- in-transaction NOTIFY: PostgreSQL serialises the commits of notifying transactions under
-- one lock, WAL flush included, which would cap enqueueing at one job per disk flush.
-- Every job is inserted by the SQL function enqueue_jobs() (migration 0160).
-- $1 kind, $2 complaint_id, $3 payload, $4 dedup_key, $5 run_after, $6 max_attempts, $7 now,
-- $8 notify, $9 lane
SELECT j.id, CASE WHEN $8::boolean THEN pg_notify('satukanal_jobs', $1) END
FROM enqueue_jobs(ARRAY[$1::text], ARRAY[$2::uuid], ARRAY[$3::jsonb], ARRAY[$4::text],
                  ARRAY[$5::timestamptz], ARRAY[$6::integer], $7::timestamptz,
                  ARRAY[$9::smallint]) AS j(id);

-- name: enqueue_job_without_key
-- The same without a dedup_key: enqueue_jobs() then skips ON CONFLICT's speculative
-- insertion, which a NULL key can never need.
-- $1 kind, $2 complaint_id, $3 payload, $4 run_after, $5 max_attempts, $6 now, $7 notify,
-- $8 lane
SELECT j.id, CASE WHEN $7::boolean THEN pg_notify('satukanal_jobs', $1) END
FROM enqueue_jobs(ARRAY[$1::text], ARRAY[$2::uuid], ARRAY[$3::jsonb], NULL,
                  ARRAY[$4::timestamptz], ARRAY[$5::integer], $6::timestamptz,
                  ARRAY[$8::smallint]) AS j(id);

-- name: insert_jobs
-- A batch in the caller's transaction (the intake's, the LAPOR! feed's, an operator's move):
-- one list per column; payloads as JSON text, run_after NULL for now; every job in lane $6
-- (0 live, 1 bulk: a backfill's, migration 0200). A taken dedup_key inserts nothing.
-- Returns how many were inserted.
-- $1 kinds, $2 complaint_ids, $3 payloads, $4 dedup_keys, $5 run_afters, $6 lane
SELECT count(*) FROM enqueue_jobs($1::text[], $2::uuid[], $3::text[]::jsonb[], $4::text[],
                                  $5::timestamptz[], NULL, NULL,
                                  array_fill($6::smallint, ARRAY[cardinality($1::text[])]));

-- name: wake_workers
-- Wake the workers of these jobs at commit (one NOTIFY per batch, not per job).
-- $1 channel payload (a kind, or the stage that enqueued)
SELECT pg_notify('satukanal_jobs', $1);

-- name: notify_kinds
-- The trailing wake-up for enqueues whose NOTIFY was held back; sent after they committed.
-- $1 kinds
SELECT pg_notify('satukanal_jobs', k) FROM unnest($1::text[]) AS k;

-- name: worker_session
-- Set on the connection a worker holds while it claims and completes (asyncpg's pool runs
-- RESET ALL when the connection goes back). The queue's statements are meant to run on
-- ordered index scans of small parts of the table, and without bitmap scans the planner
-- has no other way to read the partial indexes. With statistics taken while the queue was
-- empty, or held only finished jobs, it expects a handful of due jobs and reads them all
-- into a bitmap and sorts them to take the first batch: claiming from a backlog of N jobs
-- then costs O(N) per batch and draining it O(N²).
SET enable_bitmapscan = off;

-- name: claim_jobs
-- One round trip. Jobs whose lease ran out (their process died) come first: there are few,
-- and the probe is one step on jobs_lease_idx. Then due jobs of the live lane, then due
-- jobs of the bulk lane (a backfill's), each in run_after order on jobs_claim_idx
-- (lane, run_after, id): a live acknowledgement or push never waits behind bulk work,
-- however much of it is due. All lock with SKIP LOCKED, so concurrent workers never wait
-- on each other and never take the same row. The UNION ALL runs lazily: a branch is read
-- only when the ones before it did not fill the batch.
-- Jobs out of attempts are left to reap_expired_jobs.
-- $1 kinds, $2 limit, $3 owner, $4 lease seconds, $5 now, $6 default max_attempts
WITH expired AS (
    SELECT id FROM jobs
    WHERE state = 'running' AND lease_until < coalesce($5::timestamptz, now())
      AND kind = ANY($1::text[]) AND attempts < coalesce(max_attempts, $6::integer)
    ORDER BY lease_until
    LIMIT $2
    FOR UPDATE SKIP LOCKED
), live AS (
    SELECT id FROM jobs
    WHERE lane = 0 AND state IN ('queued', 'in_doubt')
      AND run_after <= coalesce($5::timestamptz, now()) AND kind = ANY($1::text[])
    ORDER BY run_after, id
    LIMIT $2
    FOR UPDATE SKIP LOCKED
), bulk AS (
    SELECT id FROM jobs
    WHERE lane = 1 AND state IN ('queued', 'in_doubt')
      AND run_after <= coalesce($5::timestamptz, now()) AND kind = ANY($1::text[])
    ORDER BY run_after, id
    LIMIT $2
    FOR UPDATE SKIP LOCKED
), picked AS (
    SELECT id FROM expired
    UNION ALL
    SELECT id FROM live
    UNION ALL
    SELECT id FROM bulk
    LIMIT $2
)
UPDATE jobs j
SET state = 'running',
    lease_owner = $3,
    lease_until = coalesce($5::timestamptz, now()) + make_interval(secs => $4),
    attempts = j.attempts + 1,
    updated_at = coalesce($5::timestamptz, now())
WHERE j.id = ANY (ARRAY(SELECT id FROM picked))  -- a join here may turn into a seq scan
RETURNING j.id, j.kind, j.payload, j.complaint_id, j.state, j.attempts, j.created_at,
          j.run_after, j.last_error, j.lane;

-- name: complete_jobs
-- One round trip per batch. Only leases this owner still holds: a job whose lease ran out
-- and was taken by another process is that process's to finish.
-- A busy worker runs it first in the transaction of its next claim (one commit per batch).
-- Not merged into claim_jobs, and never after a claim in one transaction: a claim can leave
-- row locks on rows it skipped after a recheck (another worker's just-claimed jobs), and an
-- UPDATE that waits on rows in the same transaction as a claim that holds such locks
-- deadlocks with its mirror image (a data-modifying CTE runs after the main query, so one
-- statement is that order). Run first, it can wait only while its transaction holds the
-- locks of its own rows, which no other worker's completion touches and a claim skips.
-- $1 ids, $2 owner, $3 now
UPDATE jobs
SET state = 'done',
    lease_until = NULL,
    finished_at = coalesce($3::timestamptz, now()),
    updated_at = coalesce($3::timestamptz, now())
WHERE id = ANY($1::bigint[]) AND state = 'running' AND lease_owner = $2;

-- name: fail_job
-- Decide retry or dead in the statement that writes it, so the attempt count and age it
-- reads are the row's own. A dead job leaves a job_dead event on its complaint's timeline.
-- $1 id, $2 owner, $3 retry state ('queued' | 'in_doubt'), $4 delay seconds,
-- $5 last_error, $6 permanent, $7 default max_attempts, $8 max age seconds, $9 now
WITH cur AS (
    SELECT j.id,
           ($6::boolean
            OR j.attempts >= coalesce(j.max_attempts, $7::integer)
            OR coalesce((j.payload ->> 'retried_at')::timestamptz, j.created_at)
               < coalesce($9::timestamptz, now()) - make_interval(secs => $8)) AS dead
    FROM jobs j
    WHERE j.id = $1 AND j.state = 'running' AND j.lease_owner = $2
), upd AS (
    UPDATE jobs j
    SET state = CASE WHEN cur.dead THEN 'dead'::job_state ELSE $3::job_state END,
        run_after = CASE WHEN cur.dead THEN j.run_after
                         ELSE coalesce($9::timestamptz, now()) + make_interval(secs => $4) END,
        payload = CASE WHEN $3::job_state = 'in_doubt' THEN j.payload || '{"in_doubt": true}'
                       ELSE j.payload END,
        last_error = $5,
        lease_until = NULL,
        finished_at = CASE WHEN cur.dead THEN coalesce($9::timestamptz, now()) END,
        updated_at = coalesce($9::timestamptz, now())
    FROM cur
    WHERE j.id = cur.id
    RETURNING j.id, j.kind, j.complaint_id, j.state, j.attempts, j.last_error, j.run_after
), ev AS (
    INSERT INTO events (complaint_id, kind, at, actor, data)
    SELECT complaint_id, 'job_dead', coalesce($9::timestamptz, now()), 'system',
           jsonb_build_object('job_id', id, 'job_kind', kind, 'attempts', attempts,
                              'error', last_error)
    FROM upd WHERE state = 'dead'
)
SELECT id, state, run_after FROM upd;

-- name: defer_jobs
-- Jobs that were not attempted, or failed only because their peer is known to be down (the
-- LAPOR! circuit breaker is open), go back without the attempt their claim counted and with
-- no age check: an outage, however long, spends no attempts and kills nothing. A job that
-- may have acted (in doubt) keeps or gets the mark, so its next attempt checks first.
-- One statement for the batch, rows found by id like complete_jobs.
-- $1 ids, $2 delays in seconds, $3 in-doubt flags, $4 owner, $5 last_error, $6 now
UPDATE jobs j
SET state = CASE WHEN d.in_doubt OR j.payload ? 'in_doubt' THEN 'in_doubt'::job_state
                 ELSE 'queued' END,
    payload = CASE WHEN d.in_doubt THEN j.payload || '{"in_doubt": true}' ELSE j.payload END,
    attempts = greatest(j.attempts - 1, 0),
    run_after = coalesce($6::timestamptz, now()) + make_interval(secs => d.delay),
    last_error = $5,
    lease_until = NULL,
    updated_at = coalesce($6::timestamptz, now())
FROM unnest($1::bigint[], $2::float8[], $3::boolean[]) AS d(id, delay, in_doubt)
WHERE j.id = ANY($1::bigint[]) AND j.id = d.id AND j.state = 'running'
  AND j.lease_owner = $4;

-- name: reap_expired_jobs
-- A job whose process died during its last allowed attempt (a crash, the OOM killer, a
-- handler that takes the process down) is dead rather than claimed for ever.
-- $1 default max_attempts, $2 now
WITH upd AS (
    UPDATE jobs
    SET state = 'dead',
        last_error = 'lease expired on attempt ' || attempts
                     || ': the worker process died while running it',
        lease_until = NULL,
        finished_at = coalesce($2::timestamptz, now()),
        updated_at = coalesce($2::timestamptz, now())
    WHERE state = 'running' AND lease_until < coalesce($2::timestamptz, now())
      AND attempts >= coalesce(max_attempts, $1::integer)
    RETURNING id, kind, complaint_id, attempts, last_error
), ev AS (
    INSERT INTO events (complaint_id, kind, at, actor, data)
    SELECT complaint_id, 'job_dead', coalesce($2::timestamptz, now()), 'system',
           jsonb_build_object('job_id', id, 'job_kind', kind, 'attempts', attempts,
                              'error', last_error)
    FROM upd
)
SELECT id, kind FROM upd;

-- name: extend_leases
-- Heartbeat: a worker keeps the leases of jobs it still holds (slow handlers, claimed
-- batches waiting for a free slot) from running out under it.
-- $1 ids, $2 owner, $3 lease seconds, $4 now
UPDATE jobs
SET lease_until = coalesce($4::timestamptz, now()) + make_interval(secs => $3)
WHERE id = ANY($1::bigint[]) AND state = 'running' AND lease_owner = $2;

-- name: release_jobs
-- Hand the given jobs back at once: claimed jobs a stopping worker did not start ($4 false),
-- or jobs cut off mid-run at the end of the grace period ($4 true): those may have acted
-- on the world already, so they come back in_doubt and their handler checks before acting.
-- $1 ids, $2 owner, $3 now, $4 interrupted
UPDATE jobs
SET state = CASE WHEN $4::boolean OR payload ? 'in_doubt' THEN 'in_doubt'::job_state
                 ELSE 'queued' END,
    payload = CASE WHEN $4::boolean THEN payload || '{"in_doubt": true}' ELSE payload END,
    last_error = CASE WHEN $4::boolean THEN 'interrupted: the worker stopped mid-job'
                      ELSE last_error END,
    run_after = coalesce($3::timestamptz, now()),
    lease_until = NULL,
    updated_at = coalesce($3::timestamptz, now())
WHERE id = ANY($1::bigint[]) AND state = 'running' AND lease_owner = $2;

-- name: release_owner_leases
-- Every running job of this owner back to the queue, so another process takes it now
-- rather than when the lease runs out. Every running job holds a lease: saying so lets
-- jobs_lease_idx find them.
-- $1 owner, $2 now
UPDATE jobs
SET state = CASE WHEN payload ? 'in_doubt' THEN 'in_doubt'::job_state ELSE 'queued' END,
    run_after = coalesce($2::timestamptz, now()),
    lease_until = NULL,
    updated_at = coalesce($2::timestamptz, now())
WHERE state = 'running' AND lease_until IS NOT NULL AND lease_owner = $1;

-- name: retry_job
-- An operator sends a job round again: fresh attempts, and the age limit counts from now.
-- $1 id, $2 actor, $3 now
WITH upd AS (
    UPDATE jobs
    SET state = 'queued',
        attempts = 0,
        run_after = coalesce($3::timestamptz, now()),
        payload = payload || jsonb_build_object('retried_at', coalesce($3::timestamptz, now())),
        lease_owner = NULL,
        lease_until = NULL,
        finished_at = NULL,
        updated_at = coalesce($3::timestamptz, now())
    WHERE id = $1
    RETURNING id, kind, complaint_id, last_error
), ev AS (
    INSERT INTO events (complaint_id, kind, at, actor, data)
    SELECT complaint_id, 'job_retried', coalesce($3::timestamptz, now()), $2,
           jsonb_build_object('job_id', id, 'job_kind', kind, 'last_error', last_error)
    FROM upd
)
SELECT id, pg_notify('satukanal_jobs', kind) FROM upd;

-- name: discard_job
-- $1 id, $2 reason, $3 actor, $4 now
WITH upd AS (
    UPDATE jobs
    SET state = 'dead',
        last_error = 'discarded: ' || $2,
        lease_until = NULL,
        finished_at = coalesce($4::timestamptz, now()),
        updated_at = coalesce($4::timestamptz, now())
    WHERE id = $1 AND state <> 'done'
    RETURNING id, kind, complaint_id
), ev AS (
    INSERT INTO events (complaint_id, kind, at, actor, data)
    SELECT complaint_id, 'job_discarded', coalesce($4::timestamptz, now()), $3,
           jsonb_build_object('job_id', id, 'job_kind', kind, 'reason', $2::text)
    FROM upd
)
SELECT id FROM upd;

-- name: count_jobs
-- Queue depth for metrics and status. Finished jobs pile up, so 'done' is counted only when
-- asked; the live states are read through their partial indexes (the ORs let the planner
-- combine jobs_claim_idx, jobs_lease_idx and jobs_dead_idx; every running job holds a
-- lease, and saying so is what lets jobs_lease_idx answer).
-- $1 include done
SELECT kind, state::text AS state, count(*) AS n
FROM jobs
WHERE $1::boolean
   OR state IN ('queued', 'in_doubt') OR (state = 'running' AND lease_until IS NOT NULL)
   OR state = 'dead'
GROUP BY kind, state
ORDER BY kind, state;

-- name: oldest_due_job
-- Age of the oldest job waiting to run: the lag a metric alerts on. One probe per lane:
-- jobs_claim_idx leads with the lane, so a min over both would read every due job.
-- $1 now
SELECT least(
    (SELECT min(run_after) FROM jobs
     WHERE lane = 0 AND state IN ('queued', 'in_doubt')
       AND run_after <= coalesce($1::timestamptz, now())),
    (SELECT min(run_after) FROM jobs
     WHERE lane = 1 AND state IN ('queued', 'in_doubt')
       AND run_after <= coalesce($1::timestamptz, now())));

-- name: list_dead_jobs
-- $1 limit
SELECT id, kind, payload, complaint_id, state, attempts, created_at, run_after, last_error,
       lane
FROM jobs
WHERE state = 'dead'
ORDER BY finished_at DESC, id DESC
LIMIT $1;

-- name: get_job
-- $1 id
SELECT id, kind, payload, complaint_id, state, attempts, created_at, run_after, last_error,
       lane
FROM jobs WHERE id = $1;

-- name: list_jobs_for_complaint
-- $1 complaint_id
SELECT id, kind, payload, complaint_id, state, attempts, created_at, run_after, last_error,
       lane
FROM jobs WHERE complaint_id = $1 ORDER BY id;

-- name: delete_finished_jobs
-- Housekeeping: done jobs older than the cut-off go; dead ones stay until an operator acts.
-- $1 cut-off
DELETE FROM jobs WHERE state = 'done' AND finished_at < $1;
