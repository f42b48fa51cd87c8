-- Routes, reply-or-new decisions, bursts, clusters and held junk (issue 14).

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

-- name: find_or_open_clusters
-- The cluster of each (category, place) of a batch: the one still gathering (last complaint
-- inside the window; the latest if several), else one opened with the id given. Run before
-- the batch's complaints are written, so each is written once, with its cluster.
WITH k AS (
    SELECT * FROM unnest($1::text[], $2::text[], $3::uuid[]) AS k(category, place, new_id)
), found AS (
    SELECT DISTINCT ON (k.category, k.place) cl.id, k.category, k.place
    FROM k JOIN complaint_clusters cl ON cl.category = k.category AND cl.place = k.place
    WHERE cl.last_at > now() - make_interval(secs => $4)
    ORDER BY k.category, k.place, cl.last_at DESC
), opened AS (
    INSERT INTO complaint_clusters (id, category, place)
    SELECT k.new_id, k.category, k.place FROM k
    WHERE NOT EXISTS (SELECT 1 FROM found f WHERE f.category = k.category AND f.place = k.place)
    RETURNING id, category, place
)
SELECT id, category, place FROM found
UNION ALL
SELECT id, category, place FROM opened;

-- name: count_clusters
UPDATE complaint_clusters AS cl
SET complaints = n.complaints, reporters = n.reporters, last_at = now()
FROM (SELECT cluster_id, count(*) AS complaints,
             count(DISTINCT coalesce(reporter_id, id)) AS reporters
      FROM complaints WHERE cluster_id = ANY($1::uuid[]) GROUP BY cluster_id) AS n
WHERE cl.id = n.cluster_id;

-- name: list_clusters
-- Problems reported by more than one reporter, newest first, for the dashboard and the API.
SELECT cl.id, cl.category, cl.place, cl.first_at, cl.last_at, cl.complaints, cl.reporters,
       (SELECT c.title FROM complaints c WHERE c.cluster_id = cl.id
        ORDER BY c.received_at LIMIT 1) AS first_title
FROM complaint_clusters cl
WHERE cl.reporters >= $1 AND cl.last_at > now() - make_interval(days => $2)
ORDER BY cl.last_at DESC
LIMIT $3;

-- name: cluster_members
SELECT c.id, c.title, c.channel, c.received_at, c.status::text AS status, c.lapor_tracking_id
FROM complaints c WHERE c.cluster_id = $1 ORDER BY c.received_at;

-- name: find_burst_target
-- A complaint still gathering its sender's burst: not pushed yet, its push job waiting, its
-- last part inside the quiet window.
SELECT c.id, c.content FROM complaints c
WHERE c.id = $1 AND c.lapor_tracking_id IS NULL AND c.status = 'received'
  AND coalesce((c.origin->>'burst_last_at')::timestamptz, c.received_at)
      > $2::timestamptz - make_interval(secs => $3)
  AND EXISTS (SELECT 1 FROM jobs j WHERE j.complaint_id = c.id AND j.kind = 'push'
              AND j.state = 'queued');

-- name: extend_burst
-- One more part of the burst: onto the complaint's text, and the push waits for quiet again.
WITH up AS (
    UPDATE complaints
    SET content = content || E'\n' || $2,
        origin = origin || jsonb_build_object('burst_last_at', $3::timestamptz,
                                              'burst_parts',
                                              coalesce((origin->>'burst_parts')::int, 1) + 1),
        updated_at = now()
    WHERE id = $1 RETURNING id
)
UPDATE jobs SET run_after = $3::timestamptz + make_interval(secs => $4)
WHERE complaint_id = (SELECT id FROM up) AND kind = 'push' AND state = 'queued';

-- name: movable_reply
-- A reporter's message an operator may move to a new complaint (not yet in LAPOR!): its text
-- and the channel's agency of its complaint, to route it before it is moved.
SELECT r.text, c.source_agency
FROM reporter_replies r JOIN complaints c ON c.id = r.complaint_id
WHERE r.id = $1 AND r.lapor_reply_id IS NULL;

