-- One place inserts jobs (issue 11, item 3): enqueue_jobs() is the only code that runs
-- INSERT INTO jobs. The queue's single enqueue, the intake's and the LAPOR! side's batches
-- (aggregator/storage/sql/jobs.sql, through aggregator/storage/jobs.py), the push result's
-- notify jobs (mark_complaints_pushed) and the forms write-back trigger below all call it,
-- so a new column, default or dedup rule is written once.
--
-- One row per array position (arrays of unequal length are padded with NULL, a NULL array
-- counts as empty). job_now NULL is the database's now(); run_after NULL is "now" too.
-- Without any dedup key (job_dedup_keys NULL) a plain INSERT skips ON CONFLICT's
-- speculative insertion, which a NULL key can never need. Returns the ids inserted (a taken
-- dedup key inserts nothing). PL/pgSQL, not SQL: its plans are cached per session, which
-- keeps the single enqueue of the hot path at one planned statement.
CREATE FUNCTION enqueue_jobs(
    job_kinds text[],
    job_complaint_ids uuid[],
    job_payloads jsonb[],
    job_dedup_keys text[] DEFAULT NULL,
    job_run_afters timestamptz[] DEFAULT NULL,
    job_max_attempts integer[] DEFAULT NULL,
    job_now timestamptz DEFAULT NULL
) RETURNS SETOF bigint LANGUAGE plpgsql AS $$
BEGIN
    IF job_dedup_keys IS NULL THEN
        RETURN QUERY
        INSERT INTO jobs (kind, complaint_id, payload, run_after, max_attempts, created_at,
                          updated_at)
        SELECT j.kind, j.complaint_id, j.payload, coalesce(j.run_after, job_now, now()),
               j.max_attempts, coalesce(job_now, now()), coalesce(job_now, now())
        FROM unnest(job_kinds, job_complaint_ids, job_payloads, job_run_afters,
                    job_max_attempts) AS j(kind, complaint_id, payload, run_after, max_attempts)
        RETURNING jobs.id;
    ELSE
        RETURN QUERY
        INSERT INTO jobs (kind, complaint_id, payload, dedup_key, run_after, max_attempts,
                          created_at, updated_at)
        SELECT j.kind, j.complaint_id, j.payload, j.dedup_key,
               coalesce(j.run_after, job_now, now()), j.max_attempts,
               coalesce(job_now, now()), coalesce(job_now, now())
        FROM unnest(job_kinds, job_complaint_ids, job_payloads, job_dedup_keys,
                    job_run_afters, job_max_attempts)
             AS j(kind, complaint_id, payload, dedup_key, run_after, max_attempts)
        ON CONFLICT (dedup_key) WHERE dedup_key IS NOT NULL DO NOTHING
        RETURNING jobs.id;
    END IF;
END
$$;

-- The forms write-back trigger (0041, 0060) enqueues through it too; otherwise unchanged.
CREATE OR REPLACE FUNCTION forms_enqueue_write_back() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    cid uuid;
    why text;
BEGIN
    IF TG_TABLE_NAME = 'complaints' THEN
        IF NOT (NEW.origin ? 'form_table') THEN
            RETURN NULL;
        END IF;
        cid := NEW.id;
        why := 'state:' || coalesce(NEW.lapor_tracking_id, '-') || ':' || NEW.status::text;
    ELSE
        cid := NEW.complaint_id;
        IF NOT EXISTS (SELECT 1 FROM complaints c
                       WHERE c.id = cid AND c.origin ? 'form_table') THEN
            RETURN NULL;
        END IF;
        why := 'followup:' || NEW.id::text;
    END IF;
    PERFORM enqueue_jobs(ARRAY['write_back'], ARRAY[cid],
                         ARRAY[jsonb_build_object('reason', why)],
                         ARRAY['write_back:' || cid::text || ':' || why]);
    PERFORM pg_notify('satukanal_jobs', 'write_back');
    RETURN NULL;
END
$$;
