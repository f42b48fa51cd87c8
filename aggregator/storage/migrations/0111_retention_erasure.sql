-- Retention and erasure (UU 27/2022, issue 13): when a raw original's bytes were purged,
-- and when a complaint's reporter data was erased on request (`satukanal forget`).
ALTER TABLE raw_items ADD COLUMN purged_at timestamptz;
ALTER TABLE complaints ADD COLUMN erased_at timestamptz;
-- The purge finds raw items of final complaints through their complaint.
CREATE INDEX raw_items_complaint_idx ON raw_items (complaint_id) WHERE complaint_id IS NOT NULL;
