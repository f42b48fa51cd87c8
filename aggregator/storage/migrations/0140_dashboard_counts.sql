-- The dashboard at a million complaints: counters kept by triggers, agency names from LAPOR!,
-- and the indexes the work lists page by.
--
-- complaint_counts holds one row per (channel, agency, status, funnel stage) with how many
-- complaints are there now; complaint_hourly counts complaints received and pushed per UTC
-- hour (Indonesia's zones are whole hours without summer time, so a local day is a range of
-- hours). Both are kept by the trigger below on every insert, update and delete of a
-- complaint, so the overview never counts the complaints table.

CREATE TABLE lapor_agencies (
    id text PRIMARY KEY,
    name text NOT NULL,
    parent_id text,
    fetched_at timestamptz NOT NULL DEFAULT now()
);

-- When the first substantive follow-up arrived (kept by a trigger on followups).
ALTER TABLE complaints ADD COLUMN first_real_followup_at timestamptz;

UPDATE complaints c SET first_real_followup_at = f.at
FROM (SELECT complaint_id, min(at) AS at FROM followups
      WHERE label IN ('substantive', 'substantive_with_evidence') GROUP BY complaint_id) f
WHERE f.complaint_id = c.id;

-- Where a complaint stands on the road received → pushed → verified → assigned → real
-- follow-up → closed; 'out' for the ones that left it (duplicate, rejected, deleted, …).
CREATE FUNCTION complaint_stage(s complaint_status, tracking text, real_at timestamptz)
RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE
        WHEN s IN ('duplicate', 'history', 'rejected_by_lapor', 'bukan_wewenang', 'dihapus')
            THEN 'out'
        WHEN s IN ('selesai', 'arsip') THEN 'closed'
        WHEN real_at IS NOT NULL THEN 'real_followup'
        WHEN s IN ('terdisposisi', 'diproses', 'ditindaklanjuti', 'tertunda') THEN 'assigned'
        WHEN s = 'terverifikasi' THEN 'verified'
        WHEN tracking IS NOT NULL OR s = 'belum_terverifikasi' THEN 'pushed'
        ELSE 'received'
    END
$$;

CREATE TABLE complaint_counts (
    channel text NOT NULL,
    agency_id text NOT NULL,
    status complaint_status NOT NULL,
    stage text NOT NULL,
    n bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (channel, agency_id, status, stage)
);

CREATE TABLE complaint_hourly (
    hour timestamptz NOT NULL,
    source text NOT NULL,
    channel text NOT NULL,
    agency_id text NOT NULL,
    received bigint NOT NULL DEFAULT 0,
    pushed bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (hour, source, channel, agency_id)
);
CREATE INDEX complaint_hourly_agency_idx ON complaint_hourly (agency_id, hour);
-- The same without the agency, for the overview of every agency (a few rows an hour).
CREATE TABLE complaint_hourly_total (
    hour timestamptz NOT NULL,
    source text NOT NULL,
    channel text NOT NULL,
    received bigint NOT NULL DEFAULT 0,
    pushed bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (hour, source, channel)
);


CREATE FUNCTION complaint_counts_bump(ch text, ag text, st complaint_status, sg text, d bigint)
RETURNS void LANGUAGE sql AS $$
    INSERT INTO complaint_counts AS k (channel, agency_id, status, stage, n)
    VALUES (ch, coalesce(ag, ''), st, sg, d)
    ON CONFLICT (channel, agency_id, status, stage) DO UPDATE SET n = k.n + EXCLUDED.n
$$;

CREATE FUNCTION complaint_hourly_bump(h timestamptz, src text, ch text, ag text, r bigint,
                                      p bigint)
RETURNS void LANGUAGE sql AS $$
    INSERT INTO complaint_hourly AS k (hour, source, channel, agency_id, received, pushed)
    VALUES (date_trunc('hour', h), src, ch, coalesce(ag, ''), r, p)
    ON CONFLICT (hour, source, channel, agency_id) DO UPDATE
    SET received = k.received + EXCLUDED.received, pushed = k.pushed + EXCLUDED.pushed;
    INSERT INTO complaint_hourly_total AS k (hour, source, channel, received, pushed)
    VALUES (date_trunc('hour', h), src, ch, r, p)
    ON CONFLICT (hour, source, channel) DO UPDATE
    SET received = k.received + EXCLUDED.received, pushed = k.pushed + EXCLUDED.pushed
$$;

-- Old and new keys are bumped in key order, so two transactions moving complaints in
-- opposite directions take the counter rows' locks in the same order (no deadlock).
CREATE FUNCTION complaint_counts_trigger() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    old_key text;
    new_key text;
    old_stage text;
    new_stage text;
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
    -- lapor_created_at hour; a change of either key moves its contribution.
    IF TG_OP = 'DELETE' OR (TG_OP = 'UPDATE' AND (
           OLD.received_at, OLD.source, OLD.channel, coalesce(OLD.agency_id, ''),
           OLD.lapor_tracking_id IS NULL, OLD.lapor_created_at)
           IS DISTINCT FROM (NEW.received_at, NEW.source, NEW.channel,
           coalesce(NEW.agency_id, ''), NEW.lapor_tracking_id IS NULL, NEW.lapor_created_at))
    THEN
        PERFORM complaint_hourly_bump(OLD.received_at, OLD.source, OLD.channel, OLD.agency_id,
                                      -1, 0);
        IF OLD.lapor_tracking_id IS NOT NULL THEN
            PERFORM complaint_hourly_bump(coalesce(OLD.lapor_created_at, OLD.received_at),
                                          OLD.source, OLD.channel, OLD.agency_id, 0, -1);
        END IF;
    ELSIF TG_OP = 'UPDATE' THEN
        RETURN NULL;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        PERFORM complaint_hourly_bump(NEW.received_at, NEW.source, NEW.channel, NEW.agency_id,
                                      1, 0);
        IF NEW.lapor_tracking_id IS NOT NULL THEN
            PERFORM complaint_hourly_bump(coalesce(NEW.lapor_created_at, NEW.received_at),
                                          NEW.source, NEW.channel, NEW.agency_id, 0, 1);
        END IF;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER complaints_counts AFTER INSERT OR DELETE
    OR UPDATE OF status, lapor_tracking_id, lapor_created_at, agency_id, channel, source,
                 received_at,
                 first_real_followup_at
    ON complaints FOR EACH ROW EXECUTE FUNCTION complaint_counts_trigger();

