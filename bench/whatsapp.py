"""Benchmark: signed WhatsApp Cloud API webhook posts ingested, against the ``sms_http``
intake taking the same messages as plain webhook posts, in the same run.

N messages (default 2,000; ``--small`` 300), each a distinct citizen's complaint, are posted
by C concurrent clients (default 8) to one satukanal web app holding both sources, each
writing into its own fresh migrated database on the same server. WhatsApp posts carry the
Cloud API envelope and an ``X-Hub-Signature-256`` header that the intake verifies before
parsing; SMS posts carry the flat JSON a local SMS gateway sends with its shared secret.
``ratio_sms_http`` = WhatsApp messages/s ÷ SMS messages/s (target ≥ 0.8). Both runs are
checked: one complaint per message, none lost, none twice.

Server: ``--dsn``, else SATUKANAL_BENCH_DATABASE_URL, else
postgresql://postgres@127.0.0.1:5432/postgres (scratch databases, dropped afterwards).
The last line of output is one JSON object.
"""

# ruff: noqa: E402 - sys.path is fixed before the other imports
from __future__ import annotations

import os
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != _HERE]
sys.path.insert(0, os.path.dirname(_HERE))

import argparse
import asyncio
import hashlib
import hmac
import json
import random
import socket
import time
import uuid
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import asyncpg
from aiohttp import web

from aggregator.crypto import Crypto
from aggregator.logging import configure_logging
from aggregator.queue import JobQueue
from aggregator.storage.db import create_pool
from aggregator.storage.migrate import migrate
from aggregator.web.app import make_app
from aggregator.wiring.services import Services
from aggregator.wiring.sources import build_source
from connectors.whatsapp.samples import PHONE_NUMBER_ID, cloud_webhook, text_message
from schemas.config import CryptoConfig, Settings, SourceConfig

DEFAULT_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
APP_SECRET = "bench-app-secret"
SMS_SECRET = "bench-sms-secret"
WORDS = (
    "jalan rusak berlubang lampu mati sampah menumpuk banjir drainase tersumbat pohon "
    "tumbang parkir liar air PDAM tidak mengalir kelurahan pelayanan lambat"
).split()


def _dsn(server: str, db: str) -> str:
    return urlsplit(server)._replace(path="/" + db).geturl()


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def messages(n: int, rng: random.Random) -> list[tuple[str, str]]:
    out = []
    for i in range(n):
        phone = f"628{rng.randint(11, 99)}{i:08d}"
        text = "BARU " + " ".join(rng.choices(WORDS, k=rng.randint(6, 20))) + f" RT {i % 20}"
        out.append((phone, text))
    return out


async def post_all(url: str, bodies: list[tuple[bytes, dict[str, str]]], clients: int) -> float:
    queue: asyncio.Queue[tuple[bytes, dict[str, str]]] = asyncio.Queue()
    for b in bodies:
        queue.put_nowait(b)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=clients)) as http:

        async def client() -> None:
            while not queue.empty():
                body, headers = queue.get_nowait()
                async with http.post(url, data=body, headers=headers) as r:
                    if r.status != 200:
                        raise RuntimeError(f"{url} answered {r.status}: {await r.text()}")

        t0 = time.perf_counter()
        await asyncio.gather(*(client() for _ in range(clients)))
        return time.perf_counter() - t0


