"""The queue, delivery and SLA conditions, from rows as the other parts leave them; and the
dashboard overview shows health and open incidents in Indonesian."""

from __future__ import annotations

import datetime as dt
import uuid

from aiohttp.test_utils import TestClient, TestServer

from aggregator.health.incidents import IncidentLoop
from aggregator.health.overview import health_overview
from aggregator.storage.admin import create_token
from aggregator.web.app import make_app
from schemas.config import AlertsConfig, Settings
from tests.core.helpers import make_services


def settings(**alerts) -> Settings:
    return Settings(
        demo=True,
        lapor={"adapter": "manual"},
        alerts=AlertsConfig(open_after_s=0, close_after_s=0, **alerts),
    )


async def kinds(services) -> list[str]:
    async with services.pool.acquire() as conn:
        ov = await health_overview(conn, services.settings, services.clock())
    return sorted(i["kind"] for i in ov["incidents"])


async def test_backlog_delivery_failures_and_sla_breaches_open_and_clear(pool):
    services = make_services(
        pool, None, settings(backlog_max=3, delivery_failures_min=2, delivery_failure_share=0.5)
    )
    now = services.clock()
    async with pool.acquire() as conn:
        await conn.execute("INSERT INTO jobs (kind) SELECT 'push' FROM generate_series(1, 4)")
        cid = uuid.uuid4()
        await conn.execute(
            "INSERT INTO complaints (id, source, channel, content) VALUES "
            "($1, 's', 'sms', 'isi pengaduan yang cukup panjang')",
            cid,
        )
        for n, state in enumerate(["failed", "failed", "sent"]):
            await conn.execute(
                "INSERT INTO notifications (id, complaint_id, kind, channel, source, state, "
                "sent_at) VALUES ($1, $2, 'ack', 'sms', 's', $3::notification_state, $4)",
                uuid.uuid4(),
                cid,
                state,
                now - dt.timedelta(minutes=n),
            )
        await conn.execute(
            "INSERT INTO sla_clocks (complaint_id, clock, started_at, due_at, breached_at) "
            "VALUES ($1, 'verification', $2, $3, $3)",
            cid,
            now - dt.timedelta(days=5),
            now - dt.timedelta(hours=2),
        )
    loop = IncidentLoop(services)
    await loop.run_once()
    assert await kinds(services) == ["backlog", "delivery_failures", "sla_breach"]
    async with pool.acquire() as conn:
        await conn.execute("UPDATE jobs SET state = 'done'")
        await conn.execute("UPDATE notifications SET sent_at = sent_at - interval '2 hours'")
        await conn.execute("UPDATE sla_clocks SET breached_at = breached_at - interval '2 days'")
    await loop.run_once()  # clearing
    await loop.run_once()
    assert await kinds(services) == []


async def test_dashboard_overview_lists_open_incidents_and_health_in_indonesian(pool):
    services = make_services(pool, None, settings())
    async with pool.acquire() as conn:
        await conn.execute("INSERT INTO jobs (kind, state) VALUES ('push', 'dead')")
        _, token = await create_token(conn, name="admin", role="admin", agency=None)
    await IncidentLoop(services).run_once()
    async with TestClient(TestServer(make_app(services))) as client:
        await client.post("/dasbor/masuk", data={"token": token}, allow_redirects=False)
        page = await (await client.get("/dasbor")).text()
    assert "Insiden terbuka" in page and "Pekerjaan mati" in page
    assert "1 pekerjaan mati menunggu ulangi/buang" in page


async def test_the_daemon_wiring_runs_the_incident_loop_with_the_configured_webhook(pool, http):
    from aggregator.wiring.assemble import assemble
    from tests.health.helpers import Webhook

    hook = await Webhook().start()
    try:
        cfg = Settings(
            demo=True,
            lapor={"adapter": "manual"},
            alerts=AlertsConfig(open_after_s=0, webhook_url=hook.url),
        )
        services = make_services(pool, http, cfg)
        async with pool.acquire() as conn:
            await conn.execute("INSERT INTO jobs (kind, state) VALUES ('push', 'dead')")
        async with assemble(services) as comp:
            (loop,) = [lp for lp in comp.loops if getattr(lp, "name", "") == "incidents"]
            assert await loop.run_once() >= 1
        assert [h["incident"]["kind"] for h in hook.received] == ["dead_jobs"]
    finally:
        await hook.stop()
