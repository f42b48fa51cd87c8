CREATE TYPE public.complaint_status AS ENUM (
    'received',
    'manual_pending',
    'rejected_by_lapor',
    'duplicate',
    'history',
    'belum_terverifikasi',
    'terverifikasi',
    'terdisposisi',
    'diproses',
    'ditindaklanjuti',
    'selesai',
    'tertunda',
    'arsip',
    'bukan_wewenang',
    'dihapus'
);

CREATE TYPE public.followup_label AS ENUM (
    'acknowledgement',
    'forwarded',
    'info_request',
    'substantive',
    'substantive_with_evidence'
);

CREATE TYPE public.job_state AS ENUM (
    'queued',
    'running',
    'in_doubt',
    'done',
    'dead'
);

CREATE TYPE public.notification_state AS ENUM (
    'queued',
    'sent',
    'delivered',
    'failed',
    'skipped'
);

CREATE TYPE public.raw_state AS ENUM (
    'accepted',
    'quarantined',
    'duplicate',
    'reply',
    'ignored'
);

CREATE TYPE public.token_role AS ENUM (
    'admin',
    'operator',
    'auditor',
    'agency'
);

CREATE FUNCTION public.complaint_counts_bump(ch text, ag text, st public.complaint_status, sg text, d bigint) RETURNS void
    LANGUAGE plpgsql
    AS $$
BEGIN
    INSERT INTO complaint_counts AS k (channel, agency_id, status, stage, n)
    VALUES (ch, coalesce(ag, ''), st, sg, d)
    ON CONFLICT (channel, agency_id, status, stage) DO UPDATE SET n = k.n + EXCLUDED.n;
END
$$;

CREATE FUNCTION public.complaint_counts_trigger() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
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

CREATE FUNCTION public.complaint_hourly_bump(h timestamp with time zone, src text, ch text, ag text, r bigint, p bigint) RETURNS void
    LANGUAGE plpgsql
    AS $$
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

CREATE FUNCTION public.complaint_stage(s public.complaint_status, tracking text, real_at timestamp with time zone) RETURNS text
    LANGUAGE sql IMMUTABLE
    AS $$
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

CREATE FUNCTION public.dashboard_counts_rebuild() RETURNS void
    LANGUAGE sql
    AS $$
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

CREATE FUNCTION public.enqueue_jobs(job_kinds text[], job_complaint_ids uuid[], job_payloads jsonb[], job_dedup_keys text[] DEFAULT NULL::text[], job_run_afters timestamp with time zone[] DEFAULT NULL::timestamp with time zone[], job_max_attempts integer[] DEFAULT NULL::integer[], job_now timestamp with time zone DEFAULT NULL::timestamp with time zone, job_lanes smallint[] DEFAULT NULL::smallint[]) RETURNS SETOF bigint
    LANGUAGE plpgsql
    AS $$
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

CREATE FUNCTION public.followups_first_real_trigger() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    IF NEW.label IN ('substantive', 'substantive_with_evidence') THEN
        UPDATE complaints SET first_real_followup_at = NEW.at
        WHERE id = NEW.complaint_id
          AND (first_real_followup_at IS NULL OR first_real_followup_at > NEW.at);
    END IF;
    RETURN NULL;
END
$$;

CREATE FUNCTION public.forms_enqueue_write_back() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
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

CREATE TABLE public.access_log (
    id bigint NOT NULL,
    at timestamp with time zone DEFAULT now() NOT NULL,
    token_id uuid,
    actor text NOT NULL,
    action text NOT NULL,
    subject text NOT NULL,
    detail jsonb DEFAULT '{}'::jsonb NOT NULL
);

CREATE SEQUENCE public.access_log_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

ALTER SEQUENCE public.access_log_id_seq OWNED BY public.access_log.id;

CREATE TABLE public.agency_monthly (
    month date NOT NULL,
    agency_id text NOT NULL,
    agency_name text,
    received integer DEFAULT 0 NOT NULL,
    followed_up integer DEFAULT 0 NOT NULL,
    real_followup integer DEFAULT 0 NOT NULL,
    done integer DEFAULT 0 NOT NULL,
    answered integer DEFAULT 0 NOT NULL,
    ack_only integer DEFAULT 0 NOT NULL,
    closed_ever integer DEFAULT 0 NOT NULL,
    reopened integer DEFAULT 0 NOT NULL,
    closed_without_real_followup integer DEFAULT 0 NOT NULL,
    breaches integer DEFAULT 0 NOT NULL,
    days_hist integer[] DEFAULT '{}'::integer[] NOT NULL,
    computed_at timestamp with time zone DEFAULT now() NOT NULL,
    reassignments integer DEFAULT 0 NOT NULL,
    suggested integer DEFAULT 0 NOT NULL
);

