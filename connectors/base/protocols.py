"""What a connector can do, as declared protocols, and the one place that reads them.

Every source implements ``Source``. The optional abilities below are separate protocols; a
source has one by implementing its methods, and ``abilities(source)`` is the only code that
asks (by ``isinstance``), so the core never guesses from attribute names.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol, runtime_checkable

from aiohttp import web

from connectors.base.items import (
    Batch,
    DeliveryStatus,
    Origin,
    OutboundMessage,
    RawItem,
    SendResult,
    WriteBackRequest,
    WriteBackResult,
)
from connectors.base.options import ConnectorOptions
from schemas.complaint import Parsed
from schemas.events import Job


@runtime_checkable
class Source(Protocol):
    """Every connector: a configured kind, a name, a health check and a pure parser."""

    kind: ClassVar[str]
    options_model: ClassVar[type[ConnectorOptions]]
    name: str

    async def check(self) -> None:
        """Raise ``AuthError``/``TransientError``/``ConfigError`` when the channel is unusable."""

    def parse(self, item: RawItem) -> Parsed:
        """Pure: a raw item to a complaint draft, a reply or ``Ignored``; ``InvalidInput``
        when it cannot be understood (the item is then quarantined)."""

    async def close(self) -> None: ...


@runtime_checkable
class Pulling(Protocol):
    """A source the core polls: an ingest loop runs for it."""

    def pull(self, cursor: dict[str, Any] | None) -> AsyncIterator[Batch]:
        """Yield batches in order, each with the cursor to store after it."""

    async def ack(self, batch: Batch) -> None:
        """Tell the channel the batch is safely committed (IMAP \\Seen, Gammu Processed)."""


@runtime_checkable
class WaitsForNew(Protocol):
    """A pulling source that can be told of new items (IMAP IDLE) instead of polled blind."""

    async def wait_for_new(self, timeout: float) -> None: ...  # noqa: ASYNC109 - the loop's hook


@runtime_checkable
class HttpIntake(Protocol):
    """A source the channel pushes to: routes mounted under ``/intake/<source name>``,
    whose handlers hand batches to ``context.ingest``."""

    def routes(self) -> list[web.RouteDef]: ...


@runtime_checkable
class Sink(Protocol):
    async def send(self, origin: Origin, message: OutboundMessage) -> SendResult: ...

    async def close(self) -> None: ...


@runtime_checkable
class ReportsDelivery(Protocol):
    """A sink the core may ask what became of a notification it sent."""

    async def delivery_status(self, notification_id: str) -> DeliveryStatus: ...


@runtime_checkable
class RecognisesResend(Protocol):
    """A sink that knows a message it already has by its notification id (Gammu's
    CreatorID, the outbox file name, the form's response text) and does not send it twice.
    The core resends to such a sink after a crash between hand-over and record; to any other
    sink (an SMTP relay, Kannel) it does not, so a citizen gets a message at most once."""

    def recognises_resend(self) -> bool: ...


@runtime_checkable
class Answering(Protocol):
    """A source whose channel can answer the citizen (``None``: not as configured)."""

    def sink(self) -> Sink | None: ...


@runtime_checkable
class CheckableSink(Protocol):
    """A sink that can prove it would be accepted without sending anything
    (``satukanal config check --connect``): log in, then log out."""

    async def check(self) -> None: ...


@runtime_checkable
class Backfilling(Protocol):
    """A source whose archive ``satukanal backfill`` can read with a progress total."""

    backfill_read_ahead: bool  # ack() does not interfere with pulling: pages may be read ahead

    def backfill_cursor(self, cursor: dict[str, Any] | None) -> dict[str, Any]: ...

    async def count_remaining(self, cursor: dict[str, Any] | None) -> int | None: ...


@runtime_checkable
class IssuesReceipts(Protocol):
    """A source that gives citizens a receipt code for the core's public status page
    (``/status/<code>``); replies there come back as ``status_reply_item`` raw items."""

    def announces_sunset(self) -> bool: ...


@runtime_checkable
class LegacyWriter(Protocol):
    """Mirrors a complaint's state into the channel's own records (old form tables)."""

    def wordings(self, request: WriteBackRequest) -> dict[str, str]:
        """The text each keyed write of ``request`` would be written in (pure): the core
        records it before ``mirror`` so every retry writes the same text."""
        ...

    async def mirror(self, request: WriteBackRequest) -> WriteBackResult: ...

    async def close(self) -> None: ...


@runtime_checkable
class WritesBack(Protocol):
    """A source that can write progress back into the old system (``None``: not enabled)."""

    def writer(self) -> LegacyWriter | None: ...


JobHandler = Callable[[Job], Awaitable[None]]


@runtime_checkable
class ProvidesJobHandlers(Protocol):
    """A source that runs jobs of its own kinds in the core's worker."""

    def job_handlers(self) -> Mapping[str, JobHandler]: ...


@dataclass(frozen=True)
class Abilities:
    """What one built source declares it can do (nothing is built or opened to find out)."""

    pulling: Pulling | None
    waits_for_new: WaitsForNew | None
    http_intake: HttpIntake | None
    answering: Answering | None
    backfill: Backfilling | None
    receipts: IssuesReceipts | None
    writes_back: WritesBack | None
    job_handlers: ProvidesJobHandlers | None


def abilities(source: object) -> Abilities:
    """The one place a source's optional abilities are looked up."""
    return Abilities(
        pulling=source if isinstance(source, Pulling) else None,
        waits_for_new=source if isinstance(source, WaitsForNew) else None,
        http_intake=source if isinstance(source, HttpIntake) else None,
        answering=source if isinstance(source, Answering) else None,
        backfill=source if isinstance(source, Backfilling) else None,
        receipts=source if isinstance(source, IssuesReceipts) else None,
        writes_back=source if isinstance(source, WritesBack) else None,
        job_handlers=source if isinstance(source, ProvidesJobHandlers) else None,
    )


def delivery_reporter(sink: object) -> ReportsDelivery | None:
    """The sink, when it can be asked what became of a notification."""
    return sink if isinstance(sink, ReportsDelivery) else None


def resend_is_safe(sink: object) -> bool:
    """Whether handing the same notification to ``sink`` again cannot send it twice."""
    return isinstance(sink, RecognisesResend) and sink.recognises_resend()
