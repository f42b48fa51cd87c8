-- One LAPOR! rate limit for every replica (issue 18, item 2).
--
-- A row per LAPOR! client holds the bucket's "theoretical arrival time" (GCRA): each
-- process reserves its next request slots with one atomic UPDATE of it, so the rate holds
-- however many processes push. UNLOGGED: the row is worth a few seconds of schedule, not a
-- WAL write per reservation; after a crash of PostgreSQL it starts empty and is recreated
-- (at worst one burst early).
CREATE UNLOGGED TABLE rate_buckets (
    bucket text PRIMARY KEY,
    tat timestamptz NOT NULL
);
