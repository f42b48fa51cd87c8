"""A channel answering citizens records each send's outcome as the sink's health."""

from __future__ import annotations

import pytest

from aggregator.errors import TransientError
from aggregator.health.overview import health_overview
from aggregator.notify.handler import make_notify_handler
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
