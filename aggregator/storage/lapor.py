"""SQL of the LAPOR! side: push, feed events, the manual worklist."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg

from aggregator.storage import jobs as jobs_repo
from aggregator.storage.sqlfiles import q

FEED = "feed"
BREAKER = "breaker"


@dataclass(frozen=True, slots=True)
class ReportFields:
    """What a LAPOR! report is made of, with the reporter's sealed identity: read by a push
    (``PushComplaint``) and by the operator's worklist (``WorklistItem``) alike."""

    id: uuid.UUID
    channel: str
    title: str | None
    content: str
    classification: str
    category_id: str | None
    agency_id: str | None
    anonymous: bool
    confidential: bool
    location: Any
    occurred_on: dt.date | None
    submitted_at: dt.datetime | None
    received_at: dt.datetime
    status: str
    name_enc: bytes | None
    email_enc: bytes | None
    phone_enc: bytes | None
    nik_enc: bytes | None


@dataclass(frozen=True, slots=True)
class PushComplaint(ReportFields):
    """What a push reads of a complaint, with its reporter's sealed identity."""

    lapor_tracking_id: str | None
    duplicate_of: uuid.UUID | None
    has_attachments: bool


@dataclass(frozen=True, slots=True)
class PushAttachment:
    sha256: bytes
    filename: str
    lapor_attachment_id: str | None
    content_type: str
    size: int
    data: bytes


@dataclass(frozen=True, slots=True)
class ReplyForPush:
    id: uuid.UUID
    complaint_id: uuid.UUID
    text: str
    sent_at: dt.datetime | None
    resolved: bool | None
    lapor_reply_id: str | None
    lapor_tracking_id: str | None
    status: str


@dataclass(frozen=True, slots=True)
class ClaimedEvent:
    """A feed event this call applies; ``body`` None when the caller parsed it already."""

    event_id: str
    body: Any
    complaint_id: uuid.UUID


@dataclass(frozen=True, slots=True)
class LockedComplaint:
    """The fields feed events change, locked until the transaction ends."""

    id: uuid.UUID
    status: str
    status_at: dt.datetime
    classification: str
    category_id: str | None
    title: str | None
    agency_id: str | None
    agency_name: str | None
    waiting_on_reporter: bool


@dataclass(frozen=True, slots=True)
class WorklistItem(ReportFields):
    """A complaint waiting to be typed into LAPOR! by hand."""

    status_at: dt.datetime
    source: str


@dataclass(frozen=True, slots=True)
class ComplaintLapor:
    id: uuid.UUID
    status: str
    status_at: dt.datetime
    lapor_tracking_id: str | None
    agency_id: str | None
    agency_name: str | None


async def get_push_complaints(
    conn: asyncpg.Connection, ids: Sequence[uuid.UUID], *, owner: str = "", prefetch: int = 0
) -> dict[uuid.UUID, PushComplaint]:
    """The complaints ``ids`` and up to ``prefetch`` others whose push jobs ``owner`` holds."""
    rows = await conn.fetch(q("get_push_complaints"), list(ids), owner, prefetch)
    return {r["id"]: PushComplaint(**r) for r in rows}


async def list_push_attachments(conn: asyncpg.Connection, cid: uuid.UUID) -> list[PushAttachment]:
    return [PushAttachment(**r) for r in await conn.fetch(q("list_push_attachments"), cid)]


async def set_lapor_attachment_id(
    conn: asyncpg.Connection, cid: uuid.UUID, sha256: bytes, attachment_id: str
) -> None:
    await conn.execute(q("set_lapor_attachment_id"), cid, sha256, attachment_id)


@dataclass(frozen=True, eq=False)  # compared and hashed by identity: one per call
class Pushed:
    complaint_id: uuid.UUID
    tracking_id: str
    created_at: dt.datetime | None
    status: str
    actor: str
    event: dict[str, Any]
    notify: dict[str, Any]
    notify_key: str
    lane: int = 0  # of the notify job (schemas.events.JobLane)


async def mark_pushed(
    conn: asyncpg.Connection, items: Sequence[Pushed]
) -> dict[uuid.UUID, tuple[bool, list[str]]]:
    """Per complaint: (True when this call stored the Tracking ID, feed events waiting)."""
    cols = [
        [p.complaint_id for p in items],
        [p.tracking_id for p in items],
        [p.created_at for p in items],
        [p.status for p in items],
        [p.actor for p in items],
        [json.dumps(p.event) for p in items],
        [json.dumps(p.notify) for p in items],
        [p.notify_key for p in items],
        [int(p.lane) for p in items],
    ]
    rows = await conn.fetch(q("mark_complaints_pushed"), *cols)
    return {r["id"]: (bool(r["updated"]), list(r["waiting"])) for r in rows}


async def mark_rejected(conn: asyncpg.Connection, cid: uuid.UUID, errors: dict[str, Any]) -> bool:
    return await conn.fetchrow(q("mark_complaint_rejected"), cid, errors) is not None


async def mark_manual_pending(conn: asyncpg.Connection, cid: uuid.UUID) -> bool:
    return await conn.fetchrow(q("mark_complaint_manual_pending"), cid) is not None


async def get_reply(conn: asyncpg.Connection, reply_id: uuid.UUID) -> ReplyForPush | None:
    row = await conn.fetchrow(q("get_reply_for_push"), reply_id)
    return ReplyForPush(**row) if row is not None else None


