"""SQL of the sources' state: poll leases, cursors, health of each configured source."""

from __future__ import annotations

from typing import Any

import asyncpg

from aggregator.storage.sqlfiles import q


async def take_lease(
    conn: asyncpg.Connection, source: str, kind: str, owner: str, lease_s: float
) -> asyncpg.Record | None:
    """The source's row (its ``cursor``) when ``owner`` may poll it now, else None."""
    return await conn.fetchrow(q("take_source_lease"), source, kind, owner, lease_s)


async def release_lease(conn: asyncpg.Connection, source: str, owner: str) -> None:
    await conn.execute(q("release_source_lease"), source, owner)


async def record_poll(conn: asyncpg.Connection, source: str, handled: int) -> None:
    await conn.execute(q("record_source_poll"), source, handled)


async def record_error(conn: asyncpg.Connection, source: str, error: str, degraded: bool) -> None:
    await conn.execute(q("record_source_error"), source, error, degraded)


async def clear_degraded(conn: asyncpg.Connection, source: str) -> None:
    await conn.execute(q("clear_source_degraded"), source)


async def list_states(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    return list(await conn.fetch(q("list_source_states")))


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
