"""Reporter replies: held (unverified) replies for operators, and a complaint's replies."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg

from aggregator.storage.sqlfiles import q


async def target_identity(
    conn: asyncpg.Connection, complaint_id: uuid.UUID
) -> asyncpg.Record | None:
    row: asyncpg.Record | None = await conn.fetchrow(q("reply_target_identity"), complaint_id)
    return row


async def insert_checked(conn: asyncpg.Connection, rows: list[tuple[Any, ...]]) -> None:
    """Rows of (id, complaint_id, raw_item_id, channel, text, sent_at, resolved, verified,
    verified_by, unverified_reason)."""
    if rows:
        cols = list(zip(*rows, strict=True))
        await conn.execute(q("insert_checked_replies"), *[list(c) for c in cols])


async def held(conn: asyncpg.Connection, limit: int = 200) -> list[dict[str, Any]]:
    return [dict(r) for r in await conn.fetch(q("list_held_replies"), limit)]


async def held_count(conn: asyncpg.Connection) -> int:
    n: int = await conn.fetchval(q("count_held_replies"))
    return n


async def review(
    conn: asyncpg.Connection, reply_id: uuid.UUID, *, by: str, decision: str
) -> asyncpg.Record | None:
    row: asyncpg.Record | None = await conn.fetchrow(q("review_held_reply"), reply_id, by, decision)
    return row


async def for_complaint(conn: asyncpg.Connection, complaint_id: uuid.UUID) -> list[dict[str, Any]]:
    return [dict(r) for r in await conn.fetch(q("list_complaint_replies"), complaint_id)]


async def is_verified(conn: asyncpg.Connection, reply_id: uuid.UUID) -> bool | None:
    v: bool | None = await conn.fetchval(q("reply_is_verified"), reply_id)
    return v


async def set_resolved(conn: asyncpg.Connection, complaint_id: uuid.UUID, resolved: bool) -> None:
    await conn.execute(q("set_resolved_from_reply"), complaint_id, resolved)
