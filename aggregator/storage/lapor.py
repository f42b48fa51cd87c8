"""SQL of the LAPOR! side: push, feed events, the manual worklist."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg

from aggregator.storage.sqlfiles import q

FEED = "feed"
BREAKER = "breaker"


async def get_push_complaints(
    conn: asyncpg.Connection, ids: Sequence[uuid.UUID], *, owner: str = "", prefetch: int = 0
) -> dict[uuid.UUID, asyncpg.Record]:
    """The complaints ``ids`` and up to ``prefetch`` others whose push jobs ``owner`` holds."""
    rows = await conn.fetch(q("get_push_complaints"), list(ids), owner, prefetch)
    return {r["id"]: r for r in rows}


async def list_push_attachments(conn: asyncpg.Connection, cid: uuid.UUID) -> list[asyncpg.Record]:
    return list(await conn.fetch(q("list_push_attachments"), cid))


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


async def get_reply(conn: asyncpg.Connection, reply_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(q("get_reply_for_push"), reply_id)


async def set_lapor_reply_id(
    conn: asyncpg.Connection, reply_id: uuid.UUID, lapor_reply_id: str
) -> None:
    await conn.execute(q("set_lapor_reply_id"), reply_id, lapor_reply_id)


async def get_state(conn: asyncpg.Connection, name: str) -> str | None:
    row = await conn.fetchrow(q("get_lapor_state"), name)
    return row["cursor"] if row else None


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
) -> list[asyncpg.Record]:
    """Flip ``applied`` on those not applied yet whose complaint is known; bodies only for
    the ids not in ``parsed``."""
    if not event_ids:
        return []
    return list(await conn.fetch(q("claim_lapor_events"), list(event_ids), list(parsed)))


async def unapplied_event_ids(conn: asyncpg.Connection, limit: int) -> list[str]:
    return [r["event_id"] for r in await conn.fetch(q("list_unapplied_lapor_events"), limit)]


async def unapplied_event_ids_for(conn: asyncpg.Connection, tracking_id: str) -> list[str]:
    rows = await conn.fetch(q("list_unapplied_lapor_events_for_tracking"), tracking_id)
    return [r["event_id"] for r in rows]


async def lock_complaints(
    conn: asyncpg.Connection, ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, asyncpg.Record]:
    rows = await conn.fetch(q("lock_complaints_for_events"), list(ids))
    return {r["id"]: r for r in rows}


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
        await conn.execute(q("insert_lapor_jobs"), *_columns(data, 4))
        await conn.execute(q("wake_job_workers"), "lapor")


async def manual_worklist(
    conn: asyncpg.Connection, limit: int, offset: int
) -> tuple[list[asyncpg.Record], int]:
    rows = await conn.fetch(q("list_manual_worklist"), limit, offset)
    total: int = await conn.fetchval(q("count_manual_worklist"))
    return list(rows), total


async def get_complaint_lapor(conn: asyncpg.Connection, cid: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(q("get_complaint_lapor"), cid)


async def next_manual_seq(conn: asyncpg.Connection, tracking_id: str) -> int:
    n: int = await conn.fetchval(q("next_manual_event_seq"), tracking_id)
    return n