CREATE TABLE public.api_tokens (
    id uuid NOT NULL,
    name text NOT NULL,
    token_hash bytea NOT NULL,
    role public.token_role NOT NULL,
    agency text,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    revoked_at timestamp with time zone,
    last_used_at timestamp with time zone
);

CREATE TABLE public.attachments (
    sha256 bytea NOT NULL,
    content_type text NOT NULL,
    size integer NOT NULL,
    data bytea NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL
);

CREATE TABLE public.backfill_runs (
    source text NOT NULL,
    cursor jsonb,
    started_at timestamp with time zone DEFAULT now() NOT NULL,
    finished_at timestamp with time zone,
    counts jsonb DEFAULT '{}'::jsonb NOT NULL
);

CREATE TABLE public.complaint_attachments (
    complaint_id uuid NOT NULL,
    sha256 bytea NOT NULL,
    filename text NOT NULL,
    note text,
    lapor_attachment_id text
);

CREATE TABLE public.complaint_clusters (
    id uuid NOT NULL,
    category text NOT NULL,
    place text NOT NULL,
    first_at timestamp with time zone DEFAULT now() NOT NULL,
    last_at timestamp with time zone DEFAULT now() NOT NULL,
    complaints integer DEFAULT 0 NOT NULL,
    reporters integer DEFAULT 0 NOT NULL
);

CREATE TABLE public.complaint_counts (
    channel text NOT NULL,
    agency_id text NOT NULL,
    status public.complaint_status NOT NULL,
    stage text NOT NULL,
    n bigint DEFAULT 0 NOT NULL
);

CREATE TABLE public.complaint_hourly (
    hour timestamp with time zone NOT NULL,
    source text NOT NULL,
    channel text NOT NULL,
    agency_id text NOT NULL,
    received bigint DEFAULT 0 NOT NULL,
    pushed bigint DEFAULT 0 NOT NULL
);

CREATE TABLE public.complaint_hourly_total (
    hour timestamp with time zone NOT NULL,
    source text NOT NULL,
    channel text NOT NULL,
    received bigint DEFAULT 0 NOT NULL,
    pushed bigint DEFAULT 0 NOT NULL
);

CREATE TABLE public.complaints (
    id uuid NOT NULL,
    source text NOT NULL,
    channel text NOT NULL,
    raw_item_id bigint,
    reporter_id uuid,
    title text,
    content text NOT NULL,
    classification text DEFAULT 'pengaduan'::text NOT NULL,
    category_id text,
    agency_id text,
    agency_name text,
    source_agency text,
    anonymous boolean DEFAULT false NOT NULL,
    confidential boolean DEFAULT false NOT NULL,
    location jsonb,
    occurred_on date,
    submitted_at timestamp with time zone,
    received_at timestamp with time zone DEFAULT now() NOT NULL,
    status public.complaint_status DEFAULT 'received'::public.complaint_status NOT NULL,
    status_at timestamp with time zone DEFAULT now() NOT NULL,
    lapor_tracking_id text,
    lapor_created_at timestamp with time zone,
    lapor_errors jsonb,
    duplicate_of uuid,
    cluster_id uuid,
    content_hash bytea,
    thread_keys text[] DEFAULT '{}'::text[] NOT NULL,
    origin jsonb DEFAULT '{}'::jsonb NOT NULL,
    flags text[] DEFAULT '{}'::text[] NOT NULL,
    legacy_status text,
    closed_without_real_followup boolean DEFAULT false NOT NULL,
    waiting_on_reporter boolean DEFAULT false NOT NULL,
    solved_asked_at timestamp with time zone,
    resolved_by_reporter boolean,
    reopen_count integer DEFAULT 0 NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    route_category text,
    route_agency text,
    route_confidence real,
    route_reasons text[] DEFAULT '{}'::text[] NOT NULL,
    needs_triage boolean DEFAULT false NOT NULL,
    erased_at timestamp with time zone,
    first_real_followup_at timestamp with time zone,
    search tsvector GENERATED ALWAYS AS (to_tsvector('simple'::regconfig, ((COALESCE(title, ''::text) || ' '::text) || content))) STORED
);
ALTER TABLE ONLY public.complaints ALTER COLUMN search SET STATISTICS 1000;

