"""Incidents from real outcomes: LAPOR! unreachable (a stopped sandbox), failing and silent
sources, dead jobs; opened once, told once (webhook, SMTP), damped, resolved when clear."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import email
import json
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from aiosmtpd.controller import Controller

from aggregator.errors import AuthError, TransientError
from aggregator.health.incidents import IncidentLoop
from aggregator.health.overview import health_overview
from aggregator.intake.loop import IngestLoop
from aggregator.lapor import build_port
from aggregator.lapor.feed import UpdatesLoop
from aggregator.web.app import make_app
from schemas.config import AlertsConfig, Settings, SourceConfig
from tests.core.helpers import JsonLinesSource, make_services
from tests.health.helpers import Clock, Webhook, eventually
from tests.lapor.helpers import lapor_config, start_sandbox
from tests.support.ports import free_port


def settings(**kw: Any) -> Settings:
    alerts = kw.pop("alerts", {})
    return Settings(
        demo=True, alerts=AlertsConfig(**{"open_after_s": 0, "close_after_s": 0, **alerts}), **kw
    )


async def overview(services) -> dict[str, Any]:
    async with services.pool.acquire() as conn:
        return await health_overview(conn, services.settings, services.clock())


def by_component(ov: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["component"]: c for c in ov["components"]}


async def test_lapor_unreachable_opens_one_incident_tells_the_webhook_once_and_resolves(pool, http):
    sb = await start_sandbox(rate_limit=False)
    port = int(sb.root.rsplit(":", 1)[1])
    await sb.stop()  # LAPOR! is down from the start
    hook = await Webhook().start()
    try:
        cfg = settings(
            lapor=lapor_config(sb.base_url, breaker_failures=2, breaker_reset_s=0.2),
            alerts={
                "failures_to_fail": 2,
                "webhook_url": hook.url,
                "unready_after_s": 0,
                "feed_stale_s": 1,
            },
        )
        services = make_services(pool, http, cfg)
        before = by_component(await overview(services))
        assert before["lapor"]["state"] == "unknown"  # never "ok" before first contact
        assert before["feed"]["state"] == "unknown"

        feed = UpdatesLoop(services, build_port(services))
        for _ in range(3):  # two refused connections open the breaker; the third is refused
            with pytest.raises(TransientError):
                await feed.run_once()

        async def link_failing() -> bool:
            return by_component(await overview(services))["lapor"]["state"] == "failing"

        await eventually(link_failing)
        loop = IncidentLoop(services)
        await loop.run_once()
        # One outage, one incident: the feed is not "stale" before feed_stale_s has passed.
        assert [i["kind"] for i in (await overview(services))["incidents"]] == ["lapor_unreachable"]
        await asyncio.sleep(1.1)
        await loop.run_once()
        ov = await overview(services)
        kinds = sorted(i["kind"] for i in ov["incidents"])
        assert kinds == ["feed_stale", "lapor_unreachable"]
        assert by_component(ov)["lapor"]["breaker"] == "open"
        assert sorted(h["incident"]["kind"] for h in hook.received) == kinds
        assert all(h["event"] == "opened" and "LAPOR!" in h["text"] for h in hook.received)

        await loop.run_once()
        await loop.run_once()
        assert len(hook.received) == 2  # opened once, told once

        async with TestClient(TestServer(make_app(services))) as client:
            resp = await client.get("/readyz")
            body = await resp.json()
            assert resp.status == 503 and "LAPOR! unreachable" in body["reason"]
            assert sorted(i["kind"] for i in body["incidents"]) == kinds
            text = await (await client.get("/metrics")).text()
            assert 'satukanal_incidents_open{kind="lapor_unreachable"} 1.0' in text
            assert "satukanal_lapor_breaker_open 1.0" in text

            back = await start_sandbox(port=port, rate_limit=False)
            try:
                await asyncio.sleep(0.25)  # the breaker lets a trial call through
                await feed.run_once()
                await eventually(lambda: _not(link_failing))
                await loop.run_once()
                assert (await overview(services))["incidents"] == []
                assert (
                    sorted(h["incident"]["kind"] for h in hook.received if h["event"] == "resolved")
                    == kinds
                )
                resp = await client.get("/readyz")
                assert resp.status == 200, await resp.text()
            finally:
                await back.stop()
    finally:
        await hook.stop()


async def _not(check) -> bool:
    return not await check()


async def test_flapping_condition_is_damped_and_opens_once(pool):
    clock = Clock()
    services = dataclasses.replace(
        make_services(pool, None, settings(alerts={"open_after_s": 60, "close_after_s": 120})),
        clock=clock,
    )
    loop = IncidentLoop(services)
    async with pool.acquire() as conn:
        job = await conn.fetchval(
            "INSERT INTO jobs (kind, state) VALUES ('push', 'dead') RETURNING id"
        )

    async def dead(on: bool) -> None:
        async with pool.acquire() as conn:
            await conn.execute(
                "UPDATE jobs SET state = $2::job_state WHERE id = $1", job, "dead" if on else "done"
            )

    await loop.evaluate()
    assert (await overview(services))["incidents"] == []  # pending, not open yet
    clock.advance(30)
    await dead(False)
    await loop.evaluate()  # a blip: dropped, nobody told
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM incidents") == 0
    await dead(True)
    await loop.evaluate()
    clock.advance(61)
    ev = await loop.evaluate()
    assert [i["kind"] for i in ev.opened] == ["dead_jobs"]
    first = ev.opened[0]["id"]
    await dead(False)
    clock.advance(10)
    await loop.evaluate()  # clearing, still open
    await dead(True)
    clock.advance(30)
    ev = await loop.evaluate()  # back before the close delay: the same incident, not a new one
    assert ev.opened == [] and ev.resolved == []
    await dead(False)
    clock.advance(10)
    await loop.evaluate()
    clock.advance(119)
    assert (await loop.evaluate()).resolved == []
    clock.advance(2)
    ev = await loop.evaluate()
    assert [i["id"] for i in ev.resolved] == [first]
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM incidents") == 1


class Inbox:
    def __init__(self) -> None:
        self.messages: list[email.message.Message] = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(email.message_from_bytes(envelope.content))
        return "250 OK"


async def test_admins_get_one_email_per_opening_over_smtp(pool):
    inbox = Inbox()
    port = free_port()
    smtp = Controller(inbox, hostname="127.0.0.1", port=port)
    smtp.start()
    try:
        cfg = settings(
            alerts={
                "email_to": ["admin@pemkot.example"],
                "smtp_host": "127.0.0.1",
                "smtp_port": port,
                "smtp_tls": "none",
                "email_from": "satukanal@pemkot.example",
                "notify_resolved": False,
            }
        )
        services = make_services(pool, None, cfg)
        async with pool.acquire() as conn:
            await conn.execute(
                "INSERT INTO jobs (kind, state, last_error) VALUES ('push', 'dead', 'HTTP 422')"
            )
        loop = IncidentLoop(services)
        await loop.run_once()
        await loop.run_once()
        assert len(inbox.messages) == 1
        msg = inbox.messages[0]
        assert msg["To"] == "admin@pemkot.example"
        assert "Pekerjaan mati" in msg["Subject"]
        body = msg.get_payload(decode=True).decode()
        assert "1 pekerjaan mati" in body and "WIB" in body
        async with pool.acquire() as conn:
            await conn.execute("UPDATE jobs SET state = 'done'")
        await loop.run_once()
        assert len(inbox.messages) == 1  # notify_resolved = false
    finally:
        smtp.stop()


def source_cfg(name: str) -> SourceConfig:
    return SourceConfig(name=name, kind="jsonlines", poll_s=1)


class FailingSource(JsonLinesSource):
    def __init__(self, cfg: SourceConfig, exc: Exception) -> None:
        super().__init__(cfg)
        self.exc = exc

    async def pull(self, cursor):  # type: ignore[no-untyped-def, override]
        raise self.exc
        yield  # pragma: no cover - makes this an async generator


async def test_failing_and_crashing_sources_are_failing_and_readyz_says_so(pool):
    cfg = settings(
        sources=[source_cfg("email-login"), source_cfg("sms-crash"), source_cfg("form-never")],
        lapor={"adapter": "manual"},
        alerts={"failures_to_fail": 2},
    )
    services = make_services(pool, None, cfg)
    ov = by_component(await overview(services))
    assert {ov[f"source:{n}"]["state"] for n in ("email-login", "sms-crash", "form-never")} == {
        "unknown"
    }  # configured channels are listed before their first poll
    login = IngestLoop(
        services, FailingSource(source_cfg("email-login"), AuthError("IMAP login failed"))
    )
    crash = IngestLoop(services, FailingSource(source_cfg("sms-crash"), KeyError("boundary")))
    await login.run_once()
    for _ in range(2):  # an item that crashes the loop at every poll
        with pytest.raises(KeyError):
            await crash.run_once()
    ov = by_component(await overview(services))
    assert ov["source:email-login"]["state"] == "failing"
    assert "IMAP login failed" in ov["source:email-login"]["last_error"]
    assert ov["source:sms-crash"]["state"] == "failing"
    assert ov["source:form-never"]["state"] == "unknown"
    await IncidentLoop(services).run_once()
    subjects = sorted(
        i["subject"]
        for i in (await overview(services))["incidents"]
        if i["kind"] == "source_failing"
    )
    assert subjects == ["email-login", "sms-crash"]
    async with TestClient(TestServer(make_app(services))) as client:
        body = await (await client.get("/readyz")).json()
        assert body["status"] == "ready"  # one source has not failed
        assert body["degraded_sources"] == ["email-login", "sms-crash"]
        never = IngestLoop(
            services,
            FailingSource(source_cfg("form-never"), AuthError("database password refused")),
        )
        await never.run_once()
        resp = await client.get("/readyz")
        body = await resp.json()
        assert resp.status == 503 and "every source is failing" in body["reason"]


async def test_a_usually_busy_source_that_falls_silent_opens_an_incident(pool):
    cfg = settings(
        sources=[source_cfg("sms-busy"), source_cfg("sms-quiet")],
        lapor={"adapter": "manual"},
        alerts={"silent_after_h": 6, "silent_min_per_day": 5, "silent_baseline_days": 7},
    )
    services = make_services(pool, None, cfg)
    now = services.clock()
    async with pool.acquire() as conn:
        for day in range(7):
            for n in range(10):
                at = now - dt.timedelta(hours=7) - dt.timedelta(days=day, minutes=n)
                await conn.execute(
                    "INSERT INTO raw_items (source, source_ref, payload, state, ingested_at) "
                    "VALUES ('sms-busy', $1, '\\x00', 'accepted', $2)",
                    f"{day}-{n}",
                    at,
                )
        await conn.execute(
            "INSERT INTO raw_items (source, source_ref, payload, state, ingested_at) "
            "VALUES ('sms-quiet', 'a', '\\x00', 'accepted', $1)",
            now - dt.timedelta(days=2),
        )
    await IncidentLoop(services).run_once()
    incidents = (await overview(services))["incidents"]
    assert [(i["kind"], i["subject"]) for i in incidents] == [("source_silent", "sms-busy")]
    assert "10 per hari" in incidents[0]["summary"]
    assert json.loads(json.dumps(incidents[0]["detail"]))["per_day"] == 10.0


async def test_a_breaker_left_open_by_a_stopped_process_does_not_outlive_it(pool, http):
    """A daemon restarted while LAPOR! was down found the breaker's last saved state "open";
    its own breaker starts closed and only a change is saved, so once LAPOR! answered again
    the dashboard, /readyz and /metrics went on saying the link was failing. The state saved
    is this process's from its first call on."""
    import json as _json

    from aggregator.storage import lapor as lapor_repo

    sb = await start_sandbox(rate_limit=False)
    try:
        services = make_services(pool, http, settings(lapor=lapor_config(sb.base_url)))
        async with pool.acquire() as conn:
            await lapor_repo.save_state(
                conn,
                lapor_repo.BREAKER,
                _json.dumps({"state": "open", "last_error": "connection refused", "trips": 3}),
            )
        assert by_component(await overview(services))["lapor"]["state"] == "failing"
        feed = UpdatesLoop(services, build_port(services))
        await feed.run_once()  # LAPOR! answers

        async def link_ok() -> bool:
            lapor = by_component(await overview(services))["lapor"]
            return lapor["state"] == "ok" and lapor.get("breaker") == "closed"

        await eventually(link_ok)
        async with TestClient(TestServer(make_app(services))) as client:
            text = await (await client.get("/metrics")).text()
            assert "satukanal_lapor_breaker_open 0.0" in text
            body = await (await client.get("/readyz")).json()
            assert body["lapor"]["breaker"]["state"] == "closed", body
    finally:
        await sb.stop()


