-- Follow-up and notifications: a notification waits as 'queued' with the event items it
-- carries until the burst it belongs to is sent as one message (merged_into = that message).
ALTER TABLE notifications
    ADD COLUMN items jsonb NOT NULL DEFAULT '[]',
    ADD COLUMN merged_into uuid;
CREATE INDEX notifications_pending_idx ON notifications (complaint_id, created_at)
    WHERE state = 'queued';
CREATE INDEX followups_substantive_idx ON followups (complaint_id, at)
    WHERE label IN ('substantive', 'substantive_with_evidence');
