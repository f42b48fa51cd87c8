"""SMS pushed over HTTP: a real Kannel (bearerbox + smsbox) calling our get-url, generic
webhooks, and replies through Kannel's sendsms with delivery reports coming back.

Not real here: the operator's SMSC. Debian's kannel has no ``fakesmsc``; Kannel's own HTTP
SMSC driver talks to a small aiohttp app instead (see ``kannel.py``), which also plays the
operator calling the delivery-report URL.
"""

from __future__ import annotations

import base64
import dataclasses
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import quote_from_bytes, urlencode

import aiohttp
import pytest
from aiohttp import web
from pydantic import SecretStr
from yarl import URL

from aggregator.errors import AuthError, TransientError
from aggregator.intake.sealing import job_address, open_payload
from aggregator.web.app import make_app
from aggregator.wiring.sources import build_source
from connectors.base import Origin, OutboundMessage
from connectors.sms.http import SmsHttpSource
from schemas.config import SourceConfig
from tests.sms.conftest import make_services
from tests.sms.kannel import FakeSmsc, Kannel, free_port, wait_until

SECRET = "s3kret-gateway"
GET_URL = (
    "/intake/sms-kannel/kannel?secret="
    + SECRET
    + "&from=%p&to=%P&time=%T&id=%I&coding=%c&charset=%C&udh=%u&text=%b"
)


class Env:
    def __init__(
        self,
        services: Any,
        src: SmsHttpSource,
        base: str,
        kannel: Kannel,
        smsc: FakeSmsc,
        http: aiohttp.ClientSession,
    ) -> None:
        self.services, self.src, self.base, self.kannel, self.smsc, self.http = (
            services,
            src,
            base,
            kannel,
            smsc,
            http,
        )

    async def mo(self, sender: str, text: str | bytes, **extra: str | bytes) -> None:
        """A phone's SMS entering Kannel from the (fake) operator SMSC; ``bytes`` are sent
        as they are (UCS-2 with coding=2), percent-encoded byte by byte."""
        params = {
            "username": "upstream",
            "password": "upstream-pw",
            "from": sender,
            "to": "1708",
            **extra,
        }
        raw = text if isinstance(text, bytes) else text.encode()
        query = urlencode(params) + "&text=" + quote_from_bytes(raw, safe="")
        url = URL(f"http://127.0.0.1:{self.kannel.mo_port}/?{query}", encoded=True)
        async with self.http.get(url) as r:
            assert r.status == 202, await r.text()


@pytest.fixture
async def env(pool: Any) -> AsyncIterator[Env]:
    async with aiohttp.ClientSession() as http:
        services = make_services(pool, http=http)
        port = free_port()
        smsc = FakeSmsc()
        await smsc.start()
        root = Path(tempfile.mkdtemp(prefix="satukanal-kannel-"))
        kannel = Kannel(root, smsc, f"http://127.0.0.1:{port}{GET_URL}")
        src = build_source(
            SourceConfig(
                name="sms-kannel",
                kind="sms_http",
                options={
                    "secret": SECRET,
                    "timezone": "UTC",
                    "basic_auth": {"username": "provider", "password": "pw-provider"},
                    "kannel": {
                        "sendsms_url": kannel.sendsms_url,
                        "username": kannel.username,
                        "password": kannel.password,
                        "dlr_url": f"http://127.0.0.1:{port}/intake/sms-kannel/dlr",
                        "dlr_secret": SECRET,
                    },
                },
            ),
            services,
        )
        app = make_app(services, extra=[("/intake/sms-kannel", src.routes())])
        runner = web.AppRunner(app)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        kannel.start()
        try:
            yield Env(
                services, src, f"http://127.0.0.1:{port}/intake/sms-kannel", kannel, smsc, http
            )
        finally:
            kannel.stop()
            await runner.cleanup()
            await smsc.stop()
            shutil.rmtree(root, ignore_errors=True)


async def _rows(pool: Any, sql: str, *args: Any) -> list[Any]:
    async with pool.acquire() as conn:
        return list(await conn.fetch(sql, *args))


