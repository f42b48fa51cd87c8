-- Gammu SMSD tables on PostgreSQL: quoted CamelCase identifiers, "Processed" is boolean.
-- Only columns present in schema versions 13-17 are named here.

-- name: gammu_version
SELECT "Version" FROM gammu ORDER BY "Version" DESC LIMIT 1

-- name: gammu_fetch_new
SELECT "ID", "ReceivingDateTime", "Text", "SenderNumber", "Coding", "UDH", "SMSCNumber",
       "Class", "TextDecoded", "RecipientID"
FROM inbox WHERE "ID" > $1 AND NOT "Processed" ORDER BY "ID" LIMIT $2

-- name: gammu_fetch_unacked
SELECT "ID", "ReceivingDateTime", "Text", "SenderNumber", "Coding", "UDH", "SMSCNumber",
       "Class", "TextDecoded", "RecipientID"
FROM inbox WHERE "ID" > $1 AND "ID" <= $2 AND NOT "Processed" ORDER BY "ID" LIMIT $3

-- name: gammu_fetch_ids
SELECT "ID", "ReceivingDateTime", "Text", "SenderNumber", "Coding", "UDH", "SMSCNumber",
       "Class", "TextDecoded", "RecipientID"
FROM inbox WHERE "ID" = ANY($1::int[]) ORDER BY "ID"

-- name: gammu_mark_processed
UPDATE inbox SET "Processed" = true WHERE "ID" = ANY($1::int[]) AND NOT "Processed"

-- name: gammu_find_sent
SELECT "ID", "SequencePosition", "Status", "SendingDateTime", "DeliveryDateTime"
FROM sentitems WHERE "CreatorID" = $1 ORDER BY "ID", "SequencePosition"

-- name: gammu_find_outbox
SELECT "ID", "SendingDateTime" FROM outbox WHERE "CreatorID" = $1 ORDER BY "ID"

-- name: gammu_insert_outbox
INSERT INTO outbox ("DestinationNumber", "TextDecoded", "Coding", "UDH", "MultiPart",
                    "CreatorID", "SenderID", "DeliveryReport", "Class")
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, -1) RETURNING "ID"

-- name: gammu_insert_outbox_part
INSERT INTO outbox_multipart ("ID", "SequencePosition", "TextDecoded", "Coding", "UDH", "Class")
VALUES ($1, $2, $3, $4, $5, -1)