CREATE TABLE public.component_health (
    component text NOT NULL,
    kind text NOT NULL,
    name text NOT NULL,
    registered_at timestamp with time zone DEFAULT now() NOT NULL,
    last_attempt_at timestamp with time zone,
    last_success_at timestamp with time zone,
    last_failure_at timestamp with time zone,
    consecutive_failures integer DEFAULT 0 NOT NULL,
    needs_human boolean DEFAULT false NOT NULL,
    last_error text,
    expected_interval_s double precision,
    last_items integer DEFAULT 0 NOT NULL,
    CONSTRAINT component_health_kind_check CHECK ((kind = ANY (ARRAY['source'::text, 'lapor'::text, 'feed'::text, 'sink'::text])))
);

CREATE TABLE public.dashboard_sessions (
    id_hash bytea NOT NULL,
    token_id uuid NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    expires_at timestamp with time zone NOT NULL,
    revoked_at timestamp with time zone,
    last_seen_at timestamp with time zone DEFAULT now() NOT NULL
);

CREATE TABLE public.events (
    id bigint NOT NULL,
    complaint_id uuid,
    kind text NOT NULL,
    at timestamp with time zone DEFAULT now() NOT NULL,
    actor text DEFAULT 'system'::text NOT NULL,
    data jsonb DEFAULT '{}'::jsonb NOT NULL
);

CREATE SEQUENCE public.events_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

ALTER SEQUENCE public.events_id_seq OWNED BY public.events.id;

CREATE TABLE public.followups (
    id bigint NOT NULL,
    complaint_id uuid NOT NULL,
    event_id text,
    at timestamp with time zone NOT NULL,
    agency_id text,
    agency_name text,
    author text,
    text text NOT NULL,
    attachments jsonb DEFAULT '[]'::jsonb NOT NULL,
    label public.followup_label NOT NULL,
    reasons jsonb DEFAULT '[]'::jsonb NOT NULL,
    kind text DEFAULT 'response'::text NOT NULL
);

CREATE SEQUENCE public.followups_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

ALTER SEQUENCE public.followups_id_seq OWNED BY public.followups.id;

CREATE TABLE public.form_writes (
    complaint_id uuid NOT NULL,
    write_key text NOT NULL,
    wording text NOT NULL,
    planned_at timestamp with time zone DEFAULT now() NOT NULL,
    confirmed_at timestamp with time zone
);

CREATE TABLE public.incidents (
    id bigint NOT NULL,
    kind text NOT NULL,
    subject text DEFAULT ''::text NOT NULL,
    state text DEFAULT 'pending'::text NOT NULL,
    summary text NOT NULL,
    detail jsonb DEFAULT '{}'::jsonb NOT NULL,
    first_seen_at timestamp with time zone NOT NULL,
    last_seen_at timestamp with time zone NOT NULL,
    opened_at timestamp with time zone,
    clear_since timestamp with time zone,
    resolved_at timestamp with time zone,
    notified jsonb DEFAULT '{}'::jsonb NOT NULL,
    notify_attempts integer DEFAULT 0 NOT NULL,
    CONSTRAINT incidents_state_check CHECK ((state = ANY (ARRAY['pending'::text, 'open'::text, 'resolved'::text])))
);

CREATE SEQUENCE public.incidents_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

ALTER SEQUENCE public.incidents_id_seq OWNED BY public.incidents.id;

CREATE TABLE public.jobs (
    id bigint NOT NULL,
    kind text NOT NULL,
    complaint_id uuid,
    payload jsonb DEFAULT '{}'::jsonb NOT NULL,
    dedup_key text,
    state public.job_state DEFAULT 'queued'::public.job_state NOT NULL,
    attempts integer DEFAULT 0 NOT NULL,
    max_attempts integer,
    run_after timestamp with time zone DEFAULT now() NOT NULL,
    lease_owner text,
    lease_until timestamp with time zone,
    last_error text,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    finished_at timestamp with time zone,
    lane smallint DEFAULT 0 NOT NULL
);

