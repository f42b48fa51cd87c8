-- Cheaper dashboard counters on the push path (issue 18, item 1).
--
-- Every push moves its complaint to "pushed", and the counters trigger of migration 0140
-- cost three times the rest of the push's transaction: 0.35 ms a complaint, in the one
-- statement that stores a batch of Tracking IDs. Two reasons, both fixed here with the same
-- counts as before:
--
-- * The bump functions were LANGUAGE sql called from PL/pgSQL: PostgreSQL (before 18) plans
--   such a function's statements again on every call, two INSERT … ON CONFLICT plans per
--   hourly bump. In PL/pgSQL their plans are cached for the session.
-- * A push changes only the complaint's "pushed" contribution to the hourly counters, yet
--   the trigger took back its "received" contribution and added it again (four upserts that
--   cancel out). Now only the contribution whose key changed moves.

CREATE OR REPLACE FUNCTION complaint_counts_bump(ch text, ag text, st complaint_status, sg text,
                                                 d bigint)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO complaint_counts AS k (channel, agency_id, status, stage, n)
    VALUES (ch, coalesce(ag, ''), st, sg, d)
    ON CONFLICT (channel, agency_id, status, stage) DO UPDATE SET n = k.n + EXCLUDED.n;
END
$$;

CREATE OR REPLACE FUNCTION complaint_hourly_bump(h timestamptz, src text, ch text, ag text,
                                                 r bigint, p bigint)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO complaint_hourly AS k (hour, source, channel, agency_id, received, pushed)
    VALUES (date_trunc('hour', h), src, ch, coalesce(ag, ''), r, p)
    ON CONFLICT (hour, source, channel, agency_id) DO UPDATE
    SET received = k.received + EXCLUDED.received, pushed = k.pushed + EXCLUDED.pushed;
    INSERT INTO complaint_hourly_total AS k (hour, source, channel, received, pushed)
    VALUES (date_trunc('hour', h), src, ch, r, p)
    ON CONFLICT (hour, source, channel) DO UPDATE
    SET received = k.received + EXCLUDED.received, pushed = k.pushed + EXCLUDED.pushed;
END
$$;

-- Old and new keys are bumped in key order, so two transactions moving complaints in
-- opposite directions take the counter rows' locks in the same order (no deadlock).
CREATE OR REPLACE FUNCTION complaint_counts_trigger() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    old_key text;
    new_key text;
    old_stage text;
    new_stage text;
    received_moved boolean;
    pushed_moved boolean;
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        old_stage := complaint_stage(OLD.status, OLD.lapor_tracking_id, OLD.first_real_followup_at);
        old_key := OLD.channel || '/' || coalesce(OLD.agency_id, '') || '/' || OLD.status::text
                   || '/' || old_stage;
    END IF;
    IF TG_OP IN ('UPDATE', 'INSERT') THEN
        new_stage := complaint_stage(NEW.status, NEW.lapor_tracking_id, NEW.first_real_followup_at);
        new_key := NEW.channel || '/' || coalesce(NEW.agency_id, '') || '/' || NEW.status::text
                   || '/' || new_stage;
    END IF;
    IF old_key IS DISTINCT FROM new_key THEN
        IF new_key IS NULL OR (old_key IS NOT NULL AND old_key < new_key) THEN
            PERFORM complaint_counts_bump(OLD.channel, OLD.agency_id, OLD.status, old_stage, -1);
            IF new_key IS NOT NULL THEN
                PERFORM complaint_counts_bump(NEW.channel, NEW.agency_id, NEW.status, new_stage, 1);
            END IF;
        ELSE
            PERFORM complaint_counts_bump(NEW.channel, NEW.agency_id, NEW.status, new_stage, 1);
            IF old_key IS NOT NULL THEN
                PERFORM complaint_counts_bump(OLD.channel, OLD.agency_id, OLD.status, old_stage, -1);
            END IF;
        END IF;
    END IF;
    -- Hourly: a complaint counts as received in its received_at hour and as pushed in its
    -- lapor_created_at hour (the receipt's when unknown), under its source, channel and
    -- agency; a contribution moves only when its key changed.
    IF TG_OP = 'UPDATE' THEN
        received_moved := (date_trunc('hour', OLD.received_at), OLD.source, OLD.channel,
                           coalesce(OLD.agency_id, ''))
            IS DISTINCT FROM (date_trunc('hour', NEW.received_at), NEW.source, NEW.channel,
                              coalesce(NEW.agency_id, ''));
        pushed_moved := (OLD.lapor_tracking_id IS NOT NULL OR NEW.lapor_tracking_id IS NOT NULL)
            AND (OLD.lapor_tracking_id IS NULL,
                 date_trunc('hour', coalesce(OLD.lapor_created_at, OLD.received_at)),
                 OLD.source, OLD.channel, coalesce(OLD.agency_id, ''))
            IS DISTINCT FROM (NEW.lapor_tracking_id IS NULL,
                              date_trunc('hour', coalesce(NEW.lapor_created_at, NEW.received_at)),
                              NEW.source, NEW.channel, coalesce(NEW.agency_id, ''));
    ELSE
        received_moved := true;
        pushed_moved := true;
    END IF;
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        IF received_moved THEN
            PERFORM complaint_hourly_bump(OLD.received_at, OLD.source, OLD.channel,
                                          OLD.agency_id, -1, 0);
        END IF;
        IF pushed_moved AND OLD.lapor_tracking_id IS NOT NULL THEN
            PERFORM complaint_hourly_bump(coalesce(OLD.lapor_created_at, OLD.received_at),
                                          OLD.source, OLD.channel, OLD.agency_id, 0, -1);
        END IF;
    END IF;
    IF TG_OP IN ('UPDATE', 'INSERT') THEN
        IF received_moved THEN
            PERFORM complaint_hourly_bump(NEW.received_at, NEW.source, NEW.channel,
                                          NEW.agency_id, 1, 0);
        END IF;
        IF pushed_moved AND NEW.lapor_tracking_id IS NOT NULL THEN
            PERFORM complaint_hourly_bump(coalesce(NEW.lapor_created_at, NEW.received_at),
                                          NEW.source, NEW.channel, NEW.agency_id, 0, 1);
        END IF;
    END IF;
    RETURN NULL;
END
$$;