async def services_for(dsn: str, http: aiohttp.ClientSession) -> Services:
    c = await asyncpg.connect(dsn)
    await migrate(c)
    await c.close()
    pool = await create_pool(dsn, min_size=2, max_size=10)
    settings = Settings(demo=True)
    return Services(
        settings=settings,
        pool=pool,
        http=http,
        crypto=Crypto.from_config(CryptoConfig(), demo=True),
        queue=JobQueue(pool, settings.queue, owner="bench-whatsapp"),
    )


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--small", action="store_true")
    ap.add_argument("--messages", type=int, default=None)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--dsn", default=os.environ.get("SATUKANAL_BENCH_DATABASE_URL", DEFAULT_DSN))
    args = ap.parse_args()
    configure_logging("warning", "json")
    n = args.messages or (300 if args.small else 2_000)
    rng = random.Random(11)
    msgs = messages(n, rng)
    tag = uuid.uuid4().hex[:8]
    dbs = {"wa": f"bench_wa_{tag}", "sms": f"bench_wasms_{tag}"}
    admin = await asyncpg.connect(args.dsn)
    for db in dbs.values():
        await admin.execute(f'CREATE DATABASE "{db}"')
    runner = None
    timed = 0
    try:
        async with aiohttp.ClientSession() as http:
            wa_services = await services_for(_dsn(args.dsn, dbs["wa"]), http)
            sms_services = await services_for(_dsn(args.dsn, dbs["sms"]), http)
            wa = build_source(
                SourceConfig(
                    name="wa",
                    kind="whatsapp_cloud",
                    options={
                        "graph_url": "http://127.0.0.1:9",
                        "phone_number_id": PHONE_NUMBER_ID,
                        "access_token": "x",
                        "app_secret": APP_SECRET,
                        "verify_token": "v",
                    },
                ),
                wa_services,
            )
            sms = build_source(
                SourceConfig(name="sms", kind="sms_http", options={"secret": SMS_SECRET}),
                sms_services,
            )
            app = make_app(wa_services, extra=[("/intake/wa", wa.routes())])
            sms_app = make_app(sms_services, extra=[("/intake/sms", sms.routes())])
            app.add_subapp("/other", sms_app)
            port = _port()
            runner = web.AppRunner(app, access_log=None)
            await runner.setup()
            await web.TCPSite(runner, "127.0.0.1", port).start()
            base = f"http://127.0.0.1:{port}"

            wa_bodies = []
            for i, (phone, text) in enumerate(msgs):
                raw = json.dumps(
                    cloud_webhook(text_message(f"wamid.bench{i}", phone, text))
                ).encode()
                sig = "sha256=" + hmac.new(APP_SECRET.encode(), raw, hashlib.sha256).hexdigest()
                wa_bodies.append(
                    (raw, {"Content-Type": "application/json", "X-Hub-Signature-256": sig})
                )
            sms_bodies = [
                (
                    json.dumps(
                        {
                            "from": phone,
                            "message": text,
                            "id": f"s{i}",
                            "timestamp": "2026-12-03T08:00:00+07:00",
                        }
                    ).encode(),
                    {"Content-Type": "application/json", "X-Satukanal-Secret": SMS_SECRET},
                )
                for i, (phone, text) in enumerate(msgs)
            ]
            # Warm both paths (first-request costs) on a few messages, then alternate the
            # two in rounds, so neither gains from the machine's state at one moment.
            warm = max(10, n // 20)
            await post_all(f"{base}/other/intake/sms/webhook", sms_bodies[:warm], args.clients)
            await post_all(f"{base}/intake/wa/webhook", wa_bodies[:warm], args.clients)
            sms_s = wa_s = 0.0
            rounds = 4
            step = (n - warm + rounds - 1) // rounds
            for start in range(warm, n, step):
                part = slice(start, min(n, start + step))
                sms_s += await post_all(
                    f"{base}/other/intake/sms/webhook", sms_bodies[part], args.clients
                )
                wa_s += await post_all(f"{base}/intake/wa/webhook", wa_bodies[part], args.clients)
            timed = n - warm
            counts = {}
            for name, svc in (("wa", wa_services), ("sms", sms_services)):
                async with svc.pool.acquire() as conn:
                    counts[name] = await conn.fetchval("SELECT count(*) FROM complaints")
                await svc.pool.close()
    finally:
        if runner is not None:
            await runner.cleanup()
        for db in dbs.values():
            await admin.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
        await admin.close()
    assert counts == {"wa": n, "sms": n}, counts
    out: dict[str, Any] = {
        "bench": "whatsapp",
        "messages": n,
        "clients": args.clients,
        "timed": timed,
        "whatsapp_per_s": round(timed / wa_s, 1),
        "sms_http_per_s": round(timed / sms_s, 1),
        "ratio_sms_http": round(sms_s / wa_s, 3),
        "complaints": counts,
    }
    print(json.dumps(out))


if __name__ == "__main__":
    asyncio.run(main())
