-- Fewer index entries per job, and indexes the worker's statements cannot misuse.
--
-- Every job is written three times (enqueue, claim, completion) and none of those updates
-- can be HOT, so each index entry a row version carries is paid three times.
--
-- * dedup_key and complaint_id are NULL for many jobs (notifications without a key, usage
--   reports, the benchmark's jobs): partial indexes leave those rows out. The unique
--   constraint becomes a partial unique index, so every ON CONFLICT on it names the
--   predicate: ON CONFLICT (dedup_key) WHERE dedup_key IS NOT NULL.
-- * jobs_lease_idx (running jobs by lease expiry) was a candidate for every statement that
--   finds running jobs by id (completion, heartbeat, release: WHERE id = ANY(...) AND
--   state = 'running'), and with statistics taken when few jobs ran the planner chose to
--   read all of it, entries of every job finished since the last VACUUM included, rather
--   than look the ids up in jobs_pkey: draining 20,000 jobs went quadratic. Its predicate
--   now also requires lease_until, which every running job has and those statements do not
--   test, so jobs_pkey is all they can use; expiry (lease_until < now) still uses it.
ALTER TABLE jobs DROP CONSTRAINT jobs_dedup_key_key;
CREATE UNIQUE INDEX jobs_dedup_key_idx ON jobs (dedup_key) WHERE dedup_key IS NOT NULL;

DROP INDEX jobs_complaint_idx;
CREATE INDEX jobs_complaint_idx ON jobs (complaint_id) WHERE complaint_id IS NOT NULL;

DROP INDEX jobs_lease_idx;
CREATE INDEX jobs_lease_idx ON jobs (lease_until)
    WHERE state = 'running' AND lease_until IS NOT NULL;

-- 0041's trigger function, with the arbiter of the partial unique index.
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
    INSERT INTO jobs (kind, complaint_id, payload, dedup_key)
    VALUES ('write_back', cid, jsonb_build_object('reason', why),
            'write_back:' || cid::text || ':' || why)
    ON CONFLICT (dedup_key) WHERE dedup_key IS NOT NULL DO NOTHING;
    PERFORM pg_notify('satukanal_jobs', 'write_back');
    RETURN NULL;
END
$$;
