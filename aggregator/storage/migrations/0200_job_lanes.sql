-- Lanes: live work is never queued behind bulk work (issue 18, item 4).
--
-- A backfill queues a push job for every archived complaint still open upstream: tens of
-- thousands of jobs with run_after = now(), all due before the next citizen's SMS, which
-- would then wait behind them in run_after order for as long as the rate limit takes to
-- push them (hours at 20 requests/s). Each job now belongs to a lane: 0 is live (intake,
-- acknowledgements, feed updates, operators), 1 is bulk (a backfill's pushes and the
-- notifications they lead to). A worker claims every due live job before any bulk one.
--
-- The claim index leads with the lane, so each lane is one range scan in run_after order
-- (claim_jobs reads them one after the other, lazily). Adding a column with a constant
-- default rewrites nothing.
ALTER TABLE jobs ADD COLUMN lane smallint NOT NULL DEFAULT 0;

DROP INDEX jobs_claim_idx;
CREATE INDEX jobs_claim_idx ON jobs (lane, run_after, id)
    WHERE state IN ('queued', 'in_doubt');

-- enqueue_jobs() (0160), the one place jobs are inserted, takes each job's lane; NULL is
-- live. Dropped and created again, not replaced: a new argument would make a second
-- overload. The forms write-back trigger calls it by name (live lane).
DROP FUNCTION enqueue_jobs(text[], uuid[], jsonb[], text[], timestamptz[], integer[],
                           timestamptz);
CREATE FUNCTION enqueue_jobs(
    job_kinds text[],
    job_complaint_ids uuid[],
    job_payloads jsonb[],
    job_dedup_keys text[] DEFAULT NULL,
    job_run_afters timestamptz[] DEFAULT NULL,
    job_max_attempts integer[] DEFAULT NULL,
    job_now timestamptz DEFAULT NULL,
    job_lanes smallint[] DEFAULT NULL
) RETURNS SETOF bigint LANGUAGE plpgsql AS $$
BEGIN
    IF job_dedup_keys IS NULL THEN
        RETURN QUERY
        INSERT INTO jobs (kind, complaint_id, payload, run_after, max_attempts, created_at,
                          updated_at, lane)
        SELECT j.kind, j.complaint_id, j.payload, coalesce(j.run_after, job_now, now()),
               j.max_attempts, coalesce(job_now, now()), coalesce(job_now, now()),
               coalesce(j.lane, 0)
        FROM unnest(job_kinds, job_complaint_ids, job_payloads, job_run_afters,
                    job_max_attempts, job_lanes)
             AS j(kind, complaint_id, payload, run_after, max_attempts, lane)
        RETURNING jobs.id;
    ELSE
        RETURN QUERY
        INSERT INTO jobs (kind, complaint_id, payload, dedup_key, run_after, max_attempts,
                          created_at, updated_at, lane)
        SELECT j.kind, j.complaint_id, j.payload, j.dedup_key,
               coalesce(j.run_after, job_now, now()), j.max_attempts,
               coalesce(job_now, now()), coalesce(job_now, now()), coalesce(j.lane, 0)
        FROM unnest(job_kinds, job_complaint_ids, job_payloads, job_dedup_keys,
                    job_run_afters, job_max_attempts, job_lanes)
             AS j(kind, complaint_id, payload, dedup_key, run_after, max_attempts, lane)
        ON CONFLICT (dedup_key) WHERE dedup_key IS NOT NULL DO NOTHING
        RETURNING jobs.id;
    END IF;
END
$$;
