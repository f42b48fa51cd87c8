"""A local WhatsApp gateway: its flat JSON webhook (fields mapped by configuration, shared
secret or HMAC) into our real intake, media fetched from the gateway, and answers sent
through its HTTP API. The gateway is a small aiohttp server in the test, as those services
are small HTTP servers beside a phone."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from aggregator.web.app import make_app
from aggregator.wiring.sources import build_source
from connectors.base import Origin, OutboundMessage
from connectors.whatsapp.samples import tiny_jpeg
from schemas.config import SourceConfig
from tests.support.ports import free_port
from tests.support.runtime import make_services

SECRET = "gateway-shared-secret-xyz"


@dataclass
class Gateway:
    sent: list[dict[str, Any]] = field(default_factory=list)
    base: str = ""

    def app(self) -> web.Application:
        app = web.Application()

        async def send(request: web.Request) -> web.Response:
            if request.headers.get("Authorization") != "Bearer gw-token":
                return web.Response(status=401)
            self.sent.append(await request.json())
            return web.json_response({"status": True, "msgId": f"gw-{len(self.sent)}"})

        async def media(request: web.Request) -> web.Response:
            return web.Response(body=tiny_jpeg(), content_type="image/jpeg")

        app.router.add_post("/send-message", send)
        app.router.add_get("/media/{name}", media)
        return app


@pytest.fixture
async def env(pool: Any) -> AsyncIterator[tuple[Any, str, Gateway, aiohttp.ClientSession]]:
    gateway = Gateway()
    gw_runner = web.AppRunner(gateway.app())
    await gw_runner.setup()
    gw_port = free_port()
    await web.TCPSite(gw_runner, "127.0.0.1", gw_port).start()
    gateway.base = f"http://127.0.0.1:{gw_port}"
    async with aiohttp.ClientSession() as http:
        services = make_services(pool, http=http)
        src = build_source(
            SourceConfig(
                name="wa-gw",
                kind="whatsapp_gateway",
                options={
                    "secret": SECRET,
                    "fields": {
                        "sender": "sender",
                        "text": "message.text",
                        "id": "message.id",
                        "time": "timestamp",
                        "name": "pushName",
                        "media_url": "message.url",
                        "media_type": "message.mimetype",
                    },
                    "send": {
                        "url": f"{gateway.base}/send-message",
                        "token": "gw-token",
                        "to_field": "number",
                        "text_field": "message",
                        "id_field": "msgId",
                    },
                },
            ),
            services,
        )
        port = free_port()
        runner = web.AppRunner(make_app(services, extra=[("/intake/wa-gw", src.routes())]))
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        try:
            yield src, f"http://127.0.0.1:{port}/intake/wa-gw/webhook", gateway, http
        finally:
            await runner.cleanup()
            await gw_runner.cleanup()


async def test_gateway_webhook_auth_mapping_media_and_answers(env: Any, pool: Any) -> None:
    src, url, gateway, http = env
    post = {
        "sender": "6281299990001",
        "pushName": "Pak Yohanes",
        "timestamp": 1764720000,
        "message": {
            "id": "3EB0C767D26A",
            "text": "Saluran got tersumbat di Jl. Beliang",
            "url": f"{gateway.base}/media/a.jpg",
            "mimetype": "image/jpeg",
        },
    }
    raw = json.dumps(post).encode()
    async with http.post(url, data=raw) as r:
        assert r.status == 401
    async with http.post(url, data=raw, headers={"X-Satukanal-Secret": "wrong-secret"}) as r:
        assert r.status == 401
    signature = "sha256=" + hmac.new(SECRET.encode(), raw, hashlib.sha256).hexdigest()
    for headers in ({"X-Signature": signature}, {"X-Satukanal-Secret": SECRET}):
        async with http.post(url, data=raw, headers=headers) as r:
            assert r.status == 200, await r.text()
    async with http.post(
        url, json={"sender": "62812"}, headers={"X-Satukanal-Secret": SECRET}
    ) as r:
        assert r.status == 400  # no message id: said, nothing stored
    async with pool.acquire() as conn:
        raw_rows = await conn.fetch("SELECT payload FROM raw_items")
        complaints = await conn.fetch("SELECT id, channel, content FROM complaints")
        files = await conn.fetch("SELECT filename FROM complaint_attachments")
    assert len(raw_rows) == 1 and len(complaints) == 1  # the second post was the same message
    assert complaints[0]["channel"] == "whatsapp" and "Beliang" in complaints[0]["content"]
    assert [f["filename"] for f in files] == ["whatsapp_media_1.jpg"]
    assert b"/media/a.jpg" not in bytes(raw_rows[0]["payload"])  # the gateway's URL not kept
    result = await src.sink().send(
        Origin("wa-gw", "whatsapp", "+6281299990001"),
        OutboundMessage(
            notification_id="n-1", kind="solved_question", text="Apakah masalah sudah selesai?"
        ),
    )
    assert result.external_id == "gw-1"
    assert gateway.sent[0]["number"] == "6281299990001"
    assert "SUDAH" in gateway.sent[0]["message"] and gateway.sent[0]["reference"] == "n-1"
