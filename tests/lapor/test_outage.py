"""Issue 18 item 1: faults cost only what they must.

A noisy LAPOR! (one 5xx in five) never opens the breaker; one that is down opens it, and
while it is open push jobs are deferred without spending attempts, so an outage longer than
the attempts would last kills nothing, and every complaint is pushed exactly once after.
"""

from __future__ import annotations

import asyncio
import collections
import random
from collections.abc import AsyncIterator

import aiohttp
import asyncpg
import pytest

from aggregator.lapor.breaker import CircuitBreaker
from aggregator.lapor.http import HttpLaporAdapter
from aggregator.lapor.push import PushHandlers, push_concurrency
from aggregator.queue import Worker
from aggregator.wiring.services import Services
from schemas.config import LaporConfig
from tests.lapor.helpers import (
    RunningSandbox,
    admin,
    insert_complaint,
    lapor_config,
    make_services,
    start_sandbox,
)


class _Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def test_noise_keeps_the_breaker_closed_and_an_outage_opens_it() -> None:
    clock = _Clock()
    b = CircuitBreaker(
        "t-noise", failures=20, failure_rate=0.5, window_s=10, reset_s=30, clock=clock
    )
    rng = random.Random(18)
    for _ in range(5000):  # 20 requests/s for 250 s, one in five failing, streaks and all
        clock.t += 0.05
        assert b.allow()
        if rng.random() < 0.2:
            b.failure("HTTP 503")
        else:
            b.success()
    assert b.state == "closed" and b.trips == 0
    # Down: every call fails. At 20 calls/s, half the window's calls fail within 5 s or so.
    down_at = clock.t
    while b.state == "closed" and clock.t - down_at < 20:
        clock.t += 0.05
        b.allow()
        b.failure("ConnectionRefused")
    assert b.state == "open" and clock.t - down_at <= 6.0
    assert not b.allow() and b.is_open
    clock.t += 30.0
    assert b.allow()  # the one trial call
    assert not b.allow() and b.is_open  # nobody else while it runs
    b.failure("still down")
    assert b.state == "open" and b.retry_in() == pytest.approx(30.0)
    clock.t += 30.0
    assert b.allow()
    b.success()
    assert b.state == "closed" and b.allow()


def test_a_short_streak_within_a_healthy_window_does_not_trip() -> None:
    clock = _Clock()
    b = CircuitBreaker("t-streak", failures=5, failure_rate=0.5, window_s=10, clock=clock)
    for _ in range(40):
        clock.t += 0.1
        b.success()
    for _ in range(10):  # ten failures in a row, but a fifth of the window's calls
        clock.t += 0.1
        b.failure("HTTP 500")
    assert b.state == "closed"


def test_push_concurrency_is_sized_to_the_rate_limit() -> None:
    assert push_concurrency(LaporConfig(sandbox=True, rate_limit_per_s=20)) == 30
    assert push_concurrency(LaporConfig(sandbox=True, rate_limit_per_s=1)) == 4
    assert push_concurrency(LaporConfig(sandbox=True, rate_limit_per_s=500)) == 64
    assert push_concurrency(LaporConfig(sandbox=True, push_concurrency=7)) == 7


@pytest.fixture
async def services(
    pool: asyncpg.Pool, sandbox: RunningSandbox, http: aiohttp.ClientSession
) -> AsyncIterator[Services]:
    cfg = lapor_config(sandbox.base_url, breaker_failures=3, breaker_reset_s=0.3)
    # Two attempts: an outage that spent one per claim would kill every job.
    yield make_services(pool, http, cfg, max_attempts=2, backoff_base_s=0.05)


