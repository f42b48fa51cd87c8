-- The agency statistics follow LAPOR!'s assignment (issue 12, item 6): a complaint counts for
-- the agency LAPOR! last disposed it to, never for our routing guess, which is kept apart as
-- ``suggested`` (complaints we routed there that LAPOR! has not disposed anywhere). An
-- agency's days run from its own last disposition; ``reassignments`` counts how often LAPOR!
-- moved the complaints that ended with the agency. The statistics loop recomputes every
-- month on its first pass after start, so rows written under the old rule are replaced.
ALTER TABLE agency_monthly
    ADD COLUMN reassignments integer NOT NULL DEFAULT 0,
    ADD COLUMN suggested integer NOT NULL DEFAULT 0;
