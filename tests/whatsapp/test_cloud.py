"""WhatsApp through the project's own Cloud API sandbox (a real HTTP server playing the
platform): signed webhooks with retries and duplicates, media that expires, the 24-hour
window, templates and status callbacks — against our real intake, database and notifier."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from aggregator.demo.whatsapp_cloud import CloudSandbox, SandboxState
from aggregator.errors import PermanentError
from aggregator.intake.sealing import open_body
from aggregator.notify.handler import make_notify_handler
from aggregator.queue import Worker
from aggregator.web.app import make_app
from aggregator.wiring.sources import build_source, sinks_of
from connectors.base import Origin, OutboundMessage
from connectors.whatsapp.cloud import WhatsAppCloudSource, message_ref
from connectors.whatsapp.samples import PHONE_NUMBER_ID, tiny_jpeg
from schemas.config import SourceConfig
from tests.support.ports import free_port
from tests.support.runtime import make_services

APP_SECRET = "app-secret-for-tests"
TOKEN = "EAAG-test-token"
VERIFY = "verify-me-please"
CITIZEN = "6281234500011"


@dataclass
class Env:
    services: Any
    src: WhatsAppCloudSource
    sandbox: CloudSandbox
    webhook: str
    http: aiohttp.ClientSession
    offset: list[float]

    async def say(self, **spec: Any) -> str:
        async with self.http.post(
            f"{self.sandbox.base_url}/_sandbox/inbound", json={"from": CITIZEN, **spec}
        ) as r:
            body = await r.json()
        assert body.get("webhook_status", 200) == 200, body
        return str(body["wamid"])

    def forward(self, hours: float) -> None:
        """Both sides' clocks move on (the sandbox's window and our sink's)."""
        self.sandbox.state.clock_offset_s += hours * 3600
        self.offset[0] += hours * 3600


@pytest.fixture
async def env(pool: Any) -> AsyncIterator[Env]:
    offset = [0.0]

    def clock() -> dt.datetime:
        return dt.datetime.now(dt.UTC) + dt.timedelta(seconds=offset[0])

    async with aiohttp.ClientSession() as http:
        services = make_services(pool, http=http, clock=clock)
        state = SandboxState(
            app_secret=APP_SECRET, access_token=TOKEN, phone_number_id=PHONE_NUMBER_ID
        )
        sandbox = CloudSandbox(state)
        sandbox_runner = await sandbox.start()
        src = build_source(
            SourceConfig(
                name="wa",
                kind="whatsapp_cloud",
                options={
                    "graph_url": sandbox.base_url,
                    "phone_number_id": PHONE_NUMBER_ID,
                    "access_token": TOKEN,
                    "app_secret": APP_SECRET,
                    "verify_token": VERIFY,
                },
            ),
            services,
        )
        port = free_port()
        app = make_app(services, extra=[("/intake/wa", src.routes())])
        runner = web.AppRunner(app)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        webhook = f"http://127.0.0.1:{port}/intake/wa/webhook"
        state.webhook_url = webhook
        try:
            yield Env(services, src, sandbox, webhook, http, offset)
        finally:
            await runner.cleanup()
            await sandbox_runner.cleanup()


async def rows(pool: Any, sql: str, *args: Any) -> list[Any]:
    async with pool.acquire() as conn:
        return list(await conn.fetch(sql, *args))


async def test_verification_handshake_and_forged_posts(env: Env, pool: Any) -> None:
    q = {"hub.mode": "subscribe", "hub.verify_token": VERIFY, "hub.challenge": "1158201444"}
    async with env.http.get(env.webhook, params=q) as r:
        assert r.status == 200 and await r.text() == "1158201444"
    async with env.http.get(env.webhook, params={**q, "hub.verify_token": "guess"}) as r:
        assert r.status == 403
    body = json.dumps(
        {
            "object": "whatsapp_business_account",
            "entry": [
                {
                    "changes": [
                        {
                            "field": "messages",
                            "value": {
                                "messages": [
                                    {
                                        "from": CITIZEN,
                                        "id": "wamid.forged",
                                        "timestamp": "1764720000",
                                        "type": "text",
                                        "text": {"body": "SUDAH"},
                                    }
                                ]
                            },
                        }
                    ]
                }
            ],
        }
    ).encode()
    for headers in (
        {},
        {"X-Hub-Signature-256": "sha256=" + "0" * 64},
        {"X-Hub-Signature-256": env.sandbox.sign(body + b" ")},
    ):
        async with env.http.post(env.webhook, data=body, headers=headers) as r:
            assert r.status == 401
    assert await rows(pool, "SELECT 1 FROM raw_items") == []
    # Signed right but not a webhook: refused, nothing stored.
    junk = b'{"object": "page"}'
    async with env.http.post(
        env.webhook, data=junk, headers={"X-Hub-Signature-256": env.sandbox.sign(junk)}
    ) as r:
        assert r.status == 400
    assert await rows(pool, "SELECT 1 FROM raw_items") == []


