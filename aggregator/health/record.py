"""Record a component's outcome where it happens, in PostgreSQL so every process sees it.

Recording must never break the work it describes: a database hiccup here is logged and
dropped (the next outcome writes the row again).
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import AsyncIterator
from typing import TypeAlias

import asyncpg
import structlog

from aggregator.storage import health as repo

log = structlog.get_logger(__name__)

# Best effort: with the pool exhausted, drop the record rather than wait for a connection.
_ACQUIRE_TIMEOUT_S = 5.0
_NOT_RECORDED: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
)

Db: TypeAlias = asyncpg.Pool | asyncpg.Connection


@contextlib.asynccontextmanager
async def _connection(db: Db) -> AsyncIterator[asyncpg.Connection]:
    """The caller's own connection when it holds one — a caller that holds a connection and
    waits for a second from the same pool deadlocks once every connection is held by such a
    caller — else one from the pool, waited for at most ``_ACQUIRE_TIMEOUT_S``."""
    if isinstance(db, asyncpg.Pool):
        async with db.acquire(timeout=_ACQUIRE_TIMEOUT_S) as conn:
            yield conn
    elif db.is_in_transaction():
        async with db.transaction():  # a savepoint: a failure leaves the caller's intact
            yield db
    else:
        yield db


def component_id(kind: str, name: str | None = None) -> str:
    return f"{kind}:{name}" if name else kind


async def succeeded(db: Db, kind: str, name: str | None, at: dt.datetime, items: int = 0) -> None:
    try:
        async with _connection(db) as conn:
            await repo.record_success(conn, component_id(kind, name), kind, name or kind, at, items)
    except _NOT_RECORDED as exc:
        log.warning("health_not_recorded", component=component_id(kind, name), error=repr(exc))


async def failed(
    db: Db,
    kind: str,
    name: str | None,
    at: dt.datetime,
    error: str,
    *,
    needs_human: bool = False,
) -> None:
    try:
        async with _connection(db) as conn:
            await repo.record_failure(
                conn,
                component_id(kind, name),
                kind,
                name or kind,
                at,
                error,
                needs_human=needs_human,
            )
    except _NOT_RECORDED as exc:
        log.warning("health_not_recorded", component=component_id(kind, name), error=repr(exc))
