"""Prometheus metrics. Counters are module-level; gauges that need the database are
refreshed by a collector at scrape time (queue depth, sources)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

INGESTED = Counter("satukanal_raw_items_ingested_total", "New raw items stored", ["source"])
QUARANTINED = Counter("satukanal_raw_items_quarantined_total", "Items quarantined", ["source"])
SOURCE_ERRORS = Counter("satukanal_source_errors_total", "Failed polls", ["source"])
SOURCE_LAST_SUCCESS = Gauge(
    "satukanal_source_last_success_timestamp_seconds", "Last successful poll", ["source"]
)
LOOP_ITERATIONS = Counter("satukanal_loop_iterations_total", "Loop iterations", ["loop"])
LOOP_ERRORS = Counter("satukanal_loop_errors_total", "Loop iterations that failed", ["loop"])
JOB_OUTCOMES = Counter("satukanal_job_outcomes_total", "Jobs finished", ["kind", "outcome"])
QUEUE_DEPTH = Gauge("satukanal_queue_jobs", "Jobs by kind and state", ["kind", "state"])
SOURCE_DEGRADED = Gauge("satukanal_source_degraded", "1 when a source needs a human", ["source"])
COMPLAINTS = Gauge("satukanal_complaints", "Complaints by status", ["status"])
SPOOL_DEPTH = Gauge(
    "satukanal_spool_items",
    "Intake batches spooled locally while PostgreSQL was away, not yet ingested",
)
SPOOL_BYTES = Gauge("satukanal_spool_bytes", "Bytes the intake spool holds")
SPOOL_REFUSED = Counter(
    "satukanal_spool_refused_total", "Intake requests refused because the spool was full"
)


def job_outcome(kind: str, outcome: str) -> None:
    JOB_OUTCOMES.labels(kind=kind, outcome=outcome).inc()


# Health from real outcomes (refreshed from the database at scrape time, see web/health.py).
COMPONENT_STATE = Gauge(
    "satukanal_component_state",
    "1 for the component's current state (unknown, ok, degraded, failing, stale)",
    ["component", "kind", "state"],
)
COMPONENT_FAILURES = Gauge(
    "satukanal_component_consecutive_failures", "Failed attempts in a row", ["component", "kind"]
)
COMPONENT_LAST_SUCCESS = Gauge(
    "satukanal_component_last_success_timestamp_seconds",
    "Last successful attempt",
    ["component", "kind"],
)
LAPOR_BREAKER_OPEN = Gauge("satukanal_lapor_breaker_open", "1 while the LAPOR! circuit is open")
INCIDENT_OPEN = Gauge("satukanal_incident_open", "1 for each open incident", ["kind", "subject"])
INCIDENTS_OPEN = Gauge("satukanal_incidents_open", "Open incidents by kind", ["kind"])
ALERTS_SENT = Counter(
    "satukanal_incident_alerts_total", "Incident alerts to admin contacts", ["contact", "outcome"]
)
