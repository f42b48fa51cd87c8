"""Record a component's outcome where it happens, in PostgreSQL so every process sees it.

Recording must never break the work it describes: a database hiccup here is logged and
dropped (the next outcome writes the row again).
"""

from __future__ import annotations

import datetime as dt

import asyncpg
import structlog

from aggregator.storage import health as repo

log = structlog.get_logger(__name__)


def component_id(kind: str, name: str | None = None) -> str:
    return f"{kind}:{name}" if name else kind


async def succeeded(
    pool: asyncpg.Pool, kind: str, name: str | None, at: dt.datetime, items: int = 0
) -> None:
    try:
        async with pool.acquire() as conn:
            await repo.record_success(conn, component_id(kind, name), kind, name or kind, at, items)
    except (OSError, asyncpg.PostgresError) as exc:
        log.warning("health_not_recorded", component=component_id(kind, name), error=repr(exc))


async def failed(
    pool: asyncpg.Pool,
    kind: str,
    name: str | None,
    at: dt.datetime,
    error: str,
    *,
    needs_human: bool = False,
) -> None:
    try:
        async with pool.acquire() as conn:
            await repo.record_failure(
                conn,
                component_id(kind, name),
                kind,
                name or kind,
                at,
                error,
                needs_human=needs_human,
            )
    except (OSError, asyncpg.PostgresError) as exc:
        log.warning("health_not_recorded", component=component_id(kind, name), error=repr(exc))
