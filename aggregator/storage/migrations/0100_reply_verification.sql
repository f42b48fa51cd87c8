-- Only the reporter speaks for a report (issue 12.3). A reply whose sender could not be
-- matched to the report's reporter (phone/e-mail keyed hash, receipt code) is kept but held
-- for an operator: never sent to LAPOR!, never marks the complaint resolved on its own.
-- Rows written before this check were accepted as the reporter's: they stay verified.
ALTER TABLE reporter_replies
    ADD COLUMN verified boolean NOT NULL DEFAULT true,
    ADD COLUMN verified_by text,
    ADD COLUMN unverified_reason text,
    ADD COLUMN reviewed_at timestamptz,
    ADD COLUMN reviewed_by text,
    ADD COLUMN review text CHECK (review IN ('accepted', 'rejected'));

CREATE INDEX reporter_replies_held_idx ON reporter_replies (created_at)
    WHERE NOT verified AND reviewed_at IS NULL;
CREATE INDEX reporter_replies_complaint_idx ON reporter_replies (complaint_id, created_at);
