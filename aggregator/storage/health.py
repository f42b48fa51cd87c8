"""SQL of health and incidents: component outcomes as they happen, and the incident rows."""

from __future__ import annotations

import datetime as dt
from typing import Any

import asyncpg

from aggregator.redact import redact_text
from aggregator.storage.sqlfiles import q


def _dict(row: asyncpg.Record | None) -> dict[str, Any] | None:
    return dict(row) if row is not None else None


async def register_component(
    conn: asyncpg.Connection,
    component: str,
    kind: str,
    name: str,
    expected_interval_s: float | None,
) -> None:
    await conn.execute(q("register_component"), component, kind, name, expected_interval_s)


async def record_success(
    conn: asyncpg.Connection, component: str, kind: str, name: str, at: dt.datetime, items: int = 0
) -> None:
    await conn.execute(q("record_component_success"), component, kind, name, at, items)


async def record_failure(
    conn: asyncpg.Connection,
    component: str,
    kind: str,
    name: str,
    at: dt.datetime,
    error: str,
    *,
    needs_human: bool = False,
) -> None:
    """``error`` is stored without the personal data it may quote (a gateway's refusal often
    names the number): the row is shown on the public ``/readyz`` and lasts."""
    await conn.execute(
        q("record_component_failure"),
        component,
        kind,
        name,
        at,
        needs_human,
        redact_text(error)[:1000],
    )


async def list_components(conn: asyncpg.Connection) -> list[dict[str, Any]]:
    return [dict(r) for r in await conn.fetch(q("list_components"))]


async def try_lock_evaluation(conn: asyncpg.Connection) -> bool:
    """Inside a transaction: True when this process may evaluate incidents now."""
    return bool(await conn.fetchval(q("lock_incident_evaluation")))


async def active_incidents(conn: asyncpg.Connection) -> list[dict[str, Any]]:
    return [dict(r) for r in await conn.fetch(q("list_active_incidents"))]


async def open_incidents(conn: asyncpg.Connection) -> list[dict[str, Any]]:
    return [dict(r) for r in await conn.fetch(q("list_open_incidents"))]


async def recent_incidents(conn: asyncpg.Connection, limit: int = 50) -> list[dict[str, Any]]:
    return [dict(r) for r in await conn.fetch(q("list_recent_incidents"), limit)]


async def insert_pending(
    conn: asyncpg.Connection,
    kind: str,
    subject: str,
    summary: str,
    detail: dict[str, Any],
    at: dt.datetime,
) -> dict[str, Any] | None:
    return _dict(
        await conn.fetchrow(q("insert_pending_incident"), kind, subject, summary, detail, at)
    )


async def touch(
    conn: asyncpg.Connection,
    incident_id: int,
    at: dt.datetime,
    summary: str,
    detail: dict[str, Any],
) -> dict[str, Any] | None:
    return _dict(await conn.fetchrow(q("touch_incident"), incident_id, at, summary, detail))


async def open_(
    conn: asyncpg.Connection, incident_id: int, at: dt.datetime
) -> dict[str, Any] | None:
    return _dict(await conn.fetchrow(q("open_incident"), incident_id, at))


async def delete_pending(conn: asyncpg.Connection, incident_id: int) -> None:
    await conn.execute(q("delete_pending_incident"), incident_id)


async def clearing(
    conn: asyncpg.Connection, incident_id: int, at: dt.datetime
) -> dict[str, Any] | None:
    return _dict(await conn.fetchrow(q("clearing_incident"), incident_id, at))


async def resolve(
    conn: asyncpg.Connection, incident_id: int, at: dt.datetime
) -> dict[str, Any] | None:
    return _dict(await conn.fetchrow(q("resolve_incident"), incident_id, at))


async def mark_notified(
    conn: asyncpg.Connection, incident_id: int, told: dict[str, str], attempt: int
) -> None:
    await conn.execute(q("mark_incident_notified"), incident_id, told, attempt)


async def unnotified(
    conn: asyncpg.Connection, contact: str, resolved_since: dt.datetime, max_attempts: int
) -> list[dict[str, Any]]:
    rows = await conn.fetch(q("list_unnotified_incidents"), contact, resolved_since, max_attempts)
    return [dict(r) for r in rows]


async def source_volume(
    conn: asyncpg.Connection,
    sources: list[str],
    span_start: dt.datetime,
    baseline_start: dt.datetime,
) -> dict[str, tuple[int, int]]:
    rows = await conn.fetch(q("source_volume"), span_start, baseline_start, sources)
    return {r["source"]: (int(r["baseline"]), int(r["recent"])) for r in rows}


async def dead_jobs(conn: asyncpg.Connection) -> int:
    return int(await conn.fetchval(q("count_dead_jobs")))


async def backlog(conn: asyncpg.Connection) -> int:
    return int(await conn.fetchval(q("count_backlog")))


async def delivery_outcomes(conn: asyncpg.Connection, since: dt.datetime) -> tuple[int, int]:
    row = await conn.fetchrow(q("delivery_outcomes_since"), since)
    return int(row["sent"]), int(row["failed"])


async def recent_breaches(conn: asyncpg.Connection, since: dt.datetime) -> tuple[int, int]:
    row = await conn.fetchrow(q("count_open_breaches"), since)
    return int(row["breaches"]), int(row["complaints"])