CREATE SEQUENCE public.jobs_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

ALTER SEQUENCE public.jobs_id_seq OWNED BY public.jobs.id;

CREATE TABLE public.lapor_agencies (
    id text NOT NULL,
    name text NOT NULL,
    parent_id text,
    fetched_at timestamp with time zone DEFAULT now() NOT NULL
);

CREATE TABLE public.lapor_events (
    event_id text NOT NULL,
    tracking_id text NOT NULL,
    type text NOT NULL,
    at timestamp with time zone NOT NULL,
    body jsonb NOT NULL,
    complaint_id uuid,
    received_at timestamp with time zone DEFAULT now() NOT NULL,
    applied boolean DEFAULT false NOT NULL,
    note text
);

CREATE TABLE public.lapor_state (
    name text NOT NULL,
    cursor text,
    updated_at timestamp with time zone DEFAULT now() NOT NULL
);

CREATE TABLE public.notifications (
    id uuid NOT NULL,
    complaint_id uuid,
    kind text NOT NULL,
    channel text NOT NULL,
    source text NOT NULL,
    dedup_key text,
    subject text,
    body text,
    state public.notification_state DEFAULT 'queued'::public.notification_state NOT NULL,
    external_id text,
    detail text,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    sent_at timestamp with time zone,
    delivered_at timestamp with time zone,
    items jsonb DEFAULT '[]'::jsonb NOT NULL,
    merged_into uuid,
    sending_at timestamp with time zone,
    attempts integer DEFAULT 0 NOT NULL,
    address_hash bytea,
    body_hash bytea,
    retry_of uuid,
    redelivery_no integer DEFAULT 0 NOT NULL,
    body_enc bytea,
    body_key text
);

CREATE UNLOGGED TABLE public.rate_buckets (
    bucket text NOT NULL,
    tat timestamp with time zone NOT NULL
);

CREATE TABLE public.raw_items (
    id bigint NOT NULL,
    source text NOT NULL,
    source_ref text NOT NULL,
    received_at timestamp with time zone,
    ingested_at timestamp with time zone DEFAULT now() NOT NULL,
    content_type text DEFAULT 'application/octet-stream'::text NOT NULL,
    payload bytea NOT NULL,
    meta jsonb DEFAULT '{}'::jsonb NOT NULL,
    state public.raw_state NOT NULL,
    reason text,
    complaint_id uuid,
    content_hash bytea,
    payload_key text,
    purged_at timestamp with time zone
);

CREATE SEQUENCE public.raw_items_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

ALTER SEQUENCE public.raw_items_id_seq OWNED BY public.raw_items.id;

CREATE TABLE public.reporter_replies (
    id uuid NOT NULL,
    complaint_id uuid NOT NULL,
    raw_item_id bigint,
    channel text NOT NULL,
    text text NOT NULL,
    sent_at timestamp with time zone,
    resolved boolean,
    lapor_reply_id text,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    verified boolean DEFAULT true NOT NULL,
    verified_by text,
    unverified_reason text,
    reviewed_at timestamp with time zone,
    reviewed_by text,
    review text,
    CONSTRAINT reporter_replies_review_check CHECK ((review = ANY (ARRAY['accepted'::text, 'rejected'::text])))
);

CREATE TABLE public.reporters (
    id uuid NOT NULL,
    key_id text NOT NULL,
    name_enc bytea,
    email_enc bytea,
    phone_enc bytea,
    nik_enc bytea,
    email_hash bytea,
    phone_hash bytea,
    nik_hash bytea,
    nik_valid boolean,
    created_at timestamp with time zone DEFAULT now() NOT NULL
);

CREATE TABLE public.route_corrections (
    id bigint NOT NULL,
    complaint_id uuid NOT NULL,
    category text NOT NULL,
    agency text NOT NULL,
    previous_category text,
    previous_agency text,
    operator text NOT NULL,
    at timestamp with time zone DEFAULT now() NOT NULL
);

CREATE SEQUENCE public.route_corrections_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

ALTER SEQUENCE public.route_corrections_id_seq OWNED BY public.route_corrections.id;