async def test_an_outage_defers_pushes_without_spending_attempts(
    services: Services, pool: asyncpg.Pool, sandbox: RunningSandbox, http: aiohttp.ClientSession
) -> None:
    cids = [await insert_complaint(services) for _ in range(12)]
    await admin(http, sandbox.root, "POST", "/_sandbox/faults", {"error5xx": 1})
    port = HttpLaporAdapter(services.settings.lapor, services.http)
    outcomes: collections.Counter[str] = collections.Counter()
    worker = Worker(
        services.queue,
        PushHandlers(services, port).handlers(),
        concurrency=4,
        on_outcome=lambda _kind, outcome: outcomes.update([outcome]),
    )
    stop = asyncio.Event()
    run = asyncio.create_task(worker.run(stop))
    await asyncio.sleep(4.0)  # a dozen reset periods: a dozen trial calls, all failing
    async with pool.acquire() as conn:
        rows = await conn.fetch(
            "SELECT state::text, attempts, last_error FROM jobs WHERE kind = 'push'"
        )
    assert port.breaker.trips >= 5  # it opened, and every trial call failed and reopened it
    assert {r["state"] for r in rows} <= {"queued", "in_doubt", "running"}, rows
    assert all(r["attempts"] <= 1 for r in rows), rows
    assert outcomes["deferred"] >= 12 and outcomes["dead"] == 0 and outcomes["done"] == 0
    assert any(r["last_error"] and r["last_error"].startswith("deferred:") for r in rows)

    await admin(http, sandbox.root, "POST", "/_sandbox/faults", {"reset": True})
    for _ in range(100):
        async with pool.acquire() as conn:
            left = await conn.fetchval(
                "SELECT count(*) FROM complaints WHERE lapor_tracking_id IS NULL"
            )
        if not left:
            break
        await asyncio.sleep(0.1)
    stop.set()
    await run
    assert port.breaker.state == "closed"
    per_ref = collections.Counter(r["external_ref"] for r in sandbox.sb.state["reports"].values())
    assert per_ref == {str(c): 1 for c in cids}
    async with pool.acquire() as conn:
        dead = await conn.fetchval("SELECT count(*) FROM jobs WHERE state = 'dead'")
    assert dead == 0


async def test_429s_defer_pushes_without_spending_attempts(
    pool: asyncpg.Pool, http: aiohttp.ClientSession
) -> None:
    # LAPOR! allows 2 requests/s; a client told it may send 1,000/s finds out by 429s. None
    # of them may cost an attempt: with two attempts each, every job would die of them.
    lapor = await start_sandbox(rate_per_s=2.0, burst=2)
    try:
        cfg = lapor_config(lapor.base_url, rate_limit_per_s=1000.0, rate_burst=2000)
        services = make_services(pool, http, cfg, max_attempts=2, backoff_base_s=0.05)
        cids = [await insert_complaint(services) for _ in range(10)]
        port = HttpLaporAdapter(services.settings.lapor, services.http)
        outcomes: collections.Counter[str] = collections.Counter()
        worker = Worker(
            services.queue,
            PushHandlers(services, port).handlers(),
            concurrency=10,
            on_outcome=lambda _kind, outcome: outcomes.update([outcome]),
        )
        stop = asyncio.Event()
        run = asyncio.create_task(worker.run(stop))
        for _ in range(600):
            async with pool.acquire() as conn:
                left = await conn.fetchval(
                    "SELECT count(*) FROM jobs WHERE kind = 'push' AND state <> 'done'"
                )
            if not left:
                break
            await asyncio.sleep(0.1)
        stop.set()
        await run
        async with pool.acquire() as conn:
            rows = await conn.fetch("SELECT state::text, attempts FROM jobs WHERE kind = 'push'")
        assert lapor.sb.stats["rate_limited"] > 0 and port.counts["http_429"] > 0
        assert outcomes["deferred"] > 0 and outcomes["dead"] == 0, outcomes
        assert {r["state"] for r in rows} == {"done"}, rows
        per_ref = collections.Counter(r["external_ref"] for r in lapor.sb.state["reports"].values())
        assert per_ref == {str(c): 1 for c in cids}
    finally:
        await lapor.stop()
