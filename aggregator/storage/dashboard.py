"""The dashboard's read models: counters, daily series, agency statistics, work lists.

``agencies`` arguments are the ids an agency user may see (their code and their LAPOR! id),
``None`` for the roles that see every agency.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg

from aggregator.storage.sqlfiles import q


def _rows(rows: Iterable[asyncpg.Record]) -> list[dict[str, Any]]:
    return [dict(r) for r in rows]


async def counts(conn: asyncpg.Connection, agencies: Sequence[str] | None) -> list[dict[str, Any]]:
    """Complaints now per (channel, status, funnel stage)."""
    return _rows(await conn.fetch(q("dashboard_counts"), _arr(agencies)))


async def daily(
    conn: asyncpg.Connection, agencies: Sequence[str] | None, since: dt.datetime, tz: str
) -> list[dict[str, Any]]:
    """Complaints received and pushed per local day and channel since ``since``."""
    if agencies is None:
        return _rows(await conn.fetch(q("dashboard_daily"), since, tz))
    return _rows(await conn.fetch(q("dashboard_daily_scoped"), list(agencies), since, tz))


async def quarantined_count(conn: asyncpg.Connection) -> int:
    return int(await conn.fetchval(q("dashboard_quarantined_count")))


# ---- agency names ---------------------------------------------------------------------------
async def store_agencies(conn: asyncpg.Connection, agencies: Iterable[Any]) -> int:
    n = 0
    async with conn.transaction():
        for a in agencies:
            await conn.execute(q("upsert_lapor_agency"), str(a.id), a.name, a.parent_id)
            n += 1
    return n


async def agency_names(conn: asyncpg.Connection) -> dict[str, str]:
    return {r["id"]: r["name"] for r in await conn.fetch(q("list_lapor_agencies"))}


async def agencies_fetched_at(conn: asyncpg.Connection) -> dt.datetime | None:
    at: dt.datetime | None = await conn.fetchval(q("lapor_agencies_fetched_at"))
    return at


# ---- agency statistics ----------------------------------------------------------------------
async def agency_month_source(
    conn: asyncpg.Connection, start: dt.datetime, end: dt.datetime
) -> list[AgencyMonthRow]:
    return [AgencyMonthRow(**r) for r in await conn.fetch(q("agency_monthly_source"), start, end)]


@dataclass(frozen=True, slots=True)
class AgencyMonthRow:
    """One complaint received in the month, as the agency statistics count it."""

    id: uuid.UUID
    agency_id: str  # our routing guess until LAPOR! disposes it ("" when none)
    agency_name: str | None
    received_at: dt.datetime
    status: str
    closed_without_real_followup: bool
    reopen_count: int
    breaches: int
    ever_closed: bool


async def oldest_complaint(conn: asyncpg.Connection) -> dt.datetime | None:
    at: dt.datetime | None = await conn.fetchval(q("complaint_months"))
    return at


async def replace_agency_months(
    conn: asyncpg.Connection, start: dt.date, end: dt.date, rows: Iterable[Sequence[Any]]
) -> None:
    """Months [start, end) replaced by ``rows`` (tuples in insert_agency_month's order)."""
    async with conn.transaction():
        await conn.execute(q("delete_agency_months"), start, end)
        await conn.executemany(q("insert_agency_month"), list(rows))


async def agency_monthly(
    conn: asyncpg.Connection, start: dt.date, end: dt.date, agencies: Sequence[str] | None
) -> list[dict[str, Any]]:
    return _rows(await conn.fetch(q("list_agency_monthly"), start, end, _arr(agencies)))


# ---- work lists -----------------------------------------------------------------------------
@dataclass(frozen=True)
class ComplaintFilter:
    status: str | None = None
    channel: str | None = None
    agency: str | None = None
    text: str | None = None
    tracking_id: str | None = None
    receipt_code: str | None = None
    reporter_ids: Sequence[uuid.UUID] | None = None
    cluster: uuid.UUID | None = None
    label: str | None = None
    sla: str | None = None  # open | breached | none


TEXT_HITS = 2000


async def worklist(
    conn: asyncpg.Connection,
    f: ComplaintFilter,
    agencies: Sequence[str] | None,
    *,
    after: tuple[dt.datetime, uuid.UUID] | None = None,
    limit: int = 50,
) -> list[dict[str, Any]]:
    """The complaints the filter finds, newest first. A receipt code, and words fewer than
    ``TEXT_HITS`` complaints contain, are first looked up in their index and the list is
    made of those ids; words in many complaints are tested while walking the newest."""
    at, cid = after if after else (None, None)
    text, ids = f.text, None
    async with conn.transaction():
        await conn.execute(q("dashboard_custom_plans"))
        if f.receipt_code:
            ids = [r["id"] for r in await conn.fetch(q("receipt_hits"), f.receipt_code)]
        elif text:
            hits = [r["id"] for r in await conn.fetch(q("text_hits"), text, TEXT_HITS)]
            if len(hits) < TEXT_HITS:
                ids, text = hits, None
        if ids == []:
            return []
        rows = await conn.fetch(
            q("worklist_complaints"),
            _arr(agencies),
            f.status,
            f.channel,
            f.agency,
            text,
            f.tracking_id,
            None,
            list(f.reporter_ids) if f.reporter_ids is not None else None,
            f.cluster,
            f.label,
            f.sla,
            at,
            cid,
            limit,
            ids,
        )
    return _rows(rows)


async def reporters_by_hash(
    conn: asyncpg.Connection, email_hash: bytes | None, phone_hash: bytes | None
) -> list[uuid.UUID]:
    return [r["id"] for r in await conn.fetch(q("reporters_by_hash"), email_hash, phone_hash)]


async def sla_list(
    conn: asyncpg.Connection,
    agencies: Sequence[str] | None,
    *,
    after: tuple[dt.datetime, uuid.UUID, str] | None = None,
    limit: int = 50,
) -> list[dict[str, Any]]:
    due, cid, clock = after if after else (None, None, None)
    async with conn.transaction():
        await conn.execute(q("dashboard_custom_plans"))
        rows = await conn.fetch(q("worklist_sla"), _arr(agencies), due, cid, clock, limit)
    return _rows(rows)


async def quarantine_list(
    conn: asyncpg.Connection,
    *,
    source: str | None = None,
    before_id: int | None = None,
    limit: int = 50,
) -> list[dict[str, Any]]:
    async with conn.transaction():
        await conn.execute(q("dashboard_custom_plans"))
        rows = await conn.fetch(q("worklist_quarantine"), source, before_id, limit)
    return _rows(rows)


def _arr(agencies: Sequence[str] | None) -> list[str] | None:
    return None if agencies is None else list(agencies)