CREATE TABLE public.sla_clocks (
    complaint_id uuid NOT NULL,
    clock text NOT NULL,
    started_at timestamp with time zone NOT NULL,
    due_at timestamp with time zone NOT NULL,
    paused_at timestamp with time zone,
    paused_total interval DEFAULT '00:00:00'::interval NOT NULL,
    met_at timestamp with time zone,
    breached_at timestamp with time zone,
    agency_id text
);

CREATE TABLE public.source_state (
    source text NOT NULL,
    kind text NOT NULL,
    cursor jsonb,
    last_poll_at timestamp with time zone,
    last_success_at timestamp with time zone,
    last_error_at timestamp with time zone,
    last_error text,
    degraded boolean DEFAULT false NOT NULL,
    last_batch_size integer DEFAULT 0 NOT NULL,
    items_total bigint DEFAULT 0 NOT NULL,
    lease_owner text,
    lease_until timestamp with time zone
);

ALTER TABLE ONLY public.access_log ALTER COLUMN id SET DEFAULT nextval('public.access_log_id_seq'::regclass);

ALTER TABLE ONLY public.events ALTER COLUMN id SET DEFAULT nextval('public.events_id_seq'::regclass);

ALTER TABLE ONLY public.followups ALTER COLUMN id SET DEFAULT nextval('public.followups_id_seq'::regclass);

ALTER TABLE ONLY public.incidents ALTER COLUMN id SET DEFAULT nextval('public.incidents_id_seq'::regclass);

ALTER TABLE ONLY public.jobs ALTER COLUMN id SET DEFAULT nextval('public.jobs_id_seq'::regclass);

ALTER TABLE ONLY public.raw_items ALTER COLUMN id SET DEFAULT nextval('public.raw_items_id_seq'::regclass);

ALTER TABLE ONLY public.route_corrections ALTER COLUMN id SET DEFAULT nextval('public.route_corrections_id_seq'::regclass);

ALTER TABLE ONLY public.access_log
    ADD CONSTRAINT access_log_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.agency_monthly
    ADD CONSTRAINT agency_monthly_pkey PRIMARY KEY (month, agency_id);

ALTER TABLE ONLY public.api_tokens
    ADD CONSTRAINT api_tokens_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.api_tokens
    ADD CONSTRAINT api_tokens_token_hash_key UNIQUE (token_hash);

ALTER TABLE ONLY public.attachments
    ADD CONSTRAINT attachments_pkey PRIMARY KEY (sha256);

ALTER TABLE ONLY public.backfill_runs
    ADD CONSTRAINT backfill_runs_pkey PRIMARY KEY (source);

ALTER TABLE ONLY public.complaint_attachments
    ADD CONSTRAINT complaint_attachments_pkey PRIMARY KEY (complaint_id, sha256);

ALTER TABLE ONLY public.complaint_clusters
    ADD CONSTRAINT complaint_clusters_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.complaint_counts
    ADD CONSTRAINT complaint_counts_pkey PRIMARY KEY (channel, agency_id, status, stage);

ALTER TABLE ONLY public.complaint_hourly
    ADD CONSTRAINT complaint_hourly_pkey PRIMARY KEY (hour, source, channel, agency_id);

ALTER TABLE ONLY public.complaint_hourly_total
    ADD CONSTRAINT complaint_hourly_total_pkey PRIMARY KEY (hour, source, channel);

ALTER TABLE ONLY public.complaints
    ADD CONSTRAINT complaints_lapor_tracking_id_key UNIQUE (lapor_tracking_id);

ALTER TABLE ONLY public.complaints
    ADD CONSTRAINT complaints_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.component_health
    ADD CONSTRAINT component_health_pkey PRIMARY KEY (component);

ALTER TABLE ONLY public.dashboard_sessions
    ADD CONSTRAINT dashboard_sessions_pkey PRIMARY KEY (id_hash);

ALTER TABLE ONLY public.events
    ADD CONSTRAINT events_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.followups
    ADD CONSTRAINT followups_event_id_key UNIQUE (event_id);

ALTER TABLE ONLY public.followups
    ADD CONSTRAINT followups_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.form_writes
    ADD CONSTRAINT form_writes_pkey PRIMARY KEY (complaint_id, write_key);

