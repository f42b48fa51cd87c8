"""SQL of resumable archive imports (aggregator/intake/backfill.py) and the migration report."""

from __future__ import annotations

from typing import Any

import asyncpg

from aggregator.storage.sqlfiles import q


async def get_run(conn: asyncpg.Connection, source: str) -> asyncpg.Record | None:
    return await conn.fetchrow(q("get_backfill_run"), source)


async def start_run(
    conn: asyncpg.Connection, source: str, counts: dict[str, Any]
) -> asyncpg.Record:
    """A new run, or the unfinished one continued: its (cursor, counts, started_at)."""
    row: asyncpg.Record = await conn.fetchrow(q("start_backfill_run"), source, counts)
    return row


async def save_progress(
    conn: asyncpg.Connection, source: str, cursor: Any, counts: dict[str, Any]
) -> None:
    await conn.execute(q("save_backfill_progress"), source, cursor, counts)


async def finish_run(conn: asyncpg.Connection, source: str, counts: dict[str, Any]) -> None:
    await conn.execute(q("finish_backfill_run"), source, counts)


async def delete_run(conn: asyncpg.Connection, source: str) -> None:
    await conn.execute(q("delete_backfill_run"), source)


async def merge_open_rows(conn: asyncpg.Connection, source: str, cursor: Any) -> None:
    await conn.execute(q("merge_backfill_open_rows"), source, cursor)


async def migration_counts(
    conn: asyncpg.Connection, recent_days: int
) -> tuple[list[asyncpg.Record], list[asyncpg.Record], list[asyncpg.Record]]:
    """Per source: raw item counts, complaint counts, and the backfill runs."""
    raw = await conn.fetch(q("migration_raw_counts"), recent_days)
    comp = await conn.fetch(q("migration_complaint_counts"))
    runs = await conn.fetch(q("list_backfill_runs"))
    return list(raw), list(comp), list(runs)
