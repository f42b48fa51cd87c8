-- The dashboard's read models. Counts come from complaint_counts / complaint_hourly (kept by
-- triggers, migration 0140) and agency_monthly (kept by the statistics loop); lists page by
-- keyset over an index. $agencies is a text[] of the ids an agency user may see, NULL for all.

-- name: dashboard_custom_plans
-- Lists with optional filters are planned for the values given, not generically: a generic
-- plan of "($1 IS NULL OR …)" cannot pick the index the given filter needs.
SET LOCAL plan_cache_mode = force_custom_plan;

-- name: dashboard_counts
SELECT channel, status::text AS status, stage, sum(n)::bigint AS n
FROM complaint_counts
WHERE ($1::text[] IS NULL OR agency_id = ANY($1))
GROUP BY channel, status, stage
HAVING sum(n) <> 0;

-- name: dashboard_daily
-- Complaints received and pushed per local day ($2: the municipality's zone) since $1.
SELECT (hour AT TIME ZONE $2)::date AS day, source, channel,
       sum(received)::bigint AS received, sum(pushed)::bigint AS pushed
FROM complaint_hourly_total
WHERE hour >= $1
GROUP BY 1, 2, 3
ORDER BY 1, 2, 3;

-- name: dashboard_daily_scoped
-- The same for some agencies ($1).
SELECT (hour AT TIME ZONE $3)::date AS day, source, channel,
       sum(received)::bigint AS received, sum(pushed)::bigint AS pushed
FROM complaint_hourly
WHERE agency_id = ANY($1) AND hour >= $2
GROUP BY 1, 2, 3
ORDER BY 1, 2, 3;

-- name: dashboard_quarantined_count
SELECT count(*) FROM raw_items WHERE state = 'quarantined';

-- name: upsert_lapor_agency
INSERT INTO lapor_agencies (id, name, parent_id, fetched_at) VALUES ($1, $2, $3, now())
ON CONFLICT (id) DO UPDATE
SET name = EXCLUDED.name, parent_id = EXCLUDED.parent_id, fetched_at = EXCLUDED.fetched_at;

-- name: list_lapor_agencies
SELECT id, name, parent_id, fetched_at FROM lapor_agencies ORDER BY id;

-- name: lapor_agencies_fetched_at
SELECT max(fetched_at) FROM lapor_agencies;

-- name: agency_monthly_source
-- One row per complaint received in [$1, $2): what the agency statistics are made of.
-- ``agency_id`` is the complaint's row (our routing guess until LAPOR! disposes it): the
-- statistics attribute by LAPOR!'s dispositions (report_dispositions) and use it only as
-- the suggestion of a complaint LAPOR! never disposed.
SELECT c.id, coalesce(c.agency_id, '') AS agency_id, c.agency_name, c.received_at,
       c.status::text AS status, c.closed_without_real_followup, c.reopen_count,
       (SELECT count(*) FROM sla_clocks s WHERE s.complaint_id = c.id
          AND s.breached_at IS NOT NULL) AS breaches,
       c.status = 'selesai' OR c.reopen_count > 0
         OR EXISTS (SELECT 1 FROM lapor_events e WHERE e.tracking_id = c.lapor_tracking_id
                    AND e.type = 'status_changed' AND e.body ->> 'status' = 'selesai')
         AS ever_closed
FROM complaints c
WHERE c.received_at >= $1 AND c.received_at < $2
  AND c.status NOT IN ('duplicate', 'history');

-- name: delete_agency_months
DELETE FROM agency_monthly WHERE month >= $1 AND month < $2;

-- name: insert_agency_month
INSERT INTO agency_monthly (month, agency_id, agency_name, received, followed_up, real_followup,
                            done, answered, ack_only, closed_ever, reopened,
                            closed_without_real_followup, breaches, days_hist, computed_at,
                            reassignments, suggested)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17);

-- name: complaint_months
-- The first day (UTC) of the oldest complaint's month, to recompute every month.
SELECT min(received_at) FROM complaints;

-- name: list_agency_monthly
SELECT m.month, m.agency_id, coalesce(a.name, m.agency_name) AS agency_name, m.received,
       m.followed_up, m.real_followup, m.done, m.answered, m.ack_only, m.closed_ever,
       m.reopened, m.closed_without_real_followup, m.breaches, m.days_hist, m.computed_at,
       m.reassignments, m.suggested
FROM agency_monthly m LEFT JOIN lapor_agencies a ON a.id = m.agency_id
WHERE m.month >= $1 AND m.month < $2 AND ($3::text[] IS NULL OR m.agency_id = ANY($3))
ORDER BY m.month, m.agency_id;