ALTER TABLE ONLY public.incidents
    ADD CONSTRAINT incidents_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.jobs
    ADD CONSTRAINT jobs_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.lapor_agencies
    ADD CONSTRAINT lapor_agencies_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.lapor_events
    ADD CONSTRAINT lapor_events_pkey PRIMARY KEY (event_id);

ALTER TABLE ONLY public.lapor_state
    ADD CONSTRAINT lapor_state_pkey PRIMARY KEY (name);

ALTER TABLE ONLY public.notifications
    ADD CONSTRAINT notifications_dedup_key_key UNIQUE (dedup_key);

ALTER TABLE ONLY public.notifications
    ADD CONSTRAINT notifications_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.rate_buckets
    ADD CONSTRAINT rate_buckets_pkey PRIMARY KEY (bucket);

ALTER TABLE ONLY public.raw_items
    ADD CONSTRAINT raw_items_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.raw_items
    ADD CONSTRAINT raw_items_source_source_ref_key UNIQUE (source, source_ref);

ALTER TABLE ONLY public.reporter_replies
    ADD CONSTRAINT reporter_replies_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.reporters
    ADD CONSTRAINT reporters_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.route_corrections
    ADD CONSTRAINT route_corrections_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.sla_clocks
    ADD CONSTRAINT sla_clocks_pkey PRIMARY KEY (complaint_id, clock);

ALTER TABLE ONLY public.source_state
    ADD CONSTRAINT source_state_pkey PRIMARY KEY (source);

CREATE INDEX access_log_at_idx ON public.access_log USING btree (at);

CREATE INDEX complaint_clusters_key_idx ON public.complaint_clusters USING btree (category, place, last_at DESC);

CREATE INDEX complaint_clusters_recent_idx ON public.complaint_clusters USING btree (last_at DESC) WHERE (reporters > 1);

CREATE INDEX complaint_hourly_agency_idx ON public.complaint_hourly USING btree (agency_id, hour);

CREATE INDEX complaints_agency_idx ON public.complaints USING btree (agency_id, received_at DESC);

CREATE INDEX complaints_channel_idx ON public.complaints USING btree (channel, received_at DESC);

CREATE INDEX complaints_cluster_idx ON public.complaints USING btree (cluster_id, received_at DESC) WHERE (cluster_id IS NOT NULL);

CREATE INDEX complaints_content_hash_idx ON public.complaints USING btree (content_hash);

CREATE INDEX complaints_receipt_code_idx ON public.complaints USING btree (source, ((origin ->> 'receipt_code'::text))) WHERE (origin ? 'receipt_code'::text);

CREATE INDEX complaints_receipt_upper_idx ON public.complaints USING btree (upper((origin ->> 'receipt_code'::text))) WHERE (origin ? 'receipt_code'::text);

CREATE INDEX complaints_received_idx ON public.complaints USING btree (received_at DESC);

CREATE INDEX complaints_reporter_idx ON public.complaints USING btree (reporter_id);

CREATE INDEX complaints_source_agency_idx ON public.complaints USING btree (source_agency, received_at DESC) WHERE (source_agency IS NOT NULL);

CREATE INDEX complaints_source_idx ON public.complaints USING btree (source, received_at DESC);

CREATE INDEX complaints_status_idx ON public.complaints USING btree (status, received_at DESC);

CREATE INDEX complaints_text_idx ON public.complaints USING gin (search);

CREATE INDEX complaints_thread_keys_idx ON public.complaints USING gin (thread_keys);

CREATE INDEX complaints_triage_idx ON public.complaints USING btree (received_at DESC) WHERE needs_triage;

CREATE INDEX dashboard_sessions_expires_idx ON public.dashboard_sessions USING btree (expires_at);

CREATE INDEX dashboard_sessions_token_idx ON public.dashboard_sessions USING btree (token_id);

CREATE INDEX events_complaint_idx ON public.events USING btree (complaint_id, id);

CREATE INDEX events_kind_idx ON public.events USING btree (kind, at);

CREATE INDEX followups_complaint_idx ON public.followups USING btree (complaint_id, at);

CREATE INDEX followups_label_idx ON public.followups USING btree (label, complaint_id);

CREATE INDEX followups_substantive_idx ON public.followups USING btree (complaint_id, at) WHERE (label = ANY (ARRAY['substantive'::public.followup_label, 'substantive_with_evidence'::public.followup_label]));

