-- One person, one conversation: the reporter identities (keyed hashes) behind a complaint
-- and the duplicates linked to it, so each person hears each event once.

-- name: complaint_reporter_hashes
SELECT r.phone_hash, r.email_hash, r.nik_hash
FROM complaints c LEFT JOIN reporters r ON r.id = c.reporter_id
WHERE c.id = $1;

-- name: linked_duplicates_with_hashes
SELECT c.id, c.source, c.channel, r.phone_hash, r.email_hash, r.nik_hash
FROM complaints c LEFT JOIN reporters r ON r.id = c.reporter_id
WHERE c.duplicate_of = $1
ORDER BY c.received_at, c.id;
