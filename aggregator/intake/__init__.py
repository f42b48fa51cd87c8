"""Intake: raw items from a source become stored complaints, replies or quarantined items."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from aggregator.intake.pipeline import Decision, IngestResult, Intake
from connectors.base import Batch
from schemas.complaint import ComplaintDraft

if TYPE_CHECKING:
    from aggregator.wiring.services import Services

__all__ = ["Decision", "IngestResult", "Intake", "ingest"]


async def ingest(
    services: Services,
    source: Any,
    batch: Batch,
    *,
    decide: Callable[[ComplaintDraft], Decision] | None = None,
) -> IngestResult:
    """Store one batch in one transaction (see ``pipeline.Intake``). The caller acks after."""
    return await services.intake.ingest(source, batch, decide=decide)