CREATE UNIQUE INDEX incidents_one_active_idx ON public.incidents USING btree (kind, subject) WHERE (state <> 'resolved'::text);

CREATE INDEX incidents_recent_idx ON public.incidents USING btree (resolved_at DESC) WHERE (state = 'resolved'::text);

CREATE INDEX jobs_claim_idx ON public.jobs USING btree (lane, run_after, id) WHERE (state = ANY (ARRAY['queued'::public.job_state, 'in_doubt'::public.job_state]));

CREATE INDEX jobs_complaint_idx ON public.jobs USING btree (complaint_id) WHERE (complaint_id IS NOT NULL);

CREATE INDEX jobs_dead_idx ON public.jobs USING btree (finished_at, id) WHERE (state = 'dead'::public.job_state);

CREATE UNIQUE INDEX jobs_dedup_key_idx ON public.jobs USING btree (dedup_key) WHERE (dedup_key IS NOT NULL);

CREATE INDEX jobs_lease_idx ON public.jobs USING btree (lease_until) WHERE ((state = 'running'::public.job_state) AND (lease_until IS NOT NULL));

CREATE INDEX lapor_events_tracking_idx ON public.lapor_events USING btree (tracking_id, at);

CREATE INDEX notifications_address_recent_idx ON public.notifications USING btree (address_hash, sent_at) WHERE (address_hash IS NOT NULL);

CREATE INDEX notifications_complaint_idx ON public.notifications USING btree (complaint_id, created_at);

CREATE INDEX notifications_pending_idx ON public.notifications USING btree (complaint_id, created_at) WHERE (state = 'queued'::public.notification_state);

CREATE INDEX notifications_retry_of_idx ON public.notifications USING btree (retry_of) WHERE (retry_of IS NOT NULL);

CREATE INDEX notifications_sent_at_idx ON public.notifications USING btree (sent_at) WHERE (sent_at IS NOT NULL);

CREATE INDEX raw_items_complaint_idx ON public.raw_items USING btree (complaint_id) WHERE (complaint_id IS NOT NULL);

CREATE INDEX raw_items_hash_idx ON public.raw_items USING btree (source, content_hash);

CREATE INDEX raw_items_quarantined_idx ON public.raw_items USING btree (id DESC) WHERE (state = 'quarantined'::public.raw_state);

CREATE INDEX raw_items_source_ingested_idx ON public.raw_items USING btree (source, ingested_at);

CREATE INDEX raw_items_state_idx ON public.raw_items USING btree (state, source) WHERE (state = 'quarantined'::public.raw_state);

CREATE INDEX reporter_replies_complaint_idx ON public.reporter_replies USING btree (complaint_id, created_at);

CREATE INDEX reporter_replies_held_idx ON public.reporter_replies USING btree (created_at) WHERE ((NOT verified) AND (reviewed_at IS NULL));

CREATE INDEX reporters_email_hash_idx ON public.reporters USING btree (email_hash);

CREATE INDEX reporters_nik_hash_idx ON public.reporters USING btree (nik_hash);

CREATE INDEX reporters_phone_hash_idx ON public.reporters USING btree (phone_hash);

CREATE INDEX route_corrections_complaint_idx ON public.route_corrections USING btree (complaint_id);

CREATE INDEX sla_clocks_breached_complaint_idx ON public.sla_clocks USING btree (complaint_id) WHERE (breached_at IS NOT NULL);

CREATE INDEX sla_clocks_breached_idx ON public.sla_clocks USING btree (breached_at) WHERE (breached_at IS NOT NULL);

CREATE INDEX sla_clocks_open_agency_idx ON public.sla_clocks USING btree (agency_id, due_at) WHERE ((met_at IS NULL) AND (breached_at IS NULL));

CREATE INDEX sla_clocks_open_idx ON public.sla_clocks USING btree (due_at) WHERE ((met_at IS NULL) AND (breached_at IS NULL));

CREATE TRIGGER complaints_counts AFTER INSERT OR DELETE OR UPDATE OF status, lapor_tracking_id, lapor_created_at, agency_id, channel, source, received_at, first_real_followup_at ON public.complaints FOR EACH ROW EXECUTE FUNCTION public.complaint_counts_trigger();

