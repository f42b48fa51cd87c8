-- satukanal initial schema. Every timestamp is timestamptz (UTC in the database).

CREATE TYPE complaint_status AS ENUM (
    'received', 'manual_pending', 'rejected_by_lapor', 'duplicate', 'history',
    'belum_terverifikasi', 'terverifikasi', 'terdisposisi', 'diproses', 'ditindaklanjuti',
    'selesai', 'tertunda', 'arsip', 'bukan_wewenang', 'dihapus'
);
CREATE TYPE job_state AS ENUM ('queued', 'running', 'in_doubt', 'done', 'dead');
CREATE TYPE raw_state AS ENUM ('accepted', 'quarantined', 'duplicate', 'reply', 'ignored');
CREATE TYPE followup_label AS ENUM (
    'acknowledgement', 'forwarded', 'info_request', 'substantive', 'substantive_with_evidence'
);
CREATE TYPE notification_state AS ENUM ('queued', 'sent', 'delivered', 'failed', 'skipped');
CREATE TYPE token_role AS ENUM ('admin', 'operator', 'auditor', 'agency');

-- Per configured source: where it is, and how it is doing.
CREATE TABLE source_state (
    source          text PRIMARY KEY,
    kind            text NOT NULL,
    cursor          jsonb,
    last_poll_at    timestamptz,
    last_success_at timestamptz,
    last_error_at   timestamptz,
    last_error      text,
    degraded        boolean NOT NULL DEFAULT false,
    last_batch_size integer NOT NULL DEFAULT 0,
    items_total     bigint NOT NULL DEFAULT 0,
    lease_owner     text,
    lease_until     timestamptz
);

-- Everything pulled, with its original bytes. Nothing pulled is ever lost.
CREATE TABLE raw_items (
    id           bigserial PRIMARY KEY,
    source       text NOT NULL,
    source_ref   text NOT NULL,
    received_at  timestamptz,
    ingested_at  timestamptz NOT NULL DEFAULT now(),
    content_type text NOT NULL DEFAULT 'application/octet-stream',
    payload      bytea NOT NULL,
    meta         jsonb NOT NULL DEFAULT '{}',
    state        raw_state NOT NULL,
    reason       text,
    complaint_id uuid,
    content_hash bytea,
    UNIQUE (source, source_ref)
);
CREATE INDEX raw_items_state_idx ON raw_items (state, source) WHERE state = 'quarantined';
CREATE INDEX raw_items_hash_idx ON raw_items (source, content_hash);

