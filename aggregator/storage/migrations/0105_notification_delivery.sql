-- Delivery followed to the end (issue 12 item 5).
--
-- sending_at: set and committed just before a message is handed to its channel. A notifier
--   killed between the hand-over and the record finds it set on the retry: a channel that
--   cannot recognise a resend (SMTP relay, Kannel) is then not asked again, so the citizen
--   never receives the same message twice.
-- attempts: hand-overs of this row to a channel.
-- address_hash: keyed hash of the address written to (crypto.match_hash), for the auto-reply
--   guards (messages per address per hour, identical-message loops) without decrypting.
-- body_hash: keyed hash of the text handed over, for the identical-message guard (the text
--   itself is kept only encrypted, in body_enc).
-- retry_of: a redelivery (same channel after backoff, or the reporter's other channel)
--   points at the notification that failed; redelivery_no counts along the chain.
ALTER TABLE notifications
    ADD COLUMN sending_at timestamptz,
    ADD COLUMN attempts integer NOT NULL DEFAULT 0,
    ADD COLUMN address_hash bytea,
    ADD COLUMN body_hash bytea,
    ADD COLUMN retry_of uuid REFERENCES notifications (id) ON DELETE SET NULL,
    ADD COLUMN redelivery_no integer NOT NULL DEFAULT 0;

CREATE INDEX notifications_address_recent_idx ON notifications (address_hash, sent_at)
    WHERE address_hash IS NOT NULL;
CREATE INDEX notifications_retry_of_idx ON notifications (retry_of) WHERE retry_of IS NOT NULL;
