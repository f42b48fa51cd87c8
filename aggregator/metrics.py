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


def job_outcome(kind: str, outcome: str) -> None:
    JOB_OUTCOMES.labels(kind=kind, outcome=outcome).inc()