-- Reporter identity, encrypted at rest; keyed hashes for matching.
CREATE TABLE reporters (
    id           uuid PRIMARY KEY,
    key_id       text NOT NULL,
    name_enc     bytea,
    email_enc    bytea,
    phone_enc    bytea,
    nik_enc      bytea,
    email_hash   bytea,
    phone_hash   bytea,
    nik_hash     bytea,
    nik_valid    boolean,
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX reporters_phone_hash_idx ON reporters (phone_hash);
CREATE INDEX reporters_email_hash_idx ON reporters (email_hash);
CREATE INDEX reporters_nik_hash_idx ON reporters (nik_hash);

CREATE TABLE complaints (
    id                  uuid PRIMARY KEY,
    source              text NOT NULL,
    channel             text NOT NULL,
    raw_item_id         bigint REFERENCES raw_items (id),
    reporter_id         uuid REFERENCES reporters (id),
    title               text,
    content             text NOT NULL,
    classification      text NOT NULL DEFAULT 'pengaduan',
    category_id         text,
    agency_id           text,          -- suggested/assigned OPD (LAPOR! agency id or local code)
    agency_name         text,
    source_agency       text,          -- OPD that owns the source channel
    anonymous           boolean NOT NULL DEFAULT false,
    confidential        boolean NOT NULL DEFAULT false,
    location            jsonb,
    occurred_on         date,
    submitted_at        timestamptz,
    received_at         timestamptz NOT NULL DEFAULT now(),
    status              complaint_status NOT NULL DEFAULT 'received',
    status_at           timestamptz NOT NULL DEFAULT now(),  -- upstream time of the status
    lapor_tracking_id   text UNIQUE,
    lapor_created_at    timestamptz,
    lapor_errors        jsonb,
    duplicate_of        uuid REFERENCES complaints (id),
    cluster_id          uuid,
    content_hash        bytea,         -- normalised text, for duplicate detection
    thread_keys         text[] NOT NULL DEFAULT '{}',
    origin              jsonb NOT NULL DEFAULT '{}',
    flags               text[] NOT NULL DEFAULT '{}',
    legacy_status       text,
    closed_without_real_followup boolean NOT NULL DEFAULT false,
    waiting_on_reporter boolean NOT NULL DEFAULT false,
    solved_asked_at     timestamptz,
    resolved_by_reporter boolean,
    reopen_count        integer NOT NULL DEFAULT 0,
    updated_at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX complaints_status_idx ON complaints (status, received_at DESC);
CREATE INDEX complaints_agency_idx ON complaints (agency_id, received_at DESC);
CREATE INDEX complaints_source_idx ON complaints (source, received_at DESC);
CREATE INDEX complaints_received_idx ON complaints (received_at DESC);
CREATE INDEX complaints_thread_keys_idx ON complaints USING gin (thread_keys);
CREATE INDEX complaints_reporter_idx ON complaints (reporter_id);
CREATE INDEX complaints_content_hash_idx ON complaints (content_hash);

CREATE TABLE attachments (
    sha256        bytea PRIMARY KEY,
    content_type  text NOT NULL,
    size          integer NOT NULL,
    data          bytea NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE complaint_attachments (
    complaint_id  uuid NOT NULL REFERENCES complaints (id) ON DELETE CASCADE,
    sha256        bytea NOT NULL REFERENCES attachments (sha256),
    filename      text NOT NULL,
    note          text,
    lapor_attachment_id text,
    PRIMARY KEY (complaint_id, sha256)
);

-- The outbox. Claimed with FOR UPDATE SKIP LOCKED under a lease.
CREATE TABLE jobs (
    id            bigserial PRIMARY KEY,
    kind          text NOT NULL,
    complaint_id  uuid REFERENCES complaints (id) ON DELETE CASCADE,
    payload       jsonb NOT NULL DEFAULT '{}',
    dedup_key     text UNIQUE,
    state         job_state NOT NULL DEFAULT 'queued',
    attempts      integer NOT NULL DEFAULT 0,
    max_attempts  integer,
    run_after     timestamptz NOT NULL DEFAULT now(),
    lease_owner   text,
    lease_until   timestamptz,
    last_error    text,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    finished_at   timestamptz
);
CREATE INDEX jobs_claim_idx ON jobs (run_after, id) WHERE state IN ('queued', 'in_doubt');
CREATE INDEX jobs_lease_idx ON jobs (lease_until) WHERE state = 'running';
CREATE INDEX jobs_state_kind_idx ON jobs (state, kind);
CREATE INDEX jobs_complaint_idx ON jobs (complaint_id);

-- LAPOR! inbound feed, applied once.
CREATE TABLE lapor_events (
    event_id      text PRIMARY KEY,
    tracking_id   text NOT NULL,
    type          text NOT NULL,
    at            timestamptz NOT NULL,
    body          jsonb NOT NULL,
    complaint_id  uuid REFERENCES complaints (id),
    received_at   timestamptz NOT NULL DEFAULT now(),
    applied       boolean NOT NULL DEFAULT false,
    note          text
);
CREATE INDEX lapor_events_tracking_idx ON lapor_events (tracking_id, at);

CREATE TABLE lapor_state (
    name          text PRIMARY KEY,   -- 'feed'
    cursor        text,
    updated_at    timestamptz NOT NULL DEFAULT now()
);

-- Agency responses (tindak lanjut) with their quality label.
CREATE TABLE followups (
    id            bigserial PRIMARY KEY,
    complaint_id  uuid NOT NULL REFERENCES complaints (id) ON DELETE CASCADE,
    event_id      text UNIQUE,
    at            timestamptz NOT NULL,
    agency_id     text,
    agency_name   text,
    author        text,
    text          text NOT NULL,
    attachments   jsonb NOT NULL DEFAULT '[]',
    label         followup_label NOT NULL,
    reasons       jsonb NOT NULL DEFAULT '[]',
    kind          text NOT NULL DEFAULT 'response'  -- response | info_request
);
CREATE INDEX followups_complaint_idx ON followups (complaint_id, at);

-- Reporter replies going up to LAPOR!.
CREATE TABLE reporter_replies (
    id            uuid PRIMARY KEY,
    complaint_id  uuid NOT NULL REFERENCES complaints (id) ON DELETE CASCADE,
    raw_item_id   bigint REFERENCES raw_items (id),
    channel       text NOT NULL,
    text          text NOT NULL,
    sent_at       timestamptz,
    resolved      boolean,
    lapor_reply_id text,
    created_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE notifications (
    id            uuid PRIMARY KEY,
    complaint_id  uuid REFERENCES complaints (id) ON DELETE CASCADE,
    kind          text NOT NULL,
    channel       text NOT NULL,
    source        text NOT NULL,
    dedup_key     text UNIQUE,
    subject       text,
    body          text,
    state         notification_state NOT NULL DEFAULT 'queued',
    external_id   text,
    detail        text,
    created_at    timestamptz NOT NULL DEFAULT now(),
    sent_at       timestamptz,
    delivered_at  timestamptz
);
CREATE INDEX notifications_complaint_idx ON notifications (complaint_id, created_at);

CREATE TABLE sla_clocks (
    complaint_id  uuid NOT NULL REFERENCES complaints (id) ON DELETE CASCADE,
    clock         text NOT NULL,
    started_at    timestamptz NOT NULL,
    due_at        timestamptz NOT NULL,
    paused_at     timestamptz,
    paused_total  interval NOT NULL DEFAULT '0',
    met_at        timestamptz,
    breached_at   timestamptz,
    agency_id     text,
    PRIMARY KEY (complaint_id, clock)
);
CREATE INDEX sla_clocks_open_idx ON sla_clocks (due_at) WHERE met_at IS NULL AND breached_at IS NULL;

-- Append-only timeline of every complaint across channels and LAPOR!.
CREATE TABLE events (
    id            bigserial PRIMARY KEY,
    complaint_id  uuid,
    kind          text NOT NULL,
    at            timestamptz NOT NULL DEFAULT now(),
    actor         text NOT NULL DEFAULT 'system',
    data          jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX events_complaint_idx ON events (complaint_id, id);
CREATE INDEX events_kind_idx ON events (kind, at);

CREATE TABLE api_tokens (
    id            uuid PRIMARY KEY,
    name          text NOT NULL,
    token_hash    bytea NOT NULL UNIQUE,
    role          token_role NOT NULL,
    agency        text,
    created_at    timestamptz NOT NULL DEFAULT now(),
    revoked_at    timestamptz,
    last_used_at  timestamptz
);

-- Backfill progress, so an interrupted import resumes where it stopped.
CREATE TABLE backfill_runs (
    source        text PRIMARY KEY,
    cursor        jsonb,
    started_at    timestamptz NOT NULL DEFAULT now(),
    finished_at   timestamptz,
    counts        jsonb NOT NULL DEFAULT '{}'
);