async def test_kannel_get_url_to_complaints(env: Env, pool: Any) -> None:
    await env.mo("081311112222", "Jalan  rusak di   Jl. Yos Sudarso")  # spaces kept (%b, not %a)
    await env.mo(
        "+6281355556666",
        "Lampu mati 😡 di gang Mawar".encode("utf-16-be"),
        coding="2",
        charset="UTF-16BE",
    )
    await env.mo("081377778888", "   ")
    await wait_until(lambda: _count(pool, 3))
    rows = await _rows(pool, "SELECT content FROM complaints ORDER BY content")
    assert [r["content"] for r in rows] == [
        "Jalan rusak di Jl. Yos Sudarso",  # intake tidies
        "Lampu mati 😡 di gang Mawar",
    ]
    crypto = env.services.crypto
    raw = [
        open_payload(crypto, r["payload"], r["payload_key"]).decode()
        for r in await _rows(pool, "SELECT payload, payload_key FROM raw_items")
    ]
    assert any('"Jalan  rusak di   Jl. Yos Sudarso"' in p for p in raw)  # %b kept it
    usage = await _rows(pool, "SELECT payload FROM jobs WHERE payload->>'event'='usage'")
    assert "address" not in usage[0]["payload"]  # sealed at rest
    assert job_address(crypto, usage[0]["payload"]) == "+6281377778888"
    refs = await _rows(pool, "SELECT source_ref FROM raw_items")
    assert all(r["source_ref"].startswith("kannel:") for r in refs)
    # Kannel retrying a get-url it thinks failed: the same message id is stored once.
    ref = refs[0]["source_ref"].removeprefix("kannel:")
    for _ in range(2):
        async with env.http.get(
            f"{env.base}/kannel",
            params={"secret": SECRET, "from": "081311112222", "id": ref, "text": "x"},
        ) as r:
            assert r.status == 200 and await r.text() == ""
    assert len(await _rows(pool, "SELECT 1 FROM raw_items")) == 3


async def test_kannel_joins_a_long_sms_before_calling_us(env: Env, pool: Any) -> None:
    parts = [
        "Sudah seminggu lampu penerangan jalan di Jl. G. Obos XII mati total, ",
        "warga takut lewat malam hari.",
    ]
    for seq in (2, 1):  # the operator delivers the parts out of order
        await env.mo("081311112222", parts[seq - 1], udh=bytes.fromhex(f"050003AB02{seq:02X}"))
    await wait_until(lambda: _count(pool, 1))
    rows = await _rows(pool, "SELECT content, flags FROM complaints")
    assert [(r["content"], r["flags"]) for r in rows] == [("".join(parts), [])]


async def _count(pool: Any, n: int) -> bool:
    return len(await _rows(pool, "SELECT 1 FROM raw_items")) >= n


async def test_webhook_auth_and_idempotency(env: Env, pool: Any) -> None:
    url = f"{env.base}/webhook"
    body = {
        "msisdn": "6281311112222",
        "message": "Banjir setinggi lutut di Jl. Rajawali",
        "message_id": "zz-1",
        "timestamp": "2026-11-28T08:00:00+07:00",
    }
    async with env.http.post(url, json=body) as r:
        assert r.status == 401
    async with env.http.post(url, json=body, headers={"X-Satukanal-Secret": "wrong"}) as r:
        assert r.status == 401
    auth = "Basic " + base64.b64encode(b"provider:pw-provider").decode()
    for _ in range(2):
        async with env.http.post(url, json=body, headers={"Authorization": auth}) as r:
            assert r.status == 200
    # A form post without an id: idempotent on sender + time + text.
    form = {
        "from": "081355556666",
        "pesan": "ANONIM pungli di terminal",
        "waktu": "2026-11-28 09:00",
    }
    for _ in range(2):
        async with env.http.post(url, data=form, headers={"X-Satukanal-Secret": SECRET}) as r:
            assert r.status == 200
    async with env.http.post(
        url, json={"text": "no sender"}, headers={"X-Satukanal-Secret": SECRET}
    ) as r:
        assert r.status == 400
    rows = await _rows(
        pool, "SELECT content, anonymous, submitted_at FROM complaints ORDER BY content"
    )
    assert [(r["content"], r["anonymous"]) for r in rows] == [
        ("Banjir setinggi lutut di Jl. Rajawali", False),
        ("pungli di terminal", True),
    ]
    assert rows[0]["submitted_at"].isoformat() == "2026-11-28T01:00:00+00:00"
    assert len(await _rows(pool, "SELECT 1 FROM raw_items")) == 2


