"""Reporter replies: held (unverified) replies for operators, and a complaint's replies."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import asyncpg

from aggregator.storage.sqlfiles import q


@dataclass(frozen=True, slots=True)
class TargetIdentity:
    """What a reply's sender is compared with: the reporter's hashes and the receipt code."""

    id: uuid.UUID
    lapor_tracking_id: str | None
    anonymous: bool
    receipt_code: str | None
    phone_hash: bytes | None
    email_hash: bytes | None


@dataclass(frozen=True, slots=True)
class Reviewed:
    id: uuid.UUID
    complaint_id: uuid.UUID
    resolved: bool | None


async def target_identity(
    conn: asyncpg.Connection, complaint_id: uuid.UUID
) -> TargetIdentity | None:
    row = await conn.fetchrow(q("reply_target_identity"), complaint_id)
    return TargetIdentity(**row) if row is not None else None


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
) -> Reviewed | None:
    row = await conn.fetchrow(q("review_held_reply"), reply_id, by, decision)
    return Reviewed(**row) if row is not None else None


async def for_complaint(conn: asyncpg.Connection, complaint_id: uuid.UUID) -> list[dict[str, Any]]:
    return [dict(r) for r in await conn.fetch(q("list_complaint_replies"), complaint_id)]


async def is_verified(conn: asyncpg.Connection, reply_id: uuid.UUID) -> bool | None:
    v: bool | None = await conn.fetchval(q("reply_is_verified"), reply_id)
    return v


async def set_resolved(conn: asyncpg.Connection, complaint_id: uuid.UUID, resolved: bool) -> None:
    await conn.execute(q("set_resolved_from_reply"), complaint_id, resolved)