CREATE FUNCTION followups_first_real_trigger() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.label IN ('substantive', 'substantive_with_evidence') THEN
        UPDATE complaints SET first_real_followup_at = NEW.at
        WHERE id = NEW.complaint_id
          AND (first_real_followup_at IS NULL OR first_real_followup_at > NEW.at);
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER followups_first_real AFTER INSERT OR UPDATE OF label ON followups
    FOR EACH ROW EXECUTE FUNCTION followups_first_real_trigger();

-- The counters recomputed from the complaints (what exists at migration time; a bulk load
-- with the triggers disabled calls it afterwards).
CREATE FUNCTION dashboard_counts_rebuild() RETURNS void LANGUAGE sql AS $$
DELETE FROM complaint_counts;
DELETE FROM complaint_hourly;
DELETE FROM complaint_hourly_total;
INSERT INTO complaint_counts (channel, agency_id, status, stage, n)
SELECT channel, coalesce(agency_id, ''), status,
       complaint_stage(status, lapor_tracking_id, first_real_followup_at), count(*)
FROM complaints GROUP BY 1, 2, 3, 4;

INSERT INTO complaint_hourly (hour, source, channel, agency_id, received, pushed)
SELECT hour, source, channel, agency_id, sum(r), sum(p)
FROM (SELECT date_trunc('hour', received_at) AS hour, source, channel,
             coalesce(agency_id, '') AS agency_id, 1 AS r, 0 AS p FROM complaints
      UNION ALL
      SELECT date_trunc('hour', coalesce(lapor_created_at, received_at)), source, channel,
             coalesce(agency_id, ''), 0, 1 FROM complaints WHERE lapor_tracking_id IS NOT NULL
     ) x
GROUP BY 1, 2, 3, 4;

INSERT INTO complaint_hourly_total (hour, source, channel, received, pushed)
SELECT hour, source, channel, sum(received), sum(pushed) FROM complaint_hourly
GROUP BY 1, 2, 3;
$$;

SELECT dashboard_counts_rebuild();

-- Per agency per month, recomputed by the dashboard's statistics loop (working days need
-- the holiday calendar, which lives in Python). days_hist[i] counts complaints whose first
-- real follow-up came i-1 working days after assignment (the last bucket: that or more).
CREATE TABLE agency_monthly (
    month date NOT NULL,
    agency_id text NOT NULL,
    agency_name text,
    received integer NOT NULL DEFAULT 0,
    followed_up integer NOT NULL DEFAULT 0,
    real_followup integer NOT NULL DEFAULT 0,
    done integer NOT NULL DEFAULT 0,
    answered integer NOT NULL DEFAULT 0,
    ack_only integer NOT NULL DEFAULT 0,
    closed_ever integer NOT NULL DEFAULT 0,
    reopened integer NOT NULL DEFAULT 0,
    closed_without_real_followup integer NOT NULL DEFAULT 0,
    breaches integer NOT NULL DEFAULT 0,
    days_hist integer[] NOT NULL DEFAULT '{}',
    computed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (month, agency_id)
);

-- Work lists: filters that page by received_at, and text search.
CREATE INDEX complaints_channel_idx ON complaints (channel, received_at DESC);
CREATE INDEX complaints_source_agency_idx ON complaints (source_agency, received_at DESC)
    WHERE source_agency IS NOT NULL;
CREATE INDEX complaints_cluster_idx ON complaints (cluster_id, received_at DESC)
    WHERE cluster_id IS NOT NULL;
-- The words of a complaint, stored: a list walking the newest complaints can test each one
-- without parsing its text again (to_tsvector costs ~50 µs a row), and the index finds rare
-- words. Adding the column rewrites the table once (about a minute per million complaints).
ALTER TABLE complaints ADD COLUMN search tsvector
    GENERATED ALWAYS AS (to_tsvector('simple', coalesce(title, '') || ' ' || content)) STORED;
CREATE INDEX complaints_text_idx ON complaints USING gin (search);
-- Word frequencies for the planner: with the default sample a rare word is guessed at 0.5%
-- of complaints, and the list walks every complaint looking for it instead of asking the
-- index.
ALTER TABLE complaints ALTER COLUMN search SET STATISTICS 1000;
-- "Has a breached clock", probed per complaint by the work list, from the index alone.
CREATE INDEX sla_clocks_breached_complaint_idx ON sla_clocks (complaint_id)
    WHERE breached_at IS NOT NULL;
CREATE INDEX sla_clocks_open_agency_idx ON sla_clocks (agency_id, due_at)
    WHERE met_at IS NULL AND breached_at IS NULL;
CREATE INDEX raw_items_quarantined_idx ON raw_items (id DESC) WHERE state = 'quarantined';
-- A receipt code is compared as printed on the slip, whatever its case.
CREATE INDEX complaints_receipt_upper_idx ON complaints (upper(origin ->> 'receipt_code'))
    WHERE origin ? 'receipt_code';
CREATE INDEX followups_label_idx ON followups (label, complaint_id);
