"""The updates feed and the webhook: every event stored once, applied once, never backwards."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import asyncpg
import pytest
from aiohttp import web

from aggregator.lapor.feed import UpdatesLoop, webhook_handler
from aggregator.lapor.http import HttpLaporAdapter
from aggregator.wiring.services import Services
from tests.lapor.helpers import (
    RunningSandbox,
    admin,
    insert_complaint,
    lapor_config,
    make_services,
    start_sandbox,
)
from tests.support.ports import free_port
from tests.support.workers import push_worker


@pytest.fixture
async def services(
    pool: asyncpg.Pool, sandbox: RunningSandbox, http: aiohttp.ClientSession
) -> AsyncIterator[Services]:
    yield make_services(pool, http, lapor_config(sandbox.base_url, updates_page=50))


def port_of(services: Services) -> HttpLaporAdapter:
    return HttpLaporAdapter(services.settings.lapor, services.http)


async def pushed(services: Services, n: int) -> list[uuid.UUID]:
    cids = [await insert_complaint(services) for _ in range(n)]
    await push_worker(services, port_of(services)).run_once()
    return cids


async def snapshot(pool: asyncpg.Pool) -> dict[str, Any]:
    async with pool.acquire() as conn:
        return {
            "statuses": {
                r["lapor_tracking_id"]: r["status"]
                for r in await conn.fetch("SELECT lapor_tracking_id, status::text FROM complaints")
            },
            "events": await conn.fetch("SELECT event_id, applied, note FROM lapor_events"),
            "timeline": [
                r["e"]
                for r in await conn.fetch(
                    "SELECT data->>'event_id' AS e FROM events WHERE data ? 'event_id'"
                )
            ],
            "followups": await conn.fetch("SELECT event_id, label::text, kind FROM followups"),
            "notify": [
                r["dedup_key"]
                for r in await conn.fetch("SELECT dedup_key FROM jobs WHERE kind = 'notify'")
            ],
        }


def sandbox_statuses(sandbox: RunningSandbox) -> dict[str, str]:
    return {t: r["status"] for t, r in sandbox.sb.state["reports"].items()}


async def test_feed_is_applied_once_and_cursor_kept(
    services: Services, pool: asyncpg.Pool, sandbox: RunningSandbox, http: aiohttp.ClientSession
) -> None:
    await pushed(services, 30)
    await admin(http, sandbox.root, "POST", "/_sandbox/advance", {"all": True})
    loop = UpdatesLoop(services, port_of(services))
    applied = await loop.run_once()
    total = len(sandbox.sb.state["events"])
    assert applied == total
    assert await loop.run_once() == 0  # the cursor was saved with the events
    snap = await snapshot(pool)
    assert snap["statuses"] == sandbox_statuses(sandbox)
    assert all(e["applied"] for e in snap["events"]) and len(snap["events"]) == total
    timeline = snap["timeline"]
    assert len(timeline) == len(set(timeline))
    responses = [e for e in sandbox.sb.state["events"] if e["type"] == "response_posted"]
    labels = {f["event_id"]: f["label"] for f in snap["followups"] if f["kind"] == "response"}
    assert set(labels) == {e["event_id"] for e in responses}
    for e in responses:
        if e["attachments"]:
            assert labels[e["event_id"]] == "substantive_with_evidence", e["text"]
        elif "akan kami tindaklanjuti" in e["text"]:
            assert labels[e["event_id"]] == "acknowledgement", e["text"]
    # citizens hear about what matters, once per event
    notify = snap["notify"]
    assert len(notify) == len(set(notify))
    for e in sandbox.sb.state["events"]:
        key = f"notify:{e['event_id']}"
        if e["type"] in ("response_posted", "info_requested", "deleted"):
            assert key in notify
        if e["type"] in ("rated", "reporter_replied", "reclassified", "disposed"):
            assert key not in notify


async def test_duplicated_and_reordered_events(
    services: Services, pool: asyncpg.Pool, sandbox: RunningSandbox, http: aiohttp.ClientSession
) -> None:
    await pushed(services, 20)
    await admin(http, sandbox.root, "POST", "/_sandbox/advance", {"all": True})
    await admin(
        http, sandbox.root, "POST", "/_sandbox/faults", {"dup_events": 0.3, "reorder_events": 1}
    )
    await UpdatesLoop(services, port_of(services)).run_once()
    snap = await snapshot(pool)
    assert snap["statuses"] == sandbox_statuses(sandbox)  # never moved backwards
    assert len(snap["events"]) == len(sandbox.sb.state["events"])
    assert any(e["note"] == "stale" for e in snap["events"])
    assert len(snap["timeline"]) == len(set(snap["timeline"]))


async def test_events_before_the_tracking_id_wait_for_the_push(
    services: Services, pool: asyncpg.Pool, sandbox: RunningSandbox, http: aiohttp.ClientSession
) -> None:
    cid = await insert_complaint(services)
    # The report exists upstream (a push whose answer was lost) and has lived a while.
    _s, made = sandbox.sb.create_report(
        "satukanal",
        "lost",
        {
            "external_ref": str(cid),
            "source_channel": "sms",
            "title": "Jalan",
            "content": "Jalan berlubang besar di depan SDN 5 Menteng.",
        },
    )
    await admin(http, sandbox.root, "POST", "/_sandbox/advance", {"all": True})
    await UpdatesLoop(services, port_of(services)).run_once()
    async with pool.acquire() as conn:
        waiting = await conn.fetchval("SELECT count(*) FROM lapor_events WHERE NOT applied")
    assert waiting == len(sandbox.sb.state["events"]) > 0
    await push_worker(services, port_of(services)).run_once()
    snap = await snapshot(pool)
    assert snap["statuses"] == {made["tracking_id"]: sandbox_statuses(sandbox)[made["tracking_id"]]}
    assert all(e["applied"] for e in snap["events"])


async def test_webhook_refuses_bad_signatures_and_applies_once(
    services: Services, pool: asyncpg.Pool, http: aiohttp.ClientSession
) -> None:
    app = web.Application()
    app.router.add_post("/lapor/webhook", webhook_handler(services, "rahasia-bersama"))
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    url = f"http://127.0.0.1:{port}/lapor/webhook"
    running = await start_sandbox(
        rate_limit=False, webhook_url=url, webhook_secret="rahasia-bersama"
    )
    try:
        services.settings.lapor.base_url = running.base_url  # type: ignore[assignment]
        await pushed(services, 5)
        await admin(http, running.root, "POST", "/_sandbox/advance", {"all": True})
        total = len(running.sb.state["events"])
        for _ in range(100):
            if not running.sb.webhook_queue:
                break
            await asyncio.sleep(0.1)
        snap = await snapshot(pool)
        assert len(snap["events"]) == total and all(e["applied"] for e in snap["events"])
        assert snap["statuses"] == {t: r["status"] for t, r in running.sb.state["reports"].items()}

        raw = json.dumps({"events": running.sb.state["events"][:3]}).encode()

        def signed(ts: int, secret: bytes = b"rahasia-bersama") -> dict[str, str]:
            sig = hmac.new(secret, str(ts).encode() + b"." + raw, hashlib.sha256).hexdigest()
            return {"X-Lapor-Timestamp": str(ts), "X-Lapor-Signature": f"sha256={sig}"}

        now = int(time.time())
        async with http.post(url, data=raw, headers=signed(now, b"salah")) as resp:
            assert resp.status == 401
        async with http.post(url, data=raw, headers=signed(now - 301)) as resp:
            assert resp.status == 401
        async with http.post(url, data=raw, headers=signed(now)) as resp:
            assert resp.status == 204  # a repeat is accepted …
        after = await snapshot(pool)
        assert len(after["timeline"]) == len(snap["timeline"])  # … and changes nothing
    finally:
        await running.stop()
        await runner.cleanup()


async def test_a_cursor_lapor_forgot_starts_over_without_duplicates(
    services: Services, pool: asyncpg.Pool, sandbox: RunningSandbox, http: aiohttp.ClientSession
) -> None:
    await pushed(services, 5)
    await admin(http, sandbox.root, "POST", "/_sandbox/advance", {"steps": 3})
    loop = UpdatesLoop(services, port_of(services))
    first = await loop.run_once()
    async with pool.acquire() as conn:
        await conn.execute("UPDATE lapor_state SET cursor = 'lama-sekali' WHERE name = 'feed'")
    await admin(http, sandbox.root, "POST", "/_sandbox/advance", {"all": True})
    second = await loop.run_once()
    assert first + second == len(sandbox.sb.state["events"])
    snap = await snapshot(pool)
    assert snap["statuses"] == sandbox_statuses(sandbox)
    assert len(snap["timeline"]) == len(set(snap["timeline"]))
