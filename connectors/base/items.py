"""The plain data that crosses the boundary between a connector and the core."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from schemas.complaint import Channel, ReplyDraft


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
    """Items pulled together, the cursor to store with them (``None`` keeps the stored one:
    a pushed item has no place in a pull order), and what ``ack`` needs."""

    items: list[RawItem]
    cursor: dict[str, Any] | None
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
    link: str | None = None  # the public status page of the report, when there is one


@dataclass(frozen=True)
class SendResult:
    external_id: str | None = None  # Message-ID, outbox ID, gateway id
    delivered: bool | None = None  # None: unknown yet
    detail: str | None = None


@dataclass(frozen=True)
class IngestOutcome:
    """What the core did with a batch a connector handed to ``context.ingest``."""

    complaint_ids: tuple[uuid.UUID, ...] = ()
    skipped: int = 0  # already held: a gateway's retry, a re-pull
    quarantined: int = 0
    # The database was away: the batch is in the core's local durable spool (fsynced) and
    # is ingested when it is back. Safe to answer the channel as accepted.
    spooled: bool = False

    @property
    def stored(self) -> bool:
        return bool(self.complaint_ids) or self.skipped > 0 or self.spooled


@dataclass(frozen=True)
class DeliveryStatus:
    """What a channel did with one notification, when asked (Gammu's ``sentitems``)."""

    state: Literal["queued", "sent", "delivered", "failed", "unknown"]
    external_id: str | None = None
    detail: str | None = None
    at: dt.datetime | None = None


@dataclass(frozen=True)
class DeliveryReport:
    """A gateway's own word on one notification, pushed to us (a Kannel DLR)."""

    notification_id: str
    state: Literal["delivered", "failed"]
    detail: str


# -- write-back into a channel's own (legacy) records ----------------------------------


@dataclass(frozen=True)
class WriteBackNote:
    """An agency response or information request to show in the old records."""

    kind: str  # "response" | "info_request"
    text: str
    agency: str | None
    at: dt.datetime
    key: str = ""  # the core's key of this write (``followup:<id>``), for its ledger


@dataclass(frozen=True)
class WriteBackRequest:
    """One complaint's current state, as plain data, for the channel to mirror."""

    row_id: Any  # the channel's own key (``origin.row_id``)
    tracking_id: str | None
    status: str
    notes: tuple[WriteBackNote, ...] = ()
    # From the core's ledger: the wording each keyed write was first planned in (write that
    # text, not a fresh rendering), and the keys the old records are known to hold already.
    wordings: Mapping[str, str] = field(default_factory=dict)
    confirmed: frozenset[str] = frozenset()


@dataclass(frozen=True)
class MissingRow:
    """The complaint's row is gone from the channel's records (deleted there)."""

    table: str
    row_id: Any


@dataclass(frozen=True)
class WriteBackResult:
    wrote: tuple[str, ...] = ()  # "tracking_id", "status", "response", in order
    missing: MissingRow | None = None
    confirmed: tuple[str, ...] = ()  # keys of writes the old records now hold


# -- replies on the core's public status page ---------------------------------------------

STATUS_REPLY_TYPE = "application/x-satukanal-status-reply+json"


def status_reply_item(
    code: str, complaint_id: uuid.UUID, text: str, resolved: bool | None, received_at: dt.datetime
) -> RawItem:
    """The raw item the core's status page stores when a citizen answers with a receipt code;
    the source that issued the code parses it with ``parse_status_reply``."""
    payload = json.dumps(
        {"complaint_id": str(complaint_id), "text": text[:20000], "resolved": resolved}
    ).encode()
    return RawItem(
        source_ref=f"reply:{code}:{uuid.uuid4()}",
        payload=payload,
        content_type=STATUS_REPLY_TYPE,
        received_at=received_at,
        meta={"receipt_code": code},
    )


def parse_status_reply(item: RawItem, channel: Channel = Channel.WEB) -> ReplyDraft:
    data = json.loads(item.payload)
    return ReplyDraft(
        channel=channel,
        text=data["text"],
        complaint_id=data["complaint_id"],
        resolved=data.get("resolved"),
        sent_at=item.received_at,
    )