CREATE TRIGGER complaints_forms_write_back AFTER UPDATE OF lapor_tracking_id, status ON public.complaints FOR EACH ROW WHEN (((new.lapor_tracking_id IS DISTINCT FROM old.lapor_tracking_id) OR (new.status IS DISTINCT FROM old.status))) EXECUTE FUNCTION public.forms_enqueue_write_back();

CREATE TRIGGER followups_first_real AFTER INSERT OR UPDATE OF label ON public.followups FOR EACH ROW EXECUTE FUNCTION public.followups_first_real_trigger();

CREATE TRIGGER followups_forms_write_back AFTER INSERT ON public.followups FOR EACH ROW EXECUTE FUNCTION public.forms_enqueue_write_back();

ALTER TABLE ONLY public.complaint_attachments
    ADD CONSTRAINT complaint_attachments_complaint_id_fkey FOREIGN KEY (complaint_id) REFERENCES public.complaints(id) ON DELETE CASCADE;

ALTER TABLE ONLY public.complaint_attachments
    ADD CONSTRAINT complaint_attachments_sha256_fkey FOREIGN KEY (sha256) REFERENCES public.attachments(sha256);

ALTER TABLE ONLY public.complaints
    ADD CONSTRAINT complaints_cluster_fk FOREIGN KEY (cluster_id) REFERENCES public.complaint_clusters(id) ON DELETE SET NULL;

ALTER TABLE ONLY public.complaints
    ADD CONSTRAINT complaints_duplicate_of_fkey FOREIGN KEY (duplicate_of) REFERENCES public.complaints(id);

ALTER TABLE ONLY public.complaints
    ADD CONSTRAINT complaints_raw_item_id_fkey FOREIGN KEY (raw_item_id) REFERENCES public.raw_items(id);

ALTER TABLE ONLY public.complaints
    ADD CONSTRAINT complaints_reporter_id_fkey FOREIGN KEY (reporter_id) REFERENCES public.reporters(id);

ALTER TABLE ONLY public.dashboard_sessions
    ADD CONSTRAINT dashboard_sessions_token_id_fkey FOREIGN KEY (token_id) REFERENCES public.api_tokens(id) ON DELETE CASCADE;

ALTER TABLE ONLY public.followups
    ADD CONSTRAINT followups_complaint_id_fkey FOREIGN KEY (complaint_id) REFERENCES public.complaints(id) ON DELETE CASCADE;

ALTER TABLE ONLY public.form_writes
    ADD CONSTRAINT form_writes_complaint_id_fkey FOREIGN KEY (complaint_id) REFERENCES public.complaints(id) ON DELETE CASCADE;

ALTER TABLE ONLY public.jobs
    ADD CONSTRAINT jobs_complaint_id_fkey FOREIGN KEY (complaint_id) REFERENCES public.complaints(id) ON DELETE CASCADE;

ALTER TABLE ONLY public.lapor_events
    ADD CONSTRAINT lapor_events_complaint_id_fkey FOREIGN KEY (complaint_id) REFERENCES public.complaints(id);

ALTER TABLE ONLY public.notifications
    ADD CONSTRAINT notifications_complaint_id_fkey FOREIGN KEY (complaint_id) REFERENCES public.complaints(id) ON DELETE CASCADE;

ALTER TABLE ONLY public.notifications
    ADD CONSTRAINT notifications_retry_of_fkey FOREIGN KEY (retry_of) REFERENCES public.notifications(id) ON DELETE SET NULL;

ALTER TABLE ONLY public.reporter_replies
    ADD CONSTRAINT reporter_replies_complaint_id_fkey FOREIGN KEY (complaint_id) REFERENCES public.complaints(id) ON DELETE CASCADE;

ALTER TABLE ONLY public.reporter_replies
    ADD CONSTRAINT reporter_replies_raw_item_id_fkey FOREIGN KEY (raw_item_id) REFERENCES public.raw_items(id);

ALTER TABLE ONLY public.route_corrections
    ADD CONSTRAINT route_corrections_complaint_id_fkey FOREIGN KEY (complaint_id) REFERENCES public.complaints(id) ON DELETE CASCADE;

ALTER TABLE ONLY public.sla_clocks
    ADD CONSTRAINT sla_clocks_complaint_id_fkey FOREIGN KEY (complaint_id) REFERENCES public.complaints(id) ON DELETE CASCADE;
