"""A channel answering citizens records each send's outcome as the sink's health."""

from __future__ import annotations

import asyncio

import pytest

from aggregator.errors import TransientError
from aggregator.health.overview import health_overview
from aggregator.notify.handler import make_notify_handler
from aggregator.storage.db import create_pool
from schemas.complaint import Reporter
from tests.followup.helpers import Clock, RecordingSink, add_complaint, apply_events, event
from tests.followup.helpers import make_services as followup_services
from tests.followup.test_notify import T0


async def sink_state(services) -> dict:
    async with services.pool.acquire() as conn:
        ov = await health_overview(conn, services.settings, services.clock())
    return {c["component"]: c for c in ov["components"] if c["kind"] == "sink"}


async def test_a_failed_then_good_send_is_the_sinks_health(pool) -> None:
    services = followup_services(pool, Clock(T0), notify={"merge_window_s": 0.0})
    sink = RecordingSink(fail_times=1)
    await add_complaint(services, reporter=Reporter(email="w@example.org"))
    await apply_events(services, event("1916449", "status_changed", T0, status="terverifikasi"))
    handler = make_notify_handler(services, {"mail": sink})
    async with services.pool.acquire() as conn:
        (job,) = await services.queue.claim(conn, ["notify"], 10)
    assert await sink_state(services) == {}  # never used yet: not listed as ok
    with pytest.raises(TransientError):
        await handler(job)
    state = (await sink_state(services))["sink:mail"]
    assert state["state"] == "degraded" and "gateway busy" in state["last_error"]
    await handler(job)
    state = (await sink_state(services))["sink:mail"]
    assert state["state"] == "ok" and state["consecutive_failures"] == 0


async def test_a_send_is_recorded_on_the_handlers_own_connection(db_dsn) -> None:
    """The chaos test's hang: a notify job held a pool connection through its send and then
    waited for a second one to record the sink's health. With every connection held by such
    a job (eight notify slots, a pool of ten, the workers' own), none ever came: the jobs
    hung in `running` for good while the heartbeat renewed their leases. One connection is
    all a send may need."""
    pool = await create_pool(db_dsn, min_size=1, max_size=1)
    try:
        services = followup_services(pool, Clock(T0), notify={"merge_window_s": 0.0})
        sink = RecordingSink()
        await add_complaint(services, reporter=Reporter(email="w@example.org"))
        await apply_events(services, event("1916449", "status_changed", T0, status="terverifikasi"))
        handler = make_notify_handler(services, {"mail": sink})
        async with pool.acquire() as conn:
            (job,) = await services.queue.claim(conn, ["notify"], 10)
        async with asyncio.timeout(20):
            await handler(job)
        assert len(sink.sent) == 1
        assert (await sink_state(services))["sink:mail"]["state"] == "ok"
    finally:
        await pool.close()