async def test_a_channel_that_pushes_to_us_is_ok_once_it_delivered_and_stays_ok_when_quiet(pool):
    """An SMS gateway posting to its webhook was "unknown" for ever, however many messages
    it delivered: nothing recorded a pushed channel's outcome. Its success is recorded, and
    a quiet hour does not make it "not running" (it is not polled; silence is the
    source_silent incident's to notice)."""
    from aggregator.wiring.assemble import http_routes
    from aggregator.wiring.sources import build_sources, capabilities

    secret = "s3kret-gateway-for-health"
    clock = Clock()
    cfg = settings(
        sources=[{"name": "sms-push", "kind": "sms_http", "options": {"secret": secret}}]
    )
    services = dataclasses.replace(make_services(pool, None, cfg), clock=clock)
    sources = build_sources(services.settings, services)
    async with pool.acquire() as conn:
        from aggregator.health.overview import register_components

        await register_components(conn, services.settings)
    assert by_component(await overview(services))["source:sms-push"]["state"] == "unknown"
    app = make_app(services, extra=http_routes(services, capabilities(sources)))
    async with TestClient(TestServer(app)) as client:
        resp = await client.post(
            "/intake/sms-push/webhook",
            json={"id": "m1", "sender": "081234567890", "text": "Lampu jalan mati di Jl. Melati"},
            headers={"X-Satukanal-Secret": secret},
        )
        assert resp.status == 200, await resp.text()
    sms = by_component(await overview(services))["source:sms-push"]
    assert sms["state"] == "ok" and sms["last_success_at"] is not None, sms
    clock.advance(3600)
    assert by_component(await overview(services))["source:sms-push"]["state"] == "ok"
