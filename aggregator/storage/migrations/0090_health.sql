-- Health from what actually happened, and incidents with a lifecycle.

-- One row per component: a source ('source:<name>'), the LAPOR! link ('lapor'), the
-- updates feed ('feed') or a sink ('sink:<name>'). Written where the outcome happens, so
-- every process (daemon replicas, the CLI, the dashboard) reads the same answer. A row with
-- no attempt yet means "unknown", never "ok".
CREATE TABLE component_health (
    component            text PRIMARY KEY,
    kind                 text NOT NULL CHECK (kind IN ('source', 'lapor', 'feed', 'sink')),
    name                 text NOT NULL,
    registered_at        timestamptz NOT NULL DEFAULT now(),
    last_attempt_at      timestamptz,
    last_success_at      timestamptz,
    last_failure_at      timestamptz,
    consecutive_failures integer NOT NULL DEFAULT 0,
    needs_human          boolean NOT NULL DEFAULT false,
    last_error           text,
    expected_interval_s  double precision,
    last_items           integer NOT NULL DEFAULT 0
);

-- An incident is one condition (kind + subject). It is 'pending' from the first evaluation
-- that sees the condition until it has held for the configured open delay, then 'open'
-- (admins are told once), and 'resolved' once the condition has been clear for the close
-- delay: the two delays damp flapping. At most one unresolved incident per condition.
CREATE TABLE incidents (
    id              bigserial PRIMARY KEY,
    kind            text NOT NULL,
    subject         text NOT NULL DEFAULT '',
    state           text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'open', 'resolved')),
    summary         text NOT NULL,
    detail          jsonb NOT NULL DEFAULT '{}',
    first_seen_at   timestamptz NOT NULL,
    last_seen_at    timestamptz NOT NULL,
    opened_at       timestamptz,
    clear_since     timestamptz,
    resolved_at     timestamptz,
    notified        jsonb NOT NULL DEFAULT '{}',
    notify_attempts integer NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX incidents_one_active_idx ON incidents (kind, subject)
    WHERE state <> 'resolved';
CREATE INDEX incidents_recent_idx ON incidents (resolved_at DESC) WHERE state = 'resolved';

-- "Usually brings N a day": counting a source's items over recent days.
CREATE INDEX raw_items_source_ingested_idx ON raw_items (source, ingested_at);

-- "Delivery failures rising": messages sent in the last hour, and how many failed.
CREATE INDEX notifications_sent_at_idx ON notifications (sent_at) WHERE sent_at IS NOT NULL;

-- "SLA breaches": clocks that breached within the recent window.
CREATE INDEX sla_clocks_breached_idx ON sla_clocks (breached_at) WHERE breached_at IS NOT NULL;
