"""LAPOR! health that other processes can read: the breaker's state kept in ``lapor_state``."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import asyncpg
import structlog

from aggregator.lapor.breaker import CircuitBreaker
from aggregator.storage import lapor as repo
from aggregator.storage.sqlfiles import q

log = structlog.get_logger(__name__)


def record_breaker(breaker: CircuitBreaker, pool: asyncpg.Pool) -> None:
    """Write the breaker's state to the database whenever it changes."""
    tasks: set[asyncio.Task[None]] = set()

    async def write(snapshot: dict[str, Any]) -> None:
        try:
            async with pool.acquire() as conn:
                await repo.save_state(conn, repo.BREAKER, json.dumps(snapshot))
        except (OSError, asyncpg.PostgresError) as exc:
            log.warning("lapor_breaker_state_not_saved", error=repr(exc))

    def listener(b: CircuitBreaker) -> None:
        try:
            task = asyncio.get_running_loop().create_task(write(b.snapshot()))
        except RuntimeError:
            return
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    breaker.listeners.append(listener)


async def lapor_health(conn: asyncpg.Connection) -> dict[str, Any]:
    """For ``satukanal status``: the breaker as last recorded, and the feed's position."""
    raw = await repo.get_state(conn, repo.BREAKER)
    breaker = json.loads(raw) if raw else {"state": "closed"}
    row = await conn.fetchrow(q("get_lapor_state"), repo.FEED)
    return {"breaker": breaker, "feed_read_at": row["updated_at"].isoformat() if row else None}