async def test_a_message_delivered_twice_is_one_complaint(env: Env, pool: Any) -> None:
    env.sandbox.state.faults.duplicate_rate = 1.0  # every delivery made twice
    wamid = await env.say(
        text="Lampu jalan di Jl. G. Obos XII mati sdh 2 minggu, gelap bgt",
        name="Rina Wulandari",
        user_id="ID.1234567890",
    )
    await env.say(
        text="Lampu jalan di Jl. G. Obos XII mati sdh 2 minggu, gelap bgt", wamid=wamid
    )  # the platform re-delivering days later
    raw = await rows(pool, "SELECT source_ref, state::text FROM raw_items")
    # A wamid is base64 of the citizen's number (and a message id): kept only as a digest.
    assert CITIZEN.encode() in base64.b64decode(wamid.removeprefix("wamid."))
    assert [r["source_ref"] for r in raw] == [message_ref(wamid)]
    assert wamid not in raw[0]["source_ref"]
    assert env.sandbox.state.deliveries >= 3
    c = await rows(pool, "SELECT channel, content, origin, reporter_id FROM complaints")
    assert len(c) == 1 and c[0]["channel"] == "whatsapp" and "Obos" in c[0]["content"]
    origin = c[0]["origin"]
    # The business-scoped user id only as a keyed hash; the number only encrypted.
    assert origin["wa_user"] and "1234567890" not in json.dumps(origin)
    assert wamid not in json.dumps(origin) and origin["message_ref"] == message_ref(wamid)
    rep = await rows(pool, "SELECT phone_enc, name_enc, phone_hash FROM reporters")
    assert rep[0]["phone_hash"] is not None
    assert CITIZEN.encode() not in bytes(rep[0]["phone_enc"])
    name = env.services.crypto.decrypt("name", rep[0]["name_enc"])
    assert name == "Rina Wulandari"


async def test_photo_location_and_expired_media(env: Env, pool: Any) -> None:
    photo = base64.b64encode(tiny_jpeg()).decode()
    await env.say(
        image=photo,
        mime_type="image/jpeg",
        text="ANONIM sampah menumpuk di TPS Pasar Kahayan, bau sekali",
    )
    await env.say(
        **{"from": "6281234500022"},
        location={
            "latitude": -2.2136,
            "longitude": 113.9108,
            "name": "Simpang Bundaran Besar",
            "address": "Jl. Yos Sudarso",
        },
    )
    env.sandbox.state.faults.media_ttl_s = -1  # the URL has expired before we fetch it
    await env.say(
        **{"from": "6281234500033"},
        image=photo,
        mime_type="image/jpeg",
        text="Jalan berlubang besar di depan SDN 4 Menteng",
    )
    c = await rows(
        pool, "SELECT content, anonymous, location, flags, id FROM complaints ORDER BY received_at"
    )
    assert len(c) == 3
    assert c[0]["anonymous"] and c[0]["content"].startswith("sampah menumpuk")
    files = await rows(
        pool, "SELECT filename FROM complaint_attachments WHERE complaint_id=$1", c[0]["id"]
    )
    # An anonymous reporter's files carry no name of theirs, not even ours.
    assert [f["filename"] for f in files] == ["lampiran-1.jpg"]
    loc = c[1]["location"]
    assert abs(loc["lat"] + 2.2136) < 1e-6 and "Bundaran" in loc["address"]
    # The complaint is kept; that its photo could not be fetched is noted.
    assert "Jalan berlubang" in c[2]["content"] and "media_missing" in c[2]["flags"]


def _msg(nid: str, kind: str, text: str = "Laporan Anda sudah kami terima.") -> OutboundMessage:
    return OutboundMessage(
        notification_id=nid,
        kind=kind,
        text=text,
        tracking_id="1916452",
        link="https://lapor.example/status/1916452",
    )


async def test_answers_keep_to_the_window_and_the_templates(env: Env) -> None:
    await env.say(text="Parkir liar di trotoar Jl. Ahmad Yani setiap sore")
    sink = env.src.sink()
    origin = Origin("wa", "whatsapp", "+" + CITIZEN)
    # Inside the window: free text, and the solved question as SUDAH/BELUM buttons.
    await sink.send(origin, _msg("n-1", "ack"))
    await sink.send(origin, _msg("n-2", "solved_question", "Apakah masalah sudah selesai?"))
    env.forward(25)  # a day later, the agency answers
    long = "Kami sudah menertibkan 12 kendaraan.\n\nPetugas   Dishub  berjaga " + "x " * 600
    await sink.send(origin, _msg("n-3", "response", long))
    await sink.send(origin, _msg("n-4", "solved_question"))
    with pytest.raises(PermanentError, match="24-hour window"):
        await sink.send(origin, _msg("n-5", "usage"))  # refused here, never sent upstream
    out = env.sandbox.state.outbox
    assert [m["type"] for m in out] == ["text", "interactive", "template", "template"]
    assert [b["reply"]["id"] for b in out[1]["interactive"]["action"]["buttons"]] == [
        "SUDAH",
        "BELUM",
    ]
    response = out[2]["template"]
    assert response["name"] == "satukanal_tanggapan" and response["language"]["code"] == "id"
    params = [p["text"] for p in response["components"][0]["parameters"]]
    assert params[0] == "1916452" and params[2] == "https://lapor.example/status/1916452"
    assert "\n" not in params[1] and len(params[1]) <= 600 and params[1].endswith("…")
    buttons = [c for c in out[3]["template"]["components"] if c["type"] == "button"]
    assert [b["parameters"][0]["payload"] for b in buttons] == ["SUDAH", "BELUM"]
    assert all(m["biz_opaque_callback_data"].startswith("n-") for m in out)


