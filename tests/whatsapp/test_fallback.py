"""A WhatsApp answer the platform reports failed falls back to SMS on the same number: the
Cloud API sandbox fails the message (131026, not on WhatsApp), its status webhook reaches our
intake, the notifier plans the fallback and sends it through the SMS gateway's sendsms — a
small HTTP stand-in for Kannel's, recording what it was asked to send."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from aggregator.demo.whatsapp_cloud import CloudSandbox, SandboxState
from aggregator.intake.sealing import open_body
from aggregator.notify.handler import make_notify_handler
from aggregator.queue import Worker
from aggregator.web.app import make_app
from aggregator.wiring.sources import sinks_of
from connectors.whatsapp.samples import PHONE_NUMBER_ID
from schemas.complaint import Reporter
from schemas.config import Settings, SourceConfig
from tests.followup.helpers import add_complaint
from tests.support.ports import free_port
from tests.support.runtime import make_services

CITIZEN = "6281234500077"
TOKEN, SECRET = "EAAG-fallback", "fallback-app-secret"


@pytest.fixture
async def world(pool: Any) -> AsyncIterator[dict[str, Any]]:
    sent: list[dict[str, str]] = []

    async def sendsms(request: web.Request) -> web.Response:
        sent.append(dict(request.query))
        return web.Response(status=202, text="0: Accepted for delivery")

    kannel = web.Application()
    kannel.router.add_get("/cgi-bin/sendsms", sendsms)
    kannel_runner = web.AppRunner(kannel)
    await kannel_runner.setup()
    kannel_port = free_port()
    await web.TCPSite(kannel_runner, "127.0.0.1", kannel_port).start()
    state = SandboxState(app_secret=SECRET, access_token=TOKEN, phone_number_id=PHONE_NUMBER_ID)
    state.faults.fail_numbers.add(CITIZEN)
    sandbox = CloudSandbox(state)
    sandbox_runner = await sandbox.start()
    wa = SourceConfig(
        name="wa",
        kind="whatsapp_cloud",
        options={
            "graph_url": sandbox.base_url,
            "phone_number_id": PHONE_NUMBER_ID,
            "access_token": TOKEN,
            "app_secret": SECRET,
            "verify_token": "verify-fallback",
        },
    )
    sms = SourceConfig(
        name="sms-gw",
        kind="sms_http",
        options={
            "secret": "gateway-secret",
            "kannel": {
                "sendsms_url": f"http://127.0.0.1:{kannel_port}/cgi-bin/sendsms",
                "username": "u",
                "password": "p",
            },
        },
    )
    settings = Settings.model_validate(
        {
            "demo": True,
            "sources": [wa.model_dump(), sms.model_dump()],
            "notify": {
                "merge_window_s": 0,
                "retry_backoff_s": [],
                "fallback_sources": {"sms": "sms-gw"},
            },
        }
    )
    async with aiohttp.ClientSession() as http:
        services = make_services(pool, http=http, settings=settings)
        sources = services.sources
        port = free_port()
        runner = web.AppRunner(make_app(services, extra=[("/intake/wa", sources["wa"].routes())]))
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        state.webhook_url = f"http://127.0.0.1:{port}/intake/wa/webhook"
        try:
            yield {
                "services": services,
                "sandbox": sandbox,
                "sent": sent,
                "http": http,
                "sinks": sinks_of(sources),
            }
        finally:
            await runner.cleanup()
            await sandbox_runner.cleanup()
            await kannel_runner.cleanup()


async def test_a_failed_whatsapp_answer_falls_back_to_sms(world: dict[str, Any], pool: Any) -> None:
    services, sandbox = world["services"], world["sandbox"]
    # The citizen wrote (which opens the 24-hour window), and LAPOR! gave a Tracking ID.
    async with world["http"].post(
        f"{sandbox.base_url}/_sandbox/inbound", json={"from": CITIZEN, "text": "BARU tes jendela"}
    ) as r:
        assert r.status == 200
    cid = await add_complaint(
        services,
        channel="whatsapp",
        source="wa",
        tracking_id="1916460",
        reporter=Reporter(phone="+" + CITIZEN),
    )
    async with pool.acquire() as conn:
        await services.queue.enqueue(
            conn,
            "notify",
            complaint_id=cid,
            payload={"event": "lapor_pushed"},
            dedup_key=f"notify:pushed:{cid}",
        )
    worker = Worker(services.queue, {"notify": make_notify_handler(services, world["sinks"])})
    assert await worker.run_once() >= 1  # the acknowledgement, on WhatsApp
    async with asyncio.timeout(10):
        await sandbox.idle()  # the platform's "failed" status came back to our webhook
    for _ in range(20):
        if world["sent"]:
            break
        await worker.run_once()  # the planned fallback
        await asyncio.sleep(0.2)
    async with pool.acquire() as conn:
        chain = await conn.fetch(
            "SELECT channel, state::text AS state, detail, body, body_enc, retry_of"
            " FROM notifications WHERE complaint_id = $1 ORDER BY created_at, id",
            cid,
        )
    assert [(n["channel"], n["state"]) for n in chain] == [("whatsapp", "failed"), ("sms", "sent")]
    assert "131026" in chain[0]["detail"]
    assert "1916460" in (open_body(services.crypto, chain[1]) or "")
    # Exactly one SMS, to the same number, with the Tracking ID.
    assert len(world["sent"]) == 1
    assert world["sent"][0]["to"] == "+" + CITIZEN and "1916460" in world["sent"][0]["text"]
