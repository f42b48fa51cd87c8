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

-- name: find_complaint_for_followon
-- What the reply-or-new decision reads of a reporter's open complaint.
SELECT c.id, c.title, c.content, c.route_category, c.lapor_tracking_id,
       c.waiting_on_reporter, c.reporter_id, c.content_hash
FROM complaints c WHERE c.id = $1;

-- name: find_open_complaints_by_email_hashes
-- The newest open complaint per e-mail address inside the reply window: a mail from that
-- address outside any known thread is judged by its content (reply or new complaint).
SELECT DISTINCT ON (r.email_hash) r.email_hash, c.id, c.received_at
FROM complaints c JOIN reporters r ON r.id = c.reporter_id
WHERE r.email_hash = ANY($1::bytea[])
  AND c.received_at > now() - make_interval(days => $2)
  AND c.status NOT IN ('duplicate', 'history', 'dihapus', 'selesai', 'arsip', 'bukan_wewenang')
ORDER BY r.email_hash, c.received_at DESC;

-- name: find_open_complaints_for_phone_hashes
-- Up to three newest open complaints per phone: a message is judged against each.
SELECT phone_hash, id FROM (
    SELECT r.phone_hash, c.id,
           row_number() OVER (PARTITION BY r.phone_hash ORDER BY c.received_at DESC) AS n
    FROM complaints c JOIN reporters r ON r.id = c.reporter_id
    WHERE r.phone_hash = ANY($1::bytea[])
      AND c.received_at > now() - make_interval(days => $2)
      AND c.status NOT IN ('duplicate', 'history', 'dihapus', 'selesai', 'arsip',
                           'bukan_wewenang')
) t WHERE n <= 3 ORDER BY phone_hash, n;