-- name: worklist_complaints
-- The complaints list with every filter; each filter is NULL when not asked for. Planned
-- per call (dashboard_custom_plans), so a NULL filter disappears from the plan.
SELECT c.id, c.source, c.channel, c.title, c.status::text AS status, c.lapor_tracking_id,
       c.agency_id, coalesce(a.name, c.agency_name) AS agency_name, c.source_agency,
       c.received_at, c.status_at, c.anonymous, c.confidential,
       c.closed_without_real_followup, c.first_real_followup_at, c.cluster_id, c.flags
FROM complaints c LEFT JOIN lapor_agencies a ON a.id = c.agency_id
WHERE ($1::text[] IS NULL OR c.agency_id = ANY($1) OR c.source_agency = ANY($1))
  AND ($2::complaint_status IS NULL OR c.status = $2)
  AND ($3::text IS NULL OR c.channel = $3)
  AND ($4::text IS NULL OR c.agency_id = $4 OR c.source_agency = $4)
  AND ($5::text IS NULL OR c.search @@ plainto_tsquery('simple', $5))
  AND ($6::text IS NULL OR c.lapor_tracking_id = $6)
  AND ($7::text IS NULL OR (c.origin ? 'receipt_code'
                            AND upper(c.origin ->> 'receipt_code') = upper($7)))
  AND ($8::uuid[] IS NULL OR c.reporter_id = ANY($8))
  AND ($9::uuid IS NULL OR c.cluster_id = $9)
  -- Probes per complaint (scalar subqueries with LIMIT), never a hash of every complaint
  -- with that label or clock: the list walks the newest complaints and stops at $14.
  AND ($10::followup_label IS NULL OR (
        SELECT true FROM followups f WHERE f.complaint_id = c.id AND f.label = $10 LIMIT 1))
  AND ($11::text IS NULL
       OR ($11 = 'open' AND (SELECT true FROM sla_clocks s WHERE s.complaint_id = c.id
                             AND s.met_at IS NULL AND s.breached_at IS NULL LIMIT 1))
       OR ($11 = 'breached' AND (SELECT true FROM sla_clocks s WHERE s.complaint_id = c.id
                                 AND s.breached_at IS NOT NULL LIMIT 1))
       OR ($11 = 'none' AND (SELECT true FROM sla_clocks s WHERE s.complaint_id = c.id
                             LIMIT 1) IS NULL))
  AND ($12::timestamptz IS NULL OR (c.received_at, c.id) < ($12, $13::uuid))
  AND ($15::uuid[] IS NULL OR c.id = ANY($15))
ORDER BY c.received_at DESC, c.id DESC
LIMIT $14;

-- name: text_hits
-- Up to $2 complaints with these words, asked of the text index alone (no order, so the
-- planner cannot choose to walk every complaint looking for a word nobody wrote).
SELECT id FROM complaints WHERE search @@ plainto_tsquery('simple', $1) LIMIT $2;

-- name: receipt_hits
SELECT id FROM complaints
WHERE origin ? 'receipt_code' AND upper(origin ->> 'receipt_code') = upper($1)
LIMIT 20;

-- name: reporters_by_hash
SELECT id FROM reporters WHERE email_hash = $1 OR phone_hash = $2 LIMIT 1000;

-- name: worklist_sla
-- Open clocks by due date (the most urgent first), keyset on (due_at, complaint_id, clock).
SELECT s.complaint_id, s.clock, s.started_at, s.due_at, s.paused_at, s.agency_id,
       c.lapor_tracking_id, c.title, c.channel, c.status::text AS status,
       coalesce(a.name, c.agency_name) AS agency_name
FROM sla_clocks s
JOIN complaints c ON c.id = s.complaint_id
LEFT JOIN lapor_agencies a ON a.id = coalesce(s.agency_id, c.agency_id)
WHERE s.met_at IS NULL AND s.breached_at IS NULL
  AND ($1::text[] IS NULL OR s.agency_id = ANY($1))
  AND ($2::timestamptz IS NULL OR (s.due_at, s.complaint_id, s.clock) > ($2, $3::uuid, $4::text))
ORDER BY s.due_at, s.complaint_id, s.clock
LIMIT $5;

-- name: worklist_quarantine
SELECT id, source, source_ref, reason, received_at, ingested_at, content_type,
       length(payload) AS size
FROM raw_items
WHERE state = 'quarantined' AND ($1::text IS NULL OR source = $1)
  AND ($2::bigint IS NULL OR id < $2)
ORDER BY id DESC LIMIT $3;
