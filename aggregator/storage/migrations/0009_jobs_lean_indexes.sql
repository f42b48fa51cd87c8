-- Leaner job indexes. Every job is written three times (enqueue, claim, completion) and none
-- of those updates can be HOT, so each index costs a write every time. (state, kind) was
-- read only by the queue-depth counts and the dead-job list: the counts now use the partial
-- indexes of the live states (jobs_claim_idx, jobs_lease_idx) and dead jobs get their own
-- small index, written only when a job dies.
DROP INDEX IF EXISTS jobs_state_kind_idx;
CREATE INDEX jobs_dead_idx ON jobs (finished_at, id) WHERE state = 'dead';
