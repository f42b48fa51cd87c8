-- Write-back into old form databases is asked for by the database itself: whatever part of
-- the daemon sets a Tracking ID, moves a status or stores an agency response, the same
-- transaction queues a `write_back` job for complaints that came from a form row
-- (origin.form_table). The handler mirrors the whole current state idempotently and does
-- nothing for sources whose write-back is off, so a spare job is harmless.
CREATE FUNCTION forms_enqueue_write_back() RETURNS trigger LANGUAGE plpgsql AS $$
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
    ON CONFLICT (dedup_key) DO NOTHING;
    PERFORM pg_notify('satukanal_jobs', 'write_back');
    RETURN NULL;
END
$$;

CREATE TRIGGER complaints_forms_write_back
    AFTER UPDATE OF lapor_tracking_id, status ON complaints
    FOR EACH ROW
    WHEN (NEW.lapor_tracking_id IS DISTINCT FROM OLD.lapor_tracking_id
          OR NEW.status IS DISTINCT FROM OLD.status)
    EXECUTE FUNCTION forms_enqueue_write_back();

CREATE TRIGGER followups_forms_write_back
    AFTER INSERT ON followups
    FOR EACH ROW EXECUTE FUNCTION forms_enqueue_write_back();
