-- The learned router's decision on each complaint, and operators' corrections.
--
-- route_category / route_agency are the routing policy's category and OPD code (the
-- suggested LAPOR! agency id stays in agency_id); needs_triage marks a complaint the router
-- was not sure of, listed on the dashboard until an operator picks its route. Corrections
-- are kept as rows, the training data of `satukanal route retrain`.
ALTER TABLE complaints
    ADD COLUMN route_category text,
    ADD COLUMN route_agency text,
    ADD COLUMN route_confidence real,
    ADD COLUMN route_reasons text[] NOT NULL DEFAULT '{}',
    ADD COLUMN needs_triage boolean NOT NULL DEFAULT false;

CREATE INDEX complaints_triage_idx ON complaints (received_at DESC) WHERE needs_triage;

CREATE TABLE route_corrections (
    id bigserial PRIMARY KEY,
    complaint_id uuid NOT NULL REFERENCES complaints (id) ON DELETE CASCADE,
    category text NOT NULL,
    agency text NOT NULL,
    previous_category text,
    previous_agency text,
    operator text NOT NULL,
    at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX route_corrections_complaint_idx ON route_corrections (complaint_id);
