"""The narrow context the core hands each connector it builds.

A connector sees only this: hand a batch to intake, record a gateway's delivery report, the
clock, the shared HTTP session (never open your own), a logger bound to the source, and the
few settings of the municipality a channel needs. Nothing else of the core is reachable.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import structlog

from connectors.base.items import Batch, DeliveryReport, IngestOutcome
from connectors.base.pages import PublicBranding


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


async def _not_wired_ingest(batch: Batch) -> IngestOutcome:
    raise RuntimeError("this connector was built without the core: nothing can be ingested")


async def _not_wired_delivery(report: DeliveryReport) -> None:
    raise RuntimeError("this connector was built without the core: nothing can be recorded")


def _not_wired_hash(value: str) -> str:
    raise RuntimeError("this connector was built without the core: no identity key to hash with")


@dataclass(frozen=True)
class ConnectorContext:
    """What a connector may use of the running daemon. The defaults are a context with no
    core behind it (parsing, conformance tests): ingesting or recording raises."""

    source: str = "<unnamed>"
    ingest: Callable[[Batch], Awaitable[IngestOutcome]] = _not_wired_ingest
    record_delivery: Callable[[DeliveryReport], Awaitable[None]] = _not_wired_delivery
    clock: Callable[[], dt.datetime] = utcnow
    http: aiohttp.ClientSession | None = None
    log: Any = field(default_factory=lambda: structlog.get_logger("connectors"))
    municipality: str = "Pemerintah Daerah"
    timezone: str = "Asia/Jakarta"  # the municipality's zone, for dates written back
    sms_max_parts: int = 3  # a notification's longest SMS, unless a source says otherwise
    # The core's keyed hash (HMAC with the identity key, hex) of an identifier a channel
    # gives, such as WhatsApp's business-scoped user id: comparable, never readable.
    keyed_hash: Callable[[str], str] = _not_wired_hash
    # name, logo and privacy notice of the public pages
    branding: PublicBranding = field(default_factory=PublicBranding)

    def require_http(self) -> aiohttp.ClientSession:
        if self.http is None:
            raise RuntimeError(f"source {self.source}: no HTTP session in this context")
        return self.http
