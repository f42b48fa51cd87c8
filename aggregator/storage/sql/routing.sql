-- name: list_triage
-- Complaints the router was not sure of, newest first.
SELECT id, received_at, channel, source, title, content, route_category, route_agency,
       route_confidence, route_reasons, agency_id, lapor_tracking_id, status
FROM complaints
WHERE needs_triage
ORDER BY received_at DESC
LIMIT $1;

-- name: count_triage
SELECT count(*) FROM complaints WHERE needs_triage;

-- name: get_route_for_update
SELECT id, route_category, route_agency, agency_id, lapor_tracking_id
FROM complaints WHERE id = $1 FOR UPDATE;

-- name: set_route
-- An operator's route. The suggested agency changes only while the complaint has not been
-- pushed: after that LAPOR!'s disposition decides.
UPDATE complaints
SET route_category = $2, route_agency = $3, route_confidence = 1.0, needs_triage = false,
    route_reasons = ARRAY['operator: ' || $5],
    agency_id = CASE WHEN lapor_tracking_id IS NULL AND $4::text IS NOT NULL THEN $4
                     ELSE agency_id END,
    updated_at = now()
WHERE id = $1;

-- name: insert_route_correction
INSERT INTO route_corrections (complaint_id, category, agency, previous_category,
                               previous_agency, operator)
VALUES ($1, $2, $3, $4, $5, $6);

-- name: list_route_corrections
-- The newest correction per complaint, with the text the router read.
SELECT DISTINCT ON (r.complaint_id) r.complaint_id, r.category, r.agency, r.at,
       coalesce(c.title, '') || E'\n' || c.content AS text, c.channel
FROM route_corrections r JOIN complaints c ON c.id = r.complaint_id
ORDER BY r.complaint_id, r.at DESC, r.id DESC;
