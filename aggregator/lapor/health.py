"""LAPOR! health that other processes can read: the breaker's state kept in ``lapor_state``
and every call's outcome in ``component_health`` (component ``lapor``)."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import time
from collections.abc import Callable
from typing import Any

import asyncpg
import structlog

from aggregator.health import record
from aggregator.lapor.breaker import CircuitBreaker
from aggregator.storage import lapor as repo

log = structlog.get_logger(__name__)


def record_breaker(breaker: CircuitBreaker, pool: asyncpg.Pool) -> None:
    """Write the breaker's state to the database whenever it changes, and once at this
    process's first call: a state saved by a process since stopped (an "open" from before
    a restart) must not outlive it, and a breaker that never changes would never be saved.
    Writes are serialised and each saves the state as it is when written, so the last
    write is the current state."""
    tasks: set[asyncio.Task[None]] = set()
    lock = asyncio.Lock()
    first = [True]

    async def write() -> None:
        async with lock:
            try:
                async with pool.acquire() as conn:
                    await repo.save_state(conn, repo.BREAKER, json.dumps(breaker.snapshot()))
            except (OSError, asyncpg.PostgresError) as exc:
                log.warning("lapor_breaker_state_not_saved", error=repr(exc))

    def schedule() -> None:
        try:
            task = asyncio.get_running_loop().create_task(write())
        except RuntimeError:
            return
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    def on_change(_b: CircuitBreaker) -> None:
        schedule()

    def on_outcome(_ok: bool, _error: str | None) -> None:
        if first[0]:
            first[0] = False
            schedule()

    breaker.listeners.append(on_change)
    breaker.outcome_listeners.append(on_outcome)


def record_link_outcomes(
    breaker: CircuitBreaker,
    pool: asyncpg.Pool,
    clock: Callable[[], dt.datetime],
    *,
    every_s: float = 10.0,
) -> None:
    """Record the LAPOR! link's outcomes: every failure, and a success when it follows a
    failure or the last recorded one is ``every_s`` old (a busy push loop makes hundreds of
    calls a second; the row need not change for each)."""
    tasks: set[asyncio.Task[None]] = set()
    last: dict[str, Any] = {"ok": None, "at": 0.0}

    def listener(ok: bool, error: str | None) -> None:
        now = time.monotonic()
        if ok and last["ok"] is True and now - last["at"] < every_s:
            return
        last["ok"], last["at"] = ok, now
        coro = (
            record.succeeded(pool, "lapor", None, clock())
            if ok
            else record.failed(pool, "lapor", None, clock(), error or "failed")
        )
        try:
            task = asyncio.get_running_loop().create_task(coro)
        except RuntimeError:
            coro.close()
            return
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    breaker.outcome_listeners.append(listener)


async def lapor_health(conn: asyncpg.Connection) -> dict[str, Any]:
    """For ``satukanal status``: the breaker as last recorded, and the feed's position."""
    raw = await repo.get_state(conn, repo.BREAKER)
    # Never contacted: unknown, not "closed" (which would read as "link ok").
    breaker = json.loads(raw) if raw else {"state": "unknown"}
    at = await repo.state_updated_at(conn, repo.FEED)
    return {"breaker": breaker, "feed_read_at": at.isoformat() if at else None}