async def test_an_unapproved_template_fails_permanently(env: Env) -> None:
    env.sandbox.state.templates.pop("satukanal_status")
    with pytest.raises(PermanentError, match="132001"):
        await env.src.sink().send(Origin("wa", "whatsapp", "+" + CITIZEN), _msg("n-9", "status"))


async def test_usage_answer_is_delivered_and_status_callbacks_recorded(env: Env, pool: Any) -> None:
    env.sandbox.state.faults.reorder_statuses = True  # "read" before "delivered"
    await env.say(text="   ")  # an empty message: answered with how to use the channel
    sinks = sinks_of({env.src.name: env.src})
    worker = Worker(env.services.queue, {"notify": make_notify_handler(env.services, sinks)})
    assert await worker.run_once() == 1
    n = await rows(pool, "SELECT id, state::text, external_id, body, body_enc FROM notifications")
    body = open_body(env.services.crypto, n[0])  # kept encrypted, like every text sent
    sent = env.sandbox.state.outbox[0]["id"]  # Meta's id of our answer names the citizen too
    assert CITIZEN.encode() in base64.b64decode(sent.removeprefix("wamid."))
    assert n[0]["external_id"] == message_ref(sent) and "ANONIM" in (body or "")
    assert n[0]["body"] is None
    async with asyncio.timeout(10):
        await env.sandbox.idle()
    n = await rows(pool, "SELECT state::text, delivered_at FROM notifications")
    assert n[0]["state"] == "delivered" and n[0]["delivered_at"] is not None


async def test_a_failed_delivery_is_recorded_with_the_platform_code(env: Env, pool: Any) -> None:
    env.sandbox.state.faults.fail_numbers.add(CITIZEN)
    await env.say(text="")
    sinks = sinks_of({env.src.name: env.src})
    worker = Worker(env.services.queue, {"notify": make_notify_handler(env.services, sinks)})
    assert await worker.run_once() == 1
    async with asyncio.timeout(10):
        await env.sandbox.idle()
    n = await rows(pool, "SELECT state::text, detail FROM notifications")
    assert n[0]["state"] == "failed" and "131026" in n[0]["detail"]


async def test_sudah_button_is_the_reporters_answer(env: Env, pool: Any) -> None:
    await env.say(text="Air PDAM tidak mengalir 3 hari di Jl. Rajawali RT 02")
    await env.say(button="SUDAH", text="Sudah selesai")
    replies = await rows(pool, "SELECT channel, resolved FROM reporter_replies")
    assert [(r["channel"], r["resolved"]) for r in replies] == [("whatsapp", True)]
    assert len(await rows(pool, "SELECT 1 FROM complaints")) == 1


async def test_a_burst_of_messages_is_one_complaint(env: Env, pool: Any) -> None:
    # Citizens write on WhatsApp as they speak: several short messages in a row.
    await env.say(text="Pak, lampu jalan di gang Mawar mati")
    await env.say(text="sdh seminggu, gelap bgt kalau malam")
    c = await rows(pool, "SELECT content FROM complaints")
    assert len(c) == 1
    assert "gang Mawar" in c[0]["content"] and "sdh seminggu" in c[0]["content"]


@pytest.mark.parametrize("key", ["app_secret", "verify_token"])
@pytest.mark.parametrize("value", ["", "   "])
def test_an_empty_app_secret_or_verify_token_is_refused(key: str, value: str) -> None:
    """With an empty app secret anyone signs a webhook (HMAC with an empty key) and writes
    as any citizen's number; with an empty verify token anyone subscribes the webhook. The
    options refuse both rather than run open."""
    from connectors.base.options import OptionsError, load_options
    from connectors.whatsapp.cloud import signature_ok
    from connectors.whatsapp.options import WhatsAppCloudOptions

    forged = b'{"object": "whatsapp_business_account", "entry": []}'
    digest = hmac.new(b"", forged, hashlib.sha256).hexdigest()
    assert signature_ok(b"", forged, f"sha256={digest}")  # why an empty secret is open
    options = {
        "phone_number_id": PHONE_NUMBER_ID,
        "access_token": TOKEN,
        "app_secret": APP_SECRET,
        "verify_token": VERIFY,
        key: value,
    }
    with pytest.raises(OptionsError) as err:
        load_options(WhatsAppCloudOptions, "wa", options)
    assert key in str(err.value)