async def test_replies_through_kannel_with_delivery_reports(env: Env, pool: Any) -> None:
    sink = env.src.sink()
    assert sink is not None
    nid = str(uuid.uuid4())
    async with pool.acquire() as conn:
        await conn.execute(
            "INSERT INTO notifications (id, kind, channel, source, state) "
            "VALUES ($1, 'ack', 'sms', 'sms-kannel', 'sent')",
            uuid.UUID(nid),
        )
    to = Origin("sms-kannel", "sms", "+6281311112222")
    text = "Laporan Anda ✓ diterima dengan nomor 1916449. " * 3
    res = await sink.send(to, OutboundMessage(nid, "ack", text))
    assert "Accepted" in (res.detail or "")
    await wait_until(lambda: len(env.smsc.sent) >= 3)
    parts = env.smsc.sent
    assert {p["coding"] for p in parts} == {"2"} and len(parts) == 3
    joined = "".join(p["text"].encode("latin-1").decode("utf-16-be") for p in parts)
    assert joined == text
    plain = str(uuid.uuid4())
    await sink.send(to, OutboundMessage(plain, "status", "Status laporan: diproses"))
    await wait_until(lambda: len(env.smsc.sent) >= 4)
    assert (
        env.smsc.sent[3]["coding"] in ("0", "")
        and env.smsc.sent[3]["text"] == "Status laporan: diproses"
    )
    # The operator reports delivery of the first message.
    assert await env.smsc.report_delivery(env.http, 0, 1) == 200
    row = (
        await _rows(
            pool, "SELECT state::text, delivered_at FROM notifications WHERE id=$1", uuid.UUID(nid)
        )
    )[0]
    assert row["state"] == "delivered" and row["delivered_at"] is not None

    bad = type(sink)(sink.context, sink.opts.model_copy(update={"password": SecretStr("nope")}))
    with pytest.raises(AuthError):
        await bad.send(to, OutboundMessage(str(uuid.uuid4()), "ack", "x"))
    down = type(sink)(
        sink.context,
        sink.opts.model_copy(
            update={"sendsms_url": f"http://127.0.0.1:{free_port()}/cgi-bin/sendsms"}
        ),
    )
    with pytest.raises(TransientError):
        await down.send(to, OutboundMessage(str(uuid.uuid4()), "ack", "x"))


async def test_failed_delivery_report_retries_then_gives_up_on_a_reject(
    env: Env, pool: Any
) -> None:
    """Kannel's DLR 2 (not delivered to the phone) is retried through the real Kannel; DLR 16
    (the SMSC rejects the number) cannot heal and, without another address, ends the chain."""
    from aggregator.notify.handler import make_notify_handler
    from aggregator.queue import Worker
    from schemas.complaint import Reporter
    from tests.followup.helpers import add_complaint

    services = dataclasses.replace(
        env.services,
        settings=env.services.settings.model_copy(
            update={
                "notify": env.services.settings.notify.model_copy(
                    update={"merge_window_s": 0, "retry_backoff_s": [0]}
                )
            }
        ),
    )
    sink = env.src.sink()
    assert sink is not None
    worker = Worker(services.queue, {"notify": make_notify_handler(services, {"sms-kannel": sink})})
    cid = await add_complaint(
        services,
        source="sms-kannel",
        channel="sms",
        tracking_id="1916490",
        reporter=Reporter(phone="081344445555"),
    )
    async with pool.acquire() as conn:
        await services.queue.enqueue(
            conn,
            "notify",
            complaint_id=cid,
            payload={"event": "lapor_pushed"},
            dedup_key=f"notify:pushed:{cid}",
        )
    assert await worker.run_once() == 1
    await wait_until(lambda: len(env.smsc.sent) >= 1)
    assert await env.smsc.report_delivery(env.http, 0, 2, "stat:UNDELIV") == 200

    async def chain() -> list[Any]:
        return await _rows(
            pool,
            "SELECT id, state::text AS state, detail, retry_of "
            "FROM notifications WHERE complaint_id = $1 "
            "ORDER BY created_at, id",
            cid,
        )

    first = (await chain())[0]
    assert first["state"] == "failed" and first["detail"] == "kannel dlr 2: stat:UNDELIV"
    async with pool.acquire() as conn:  # the daemon's backoff (notify.retry_backoff_s) passes
        waiting = await conn.execute(
            "UPDATE jobs SET run_after = now() WHERE kind = 'notify' AND state = 'queued'"
        )
    assert waiting == "UPDATE 1"
    assert await worker.run_once() == 1  # the retry, through Kannel again
    await wait_until(lambda: len(env.smsc.sent) >= 2)
    assert "1916490" in env.smsc.sent[1]["text"]
    assert await env.smsc.report_delivery(env.http, 1, 16, "rejected") == 200
    rows = await chain()
    assert [(r["state"], r["retry_of"]) for r in rows] == [
        ("failed", None),
        ("failed", first["id"]),
    ]
    assert rows[1]["detail"] == "kannel dlr 16: rejected"
    assert await worker.run_once() == 0  # nothing more: no other address, no retry for 16
    # The same report again changes nothing (Kannel may repeat it).
    assert await env.smsc.report_delivery(env.http, 1, 16, "rejected") == 200
    assert len(await chain()) == 2