-- name: reply_as_complaint
-- An operator moves a reporter's message from "reply" to "new complaint" (issue 14, item 4):
-- a complaint of the same reporter and channel, while the reply has not reached LAPOR!,
-- with the route the router gave its text ($3-$8; NULL: the channel's agency, no route).
WITH r AS (
    SELECT * FROM reporter_replies WHERE id = $1 AND lapor_reply_id IS NULL
), old AS (
    SELECT c.* FROM complaints c JOIN r ON c.id = r.complaint_id
), ins AS (
    INSERT INTO complaints (id, source, channel, reporter_id, title, content, agency_id,
                            source_agency, anonymous, confidential, submitted_at, origin,
                            route_category, route_agency, route_confidence, route_reasons,
                            needs_triage)
    SELECT $2, old.source, r.channel, old.reporter_id, left(r.text, 150), r.text,
           coalesce($3::text, old.source_agency), old.source_agency, old.anonymous,
           old.confidential, r.sent_at,
           jsonb_build_object('moved_from_reply', r.id::text, 'open_complaint', old.id::text),
           $4::text, $5::text, $6::real, coalesce($7::text[], '{}'), coalesce($8::bool, false)
    FROM r, old
    RETURNING id
), gone AS (
    DELETE FROM reporter_replies WHERE id = $1 AND EXISTS (SELECT 1 FROM ins) RETURNING id
), unjob AS (
    DELETE FROM jobs WHERE kind = 'reply_up' AND dedup_key = 'reply:' || $1::text
      AND state = 'queued' AND EXISTS (SELECT 1 FROM ins) RETURNING id
)
SELECT (SELECT id FROM ins) AS new_id, (SELECT complaint_id FROM r) AS old_id,
       (SELECT count(*) FROM gone) AS moved;

-- name: lock_push_jobs
-- The push jobs of a complaint an operator is about to turn into a reply, locked so the
-- pusher (which claims with SKIP LOCKED) cannot start one meanwhile.
SELECT state::text FROM jobs WHERE complaint_id = $1 AND kind = 'push' FOR UPDATE;

-- name: complaint_as_reply
-- An operator moves a message taken as a new complaint onto another open complaint of the
-- same reporter, as a reply (issue 14, item 4), while it has not reached LAPOR!. The
-- complaint stays, as a duplicate of the one it now answers (its timeline says why); its
-- queued push goes.
WITH c AS (
    SELECT * FROM complaints
    WHERE id = $1 AND lapor_tracking_id IS NULL AND reporter_id IS NOT NULL
      AND status NOT IN ('duplicate', 'history', 'dihapus')
    FOR UPDATE
), t AS (
    -- the same reporter: one reporters row per complaint, matched by phone or e-mail hash
    SELECT t.id FROM c
    JOIN reporters rc ON rc.id = c.reporter_id
    JOIN complaints t ON t.id = $2 AND t.id <> c.id
    JOIN reporters rt ON rt.id = t.reporter_id
    WHERE (rt.id = rc.id OR rt.phone_hash = rc.phone_hash OR rt.email_hash = rc.email_hash)
      AND t.status NOT IN ('duplicate', 'history', 'dihapus', 'selesai', 'arsip', 'bukan_wewenang')
), up AS (
    UPDATE complaints SET status = 'duplicate', status_at = now(), duplicate_of = t.id,
           origin = coalesce(origin, '{}'::jsonb) || jsonb_build_object('moved_to_reply', $3::uuid::text),
           updated_at = now()
    FROM t WHERE complaints.id = (SELECT id FROM c)
    RETURNING complaints.id
), ins AS (
    INSERT INTO reporter_replies (id, complaint_id, raw_item_id, channel, text, sent_at)
    SELECT $3::uuid, t.id,
           c.raw_item_id,
           c.channel, c.content, coalesce(c.submitted_at, c.received_at)
    FROM c, t WHERE EXISTS (SELECT 1 FROM up)
    RETURNING id, complaint_id
), unjob AS (
    DELETE FROM jobs WHERE complaint_id = $1 AND kind = 'push' AND state IN ('queued', 'dead')
      AND EXISTS (SELECT 1 FROM ins) RETURNING id
)
SELECT (SELECT id FROM ins) AS reply_id, (SELECT complaint_id FROM ins) AS target_id,
       (SELECT count(*) FROM unjob) AS unqueued;

-- name: reply_move_targets
-- The reporter's other open complaints a message taken as a complaint can be moved onto.
SELECT t.id, t.title, t.lapor_tracking_id, t.received_at
FROM complaints c
JOIN reporters rc ON rc.id = c.reporter_id
JOIN reporters rt ON rt.id = rc.id OR rt.phone_hash = rc.phone_hash OR rt.email_hash = rc.email_hash
JOIN complaints t ON t.reporter_id = rt.id AND t.id <> c.id
WHERE c.id = $1 AND c.lapor_tracking_id IS NULL
  AND c.status NOT IN ('duplicate', 'history', 'dihapus')
  AND t.status NOT IN ('duplicate', 'history', 'dihapus', 'selesai', 'arsip', 'bukan_wewenang')
ORDER BY t.received_at DESC
LIMIT 10;
