-- Gammu SMSD tables on MySQL/MariaDB: "Processed" and "MultiPart" are the strings
-- 'false'/'true'. Tables are usually MyISAM (no transactions): a multipart outbox message
-- is inserted parked in the far future and released once all its parts are in.
-- %s parameters (asyncmy); /*ids*/ is expanded to one %s per id.

-- name: gammu_version
SELECT Version FROM gammu ORDER BY Version DESC LIMIT 1

-- name: gammu_fetch_new
SELECT ID, ReceivingDateTime, Text, SenderNumber, Coding, UDH, SMSCNumber, Class,
       TextDecoded, RecipientID
FROM inbox WHERE ID > %s AND Processed = 'false' ORDER BY ID LIMIT %s

-- name: gammu_fetch_unacked
SELECT ID, ReceivingDateTime, Text, SenderNumber, Coding, UDH, SMSCNumber, Class,
       TextDecoded, RecipientID
FROM inbox WHERE ID > %s AND ID <= %s AND Processed = 'false' ORDER BY ID LIMIT %s

-- name: gammu_fetch_ids
SELECT ID, ReceivingDateTime, Text, SenderNumber, Coding, UDH, SMSCNumber, Class,
       TextDecoded, RecipientID
FROM inbox WHERE ID IN (/*ids*/) ORDER BY ID

-- name: gammu_mark_processed
UPDATE inbox SET Processed = 'true' WHERE ID IN (/*ids*/) AND Processed = 'false'

-- name: gammu_find_sent
SELECT ID, SequencePosition, Status, SendingDateTime, DeliveryDateTime
FROM sentitems WHERE CreatorID = %s ORDER BY ID, SequencePosition

-- name: gammu_find_outbox
SELECT ID, SendingDateTime FROM outbox WHERE CreatorID = %s ORDER BY ID

-- name: gammu_insert_outbox
INSERT INTO outbox (DestinationNumber, TextDecoded, Coding, UDH, MultiPart, CreatorID,
                    SenderID, DeliveryReport, Class, SendingDateTime)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, -1, %s)

-- name: gammu_insert_outbox_part
INSERT INTO outbox_multipart (ID, SequencePosition, TextDecoded, Coding, UDH, Class)
VALUES (%s, %s, %s, %s, %s, -1)

-- name: gammu_release_outbox
UPDATE outbox SET SendingDateTime = NOW() WHERE ID = %s

-- name: gammu_delete_outbox
DELETE FROM outbox WHERE ID = %s

-- name: gammu_delete_outbox_parts
DELETE FROM outbox_multipart WHERE ID = %s
