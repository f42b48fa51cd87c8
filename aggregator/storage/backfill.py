"""SQL of resumable archive imports (aggregator/intake/backfill.py) and the migration report."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import asyncpg

from aggregator.storage.sqlfiles import q


@dataclass(frozen=True, slots=True)
class BackfillRun:
    source: str
    cursor: dict[str, Any] | None
    started_at: dt.datetime
    finished_at: dt.datetime | None
    counts: dict[str, Any] | None


@dataclass(frozen=True, slots=True)
class RunStarted:
    """A new run, or the unfinished one it continues (its cursor and counts kept)."""

    cursor: dict[str, Any] | None
    counts: dict[str, Any] | None
    started_at: dt.datetime


@dataclass(frozen=True, slots=True)
class RawCounts:
    source: str
    found: int
    quarantined: int
    backfilled: int
    last_live_at: dt.datetime | None
    live_recent: int


@dataclass(frozen=True, slots=True)
class ComplaintCounts:
    source: str
    complaints: int
    pushed: int
    waiting: int
    rejected: int
    history: int
    duplicates: int
    newest_submitted_at: dt.datetime | None


@dataclass(frozen=True, slots=True)
class RunListing:
    source: str
    started_at: dt.datetime
    finished_at: dt.datetime | None
    counts: dict[str, Any] | None


async def get_run(conn: asyncpg.Connection, source: str) -> BackfillRun | None:
    row = await conn.fetchrow(q("get_backfill_run"), source)
    return BackfillRun(**row) if row is not None else None


async def start_run(conn: asyncpg.Connection, source: str, counts: dict[str, Any]) -> RunStarted:
    return RunStarted(**await conn.fetchrow(q("start_backfill_run"), source, counts))


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
) -> tuple[list[RawCounts], list[ComplaintCounts], list[RunListing]]:
    """Per source: raw item counts, complaint counts, and the backfill runs."""
    raw = await conn.fetch(q("migration_raw_counts"), recent_days)
    comp = await conn.fetch(q("migration_complaint_counts"))
    runs = await conn.fetch(q("list_backfill_runs"))
    return (
        [RawCounts(**r) for r in raw],
        [ComplaintCounts(**r) for r in comp],
        [RunListing(**r) for r in runs],
    )
