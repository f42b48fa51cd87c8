-- The agency scorecard counts what LAPOR! decided, not our routing guess.

-- name: report_dispositions
-- Every LAPOR! disposition (with its agency) of the complaints the SLA report covers, in
-- order: the agency a complaint counts for, since when, and how often it was moved.
SELECT c.id AS complaint_id, e.at, e.body -> 'agency' ->> 'id' AS agency_id,
       e.body -> 'agency' ->> 'name' AS agency_name
FROM complaints c JOIN lapor_events e ON e.tracking_id = c.lapor_tracking_id
WHERE c.received_at >= $1 AND c.received_at < $2
  AND c.status NOT IN ('duplicate', 'history')
  AND (e.type = 'disposed' OR (e.type = 'status_changed' AND e.body ->> 'status' = 'terdisposisi'))
  AND e.body -> 'agency' ->> 'id' IS NOT NULL
ORDER BY c.id, e.at, e.event_id;

-- name: report_substantive_times
-- When each covered complaint got a substantive follow-up, so an agency's time runs from
-- its own (last) disposition to the first substantive answer after it.
SELECT f.complaint_id, f.at
FROM followups f JOIN complaints c ON c.id = f.complaint_id
WHERE c.received_at >= $1 AND c.received_at < $2
  AND c.status NOT IN ('duplicate', 'history')
  AND f.label IN ('substantive', 'substantive_with_evidence')
ORDER BY f.complaint_id, f.at;

-- name: report_response_times
-- Every agency response of the covered complaints with its label, in order: an agency is
-- answered (and boilerplate-only) by the responses since its own (last) disposition, not
-- by those of an agency LAPOR! moved the complaint away from.
SELECT f.complaint_id, f.at, f.label::text AS label
FROM followups f JOIN complaints c ON c.id = f.complaint_id
WHERE c.received_at >= $1 AND c.received_at < $2
  AND c.status NOT IN ('duplicate', 'history')
  AND f.kind = 'response'
ORDER BY f.complaint_id, f.at;
