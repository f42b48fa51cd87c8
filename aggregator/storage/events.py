"""The append-only timeline."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import asyncpg

from aggregator.storage.sqlfiles import q
from schemas.events import TimelineEvent


async def append_event(
    conn: asyncpg.Connection,
    complaint_id: uuid.UUID | str | None,
    kind: str,
    data: dict[str, Any] | None = None,
    *,
    actor: str = "system",
    at: dt.datetime | None = None,
) -> int:
    cid = uuid.UUID(str(complaint_id)) if complaint_id is not None else None
    event_id: int = await conn.fetchval(q("append_event"), cid, kind, at, actor, data or {})
    return event_id


async def timeline(conn: asyncpg.Connection, complaint_id: uuid.UUID) -> list[TimelineEvent]:
    rows = await conn.fetch(q("list_events_for_complaint"), complaint_id)
    return [TimelineEvent(**dict(r)) for r in rows]
