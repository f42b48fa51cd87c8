-- What write-back has written into an old form database, one row per write, keyed in *our*
-- database: the Tracking ID ('tracking'), each agency response ('followup:<followups.id>').
-- The wording is fixed here before the old table is touched, so a job retried after a crash
-- (or a response whose agency name changed meanwhile) writes the same text again, which the
-- old table's NOT EXISTS check then finds: one row per write, in one wording.
-- confirmed_at: the old table has the row (written by this or an earlier attempt).
CREATE TABLE form_writes (
    complaint_id  uuid NOT NULL REFERENCES complaints (id) ON DELETE CASCADE,
    write_key     text NOT NULL,
    wording       text NOT NULL,
    planned_at    timestamptz NOT NULL DEFAULT now(),
    confirmed_at  timestamptz,
    PRIMARY KEY (complaint_id, write_key)
);
