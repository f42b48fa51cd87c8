"""The protocols every channel implements, and the registry that finds them.

A connector module exposes a *source* class (``kind`` = its configuration kind) and, where
the channel can answer the citizen, a *sink* class. Both are registered through the
entry-point group ``satukanal.connectors`` (``kind = "package.module:SourceClass"``) so a
third party can add a channel without touching the core. Parsing a raw item is a pure
function on the source (``parse``) with no I/O.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any, ClassVar, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, model_validator

from aggregator.errors import ConfigError
from schemas.complaint import Parsed
from schemas.config import _read_secret_files

ENTRY_POINT_GROUP = "satukanal.connectors"


class ConnectorOptions(BaseModel):
    """Base of every connector's options: unknown keys are errors, and any secret (a
    ``SecretStr`` option ``x``) may instead be read from a file named by ``x_file``."""

    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _secret_files(cls, data: Any) -> Any:
        return _read_secret_files(data, cls.model_fields)


@dataclass(frozen=True)
class RawItem:
    """One thing pulled from a channel, with its original bytes.

    ``source_ref`` is unique within the source and stable across re-pulls (IMAP
    ``<uidvalidity>:<uid>`` or Message-ID, Gammu ``ID``, form ``id_pengaduan``); it is the
    key that makes ingest exactly-once in effect.
    """

    source_ref: str
    payload: bytes
    received_at: dt.datetime | None = None
    meta: dict[str, Any] = field(default_factory=dict)  # JSON-serialisable
    content_type: str = "application/octet-stream"


@dataclass(frozen=True)
class Batch:
    """Items pulled together, the cursor to store with them, and what ``ack`` needs."""

    items: list[RawItem]
    cursor: dict[str, Any]
    ack_token: Any = None


@dataclass(frozen=True)
class Origin:
    """Where a complaint came from, enough for a sink to answer on the same channel."""

    source: str  # configured source name
    channel: str
    address: str | None  # e-mail address or E.164 phone; None when the channel cannot answer
    thread: dict[str, Any] = field(default_factory=dict)  # Message-ID, subject, form row id…


@dataclass(frozen=True)
class OutboundMessage:
    notification_id: str  # stable: a retried send is recognisable by it
    kind: str  # ack, status, response, info_request, solved_question, usage, sunset
    text: str
    subject: str | None = None
    html: str | None = None
    tracking_id: str | None = None


@dataclass(frozen=True)
class SendResult:
    external_id: str | None = None  # Message-ID, outbox ID, gateway id
    delivered: bool | None = None  # None: unknown yet
    detail: str | None = None


@runtime_checkable
class Source(Protocol):
    kind: ClassVar[str]
    name: str

    async def check(self) -> None:
        """Raise ``AuthError``/``TransientError``/``ConfigError`` when the channel is unusable."""

    def pull(self, cursor: dict[str, Any] | None) -> AsyncIterator[Batch]:
        """Yield batches in order, each with the cursor to store after it."""

    async def ack(self, batch: Batch) -> None:
        """Tell the channel the batch is safely committed (IMAP \\Seen, Gammu Processed)."""

    def parse(self, item: RawItem) -> Parsed:
        """Pure: a raw item to a complaint draft, a reply or ``Ignored``; ``InvalidInput``
        when it cannot be understood (the item is then quarantined)."""

    async def close(self) -> None: ...


@runtime_checkable
class Sink(Protocol):
    async def send(self, origin: Origin, message: OutboundMessage) -> SendResult: ...

    async def close(self) -> None: ...


def registry() -> dict[str, Any]:
    """Source classes by kind, from the entry-point group."""
    found: dict[str, Any] = {}
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        found[ep.name] = ep
    return found


def load_source_class(kind: str) -> Any:
    eps = registry()
    if kind not in eps:
        known = ", ".join(sorted(eps)) or "(none installed)"
        raise ConfigError(f"unknown source kind {kind!r}; installed kinds: {known}")
    return eps[kind].load()