async def set_lapor_reply_id(
    conn: asyncpg.Connection, reply_id: uuid.UUID, lapor_reply_id: str
) -> None:
    await conn.execute(q("set_lapor_reply_id"), reply_id, lapor_reply_id)


async def get_state(conn: asyncpg.Connection, name: str) -> str | None:
    row = await conn.fetchrow(q("get_lapor_state"), name)
    return row["cursor"] if row else None


async def state_updated_at(conn: asyncpg.Connection, name: str) -> dt.datetime | None:
    row = await conn.fetchrow(q("get_lapor_state"), name)
    return row["updated_at"] if row else None


async def lock_feed(conn: asyncpg.Connection) -> None:
    """One replica reads the feed at a time (held until the transaction ends)."""
    await conn.execute(q("lock_lapor_feed"))


async def save_state(conn: asyncpg.Connection, name: str, value: str | None) -> None:
    await conn.execute(q("save_lapor_state"), name, value)


EventRow = tuple[str, str, str, dt.datetime, str]


async def insert_events(conn: asyncpg.Connection, rows: Sequence[EventRow]) -> set[str]:
    """Store feed events; returns the ids that were new."""
    if not rows:
        return set()
    cols = list(zip(*rows, strict=True))
    got = await conn.fetch(q("insert_lapor_events"), *[list(c) for c in cols])
    return {r["event_id"] for r in got}


async def claim_events(
    conn: asyncpg.Connection, event_ids: Sequence[str], parsed: Sequence[str] = ()
) -> list[ClaimedEvent]:
    """Flip ``applied`` on those not applied yet whose complaint is known; bodies only for
    the ids not in ``parsed``."""
    if not event_ids:
        return []
    rows = await conn.fetch(q("claim_lapor_events"), list(event_ids), list(parsed))
    return [ClaimedEvent(**r) for r in rows]


async def unapplied_event_ids(conn: asyncpg.Connection, limit: int) -> list[str]:
    return [r["event_id"] for r in await conn.fetch(q("list_unapplied_lapor_events"), limit)]


async def unapplied_event_ids_for(conn: asyncpg.Connection, tracking_id: str) -> list[str]:
    rows = await conn.fetch(q("list_unapplied_lapor_events_for_tracking"), tracking_id)
    return [r["event_id"] for r in rows]


async def lock_complaints(
    conn: asyncpg.Connection, ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, LockedComplaint]:
    rows = await conn.fetch(q("lock_complaints_for_events"), list(ids))
    return {r["id"]: LockedComplaint(**r) for r in rows}


def _columns(rows: Sequence[Sequence[Any]], width: int) -> list[list[Any]]:
    return [list(c) for c in zip(*rows, strict=True)] if rows else [[] for _ in range(width)]


async def apply_complaint_changes(conn: asyncpg.Connection, rows: Sequence[Sequence[Any]]) -> None:
    if rows:
        await conn.execute(q("apply_complaint_changes"), *_columns(rows, 9))


async def note_events(conn: asyncpg.Connection, rows: Sequence[tuple[str, str]]) -> None:
    if rows:
        await conn.execute(q("note_lapor_events"), *_columns(rows, 2))


async def insert_timeline(
    conn: asyncpg.Connection,
    rows: Sequence[tuple[uuid.UUID, str, dt.datetime, str, dict[str, Any]]],
) -> None:
    if rows:
        data = [(c, k, a, actor, json.dumps(d)) for c, k, a, actor, d in rows]
        await conn.execute(q("insert_lapor_timeline"), *_columns(data, 5))


async def insert_followups(conn: asyncpg.Connection, rows: Sequence[Sequence[Any]]) -> None:
    if rows:
        await conn.execute(q("insert_followups"), *_columns(rows, 11))


async def insert_jobs(
    conn: asyncpg.Connection, rows: Sequence[tuple[str, uuid.UUID, dict[str, Any], str]]
) -> None:
    if rows:
        data = [(k, c, json.dumps(p), d) for k, c, p, d in rows]
        await jobs_repo.insert_many(conn, _columns(data, 4))
        await jobs_repo.wake(conn, "lapor")


async def manual_worklist(
    conn: asyncpg.Connection, limit: int, offset: int
) -> tuple[list[WorklistItem], int]:
    rows = await conn.fetch(q("list_manual_worklist"), limit, offset)
    total: int = await conn.fetchval(q("count_manual_worklist"))
    return [WorklistItem(**r) for r in rows], total


async def get_complaint_lapor(conn: asyncpg.Connection, cid: uuid.UUID) -> ComplaintLapor | None:
    row = await conn.fetchrow(q("get_complaint_lapor"), cid)
    return ComplaintLapor(**row) if row is not None else None


async def next_manual_seq(conn: asyncpg.Connection, tracking_id: str) -> int:
    n: int = await conn.fetchval(q("next_manual_event_seq"), tracking_id)
    return n


async def reserve_rate_slots(
    conn: asyncpg.Connection, bucket: str, slots: int, interval_s: float, hold_s: float
) -> float:
    """Reserve ``slots`` request slots of the shared bucket ``bucket``; return where the first
    one's theoretical arrival time lies, in seconds from the database's clock now (may be < 0).
    ``hold_s`` > 0 first moves the bucket past now + ``hold_s`` (a 429's Retry-After)."""
    row = await conn.fetchrow(q("reserve_rate_slots"), bucket, slots, interval_s, hold_s)
    assert row is not None
    ahead: float = (row["tat"] - row["db_now"]).total_seconds()
    return ahead - slots * interval_s
