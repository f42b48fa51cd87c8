"""SQL of the sources' state: poll leases, cursors, health of each configured source."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import asyncpg

from aggregator.storage.sqlfiles import q


@dataclass(frozen=True, slots=True)
class Lease:
    cursor: Any


@dataclass(frozen=True, slots=True)
class SourceState:
    source: str
    kind: str
    last_poll_at: dt.datetime | None
    last_success_at: dt.datetime | None
    last_error_at: dt.datetime | None
    last_error: str | None
    degraded: bool
    items_total: int
    last_batch_size: int | None
    quarantined: int


async def take_lease(
    conn: asyncpg.Connection, source: str, kind: str, owner: str, lease_s: float
) -> Lease | None:
    """The lease (and the stored cursor) when ``owner`` may poll the source now, else None."""
    row = await conn.fetchrow(q("take_source_lease"), source, kind, owner, lease_s)
    return Lease(**row) if row is not None else None


async def release_lease(conn: asyncpg.Connection, source: str, owner: str) -> None:
    await conn.execute(q("release_source_lease"), source, owner)


async def record_poll(conn: asyncpg.Connection, source: str, handled: int) -> None:
    await conn.execute(q("record_source_poll"), source, handled)


async def record_error(conn: asyncpg.Connection, source: str, error: str, degraded: bool) -> None:
    await conn.execute(q("record_source_error"), source, error, degraded)


async def clear_degraded(conn: asyncpg.Connection, source: str) -> None:
    await conn.execute(q("clear_source_degraded"), source)


async def list_states(conn: asyncpg.Connection) -> list[SourceState]:
    return [SourceState(**r) for r in await conn.fetch(q("list_source_states"))]


async def get_cursor(conn: asyncpg.Connection, source: str) -> Any:
    return await conn.fetchval(q("get_source_cursor"), source)


async def save_cursor(
    conn: asyncpg.Connection, source: str, kind: str, cursor: Any, handled: int
) -> None:
    """After a batch: its cursor (None keeps the stored one), counts, and healthy again."""
    await conn.execute(q("save_source_cursor"), source, kind, cursor, handled)


async def set_cursor_if_empty(
    conn: asyncpg.Connection, source: str, kind: str, cursor: Any
) -> None:
    await conn.execute(q("set_source_cursor_if_empty"), source, kind, cursor)
