"""Intake: raw items from a source become stored complaints, replies or quarantined items."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aggregator.intake.pipeline import Decision, IngestResult, Intake
from connectors.base import Batch
from schemas.complaint import ComplaintDraft

__all__ = ["Decision", "IngestResult", "Intake", "ingest"]


async def ingest(
    services: Any,
    source: Any,
    batch: Batch,
    *,
    decide: Callable[[ComplaintDraft], Decision] | None = None,
) -> IngestResult:
    """Store one batch in one transaction (see ``pipeline.Intake``). The caller acks after."""
    intake = services.extras.get("intake")
    if intake is None:
        intake = services.extras["intake"] = Intake(services)
    return await intake.ingest(source, batch, decide=decide)
