-- Routes, reply-or-new decisions, bursts, clusters and held junk (issue 14).

-- name: set_complaint_routes
-- The routes of complaints written before their batch's routing was back (intake writes the
-- rows while the model runs, then sets what it decided in one statement).
UPDATE complaints AS c
SET agency_id = r.agency_id,
    route_category = r.route_category,
    route_agency = r.route_agency,
    route_confidence = r.route_confidence,
    route_reasons = ARRAY(SELECT jsonb_array_elements_text(r.route_reasons::jsonb)),
    needs_triage = r.needs_triage
FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::real[], $6::text[],
            $7::boolean[])
     AS r(id, agency_id, route_category, route_agency, route_confidence, route_reasons,
          needs_triage)
WHERE c.id = r.id;
