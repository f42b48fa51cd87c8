-- Lanes: live work is never queued behind bulk work (issue 18, item 4).
--
-- A backfill queues a push job for every archived complaint still open upstream: tens of
-- thousands of jobs with run_after = now(), all due before the next citizen's SMS, which
-- would then wait behind them in run_after order for as long as the rate limit takes to
-- push them (hours at 20 requests/s). Each job now belongs to a lane: 0 is live (intake,
-- acknowledgements, feed updates, operators), 1 is bulk (a backfill's pushes and the
-- notifications they lead to). A worker claims every due live job before any bulk one.
--
-- The claim index leads with the lane, so each lane is one range scan in run_after order
-- (claim_jobs reads them one after the other, lazily). Adding a column with a constant
-- default rewrites nothing.
ALTER TABLE jobs ADD COLUMN lane smallint NOT NULL DEFAULT 0;

DROP INDEX jobs_claim_idx;
CREATE INDEX jobs_claim_idx ON jobs (lane, run_after, id)
    WHERE state IN ('queued', 'in_doubt');
