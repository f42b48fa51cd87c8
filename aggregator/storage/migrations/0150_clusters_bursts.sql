-- Clusters of complaints about one problem at one place (issue 14, item 3).
--
-- Complaints of one routing category naming one place within [bursts] cluster_window_h
-- share a cluster: each is still pushed and each reporter told, but an operator sees
-- "24 laporan banjir Jl. G. Obos" as one problem. ``reporters`` counts distinct reporters
-- (a complaint without a reporter counts as one); ``complaints`` every member.
CREATE TABLE complaint_clusters (
    id uuid PRIMARY KEY,
    category text NOT NULL,
    place text NOT NULL,
    first_at timestamptz NOT NULL DEFAULT now(),
    last_at timestamptz NOT NULL DEFAULT now(),
    complaints integer NOT NULL DEFAULT 0,
    reporters integer NOT NULL DEFAULT 0
);
CREATE INDEX complaint_clusters_key_idx ON complaint_clusters (category, place, last_at DESC);
CREATE INDEX complaint_clusters_recent_idx ON complaint_clusters (last_at DESC)
    WHERE reporters > 1;

-- complaints.cluster_id was reserved (unused) by the initial schema: now it points here.
ALTER TABLE complaints ADD CONSTRAINT complaints_cluster_fk FOREIGN KEY (cluster_id)
    REFERENCES complaint_clusters (id) ON DELETE SET NULL;
-- complaints_cluster_idx (cluster_id, received_at DESC) comes with 0140: it serves both
-- the dashboard's cluster filter and the cluster look-ups here.
