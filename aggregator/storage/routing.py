"""SQL of routing: the triage list and operators' corrections."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

import asyncpg

from aggregator.storage.events import append_event
from aggregator.storage.sqlfiles import q


@dataclass(frozen=True)
class Correction:
    complaint_id: uuid.UUID
    text: str
    channel: str
    category: str
    agency: str


@dataclass(frozen=True, slots=True)
class TriageItem:
    """A complaint the router was not sure about, for an operator."""

    id: uuid.UUID
    received_at: dt.datetime
    channel: str
    source: str
    title: str | None
    content: str
    route_category: str | None
    route_agency: str | None
    route_confidence: float | None
    route_reasons: list[str] | None
    agency_id: str | None
    lapor_tracking_id: str | None
    status: str


async def triage(conn: asyncpg.Connection, limit: int = 100) -> list[TriageItem]:
    return [TriageItem(**r) for r in await conn.fetch(q("list_triage"), limit)]


async def triage_count(conn: asyncpg.Connection) -> int:
    n: int = await conn.fetchval(q("count_triage"))
    return n


async def correct_route(
    conn: asyncpg.Connection,
    complaint_id: uuid.UUID,
    *,
    category: str,
    agency: str,
    agency_id: str | None,
    operator: str,
) -> bool:
    """Store an operator's route (inside the caller's transaction); False if no such
    complaint. The correction is kept as training data and told on the timeline."""
    row = await conn.fetchrow(q("get_route_for_update"), complaint_id)
    if row is None:
        return False
    await conn.execute(q("set_route"), complaint_id, category, agency, agency_id, operator)
    await conn.execute(
        q("insert_route_correction"),
        complaint_id,
        category,
        agency,
        row["route_category"],
        row["route_agency"],
        operator,
    )
    await append_event(
        conn,
        complaint_id,
        "route_corrected",
        {
            "category": category,
            "agency": agency,
            "previous": {"category": row["route_category"], "agency": row["route_agency"]},
            "suggested_agency_changed": row["lapor_tracking_id"] is None and agency_id is not None,
        },
        actor=operator,
    )
    return True


async def corrections(conn: asyncpg.Connection) -> list[Correction]:
    return [
        Correction(r["complaint_id"], r["text"], r["channel"], r["category"], r["agency"])
        for r in await conn.fetch(q("list_route_corrections"))
    ]
