-- WhatsApp message ids kept as digests (issue 13, item 1).
--
-- A Cloud API wamid ("wamid.HBgNNjI4MTI…") is base64 of a small protobuf that starts with
-- the chat's phone number: stored as is, in raw_items.source_ref and notifications.external_id,
-- it kept every WhatsApp citizen's number in the clear. The connector now stores
-- 'wa:' || the first 40 hex digits of sha256(wamid) (connectors/whatsapp/cloud.py,
-- message_ref); the rows written before are rewritten the same way, so a message Meta
-- re-delivers after the upgrade is still recognised as one already stored.
UPDATE raw_items
SET source_ref = 'wa:'
    || left(encode(sha256(convert_to(split_part(substr(source_ref, 4), '#', 1), 'UTF8')), 'hex'), 40)
    -- an attachment quarantined apart keeps its "#attachment-N"
    || coalesce(substring(source_ref FROM '#.*$'), '')
WHERE source_ref LIKE 'wa:wamid.%';

UPDATE notifications
SET external_id = 'wa:' || left(encode(sha256(convert_to(external_id, 'UTF8')), 'hex'), 40)
WHERE external_id LIKE 'wamid.%';

-- The complaints' origin kept it too, as "wamid": now "message_ref", the same digest.
UPDATE complaints
SET origin = (origin - 'wamid') || jsonb_build_object(
    'message_ref', 'wa:' || left(encode(sha256(convert_to(origin ->> 'wamid', 'UTF8')), 'hex'), 40))
WHERE origin ? 'wamid' AND origin ->> 'wamid' IS NOT NULL;
