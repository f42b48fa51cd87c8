"""Issue 18 item 3: nothing lost while PostgreSQL is away.

The HTTP intakes (an SMS webhook, a form endpoint) reach this test's database through a
TCP proxy the test cuts for 60 s — every open connection dropped, every new one refused;
the machine's shared server itself is never touched. Meanwhile 1,000 SMS (50 of them sent
twice, as a gateway retrying does) and 100 form posts arrive. Every request is answered as
accepted, the spool's depth shows in /metrics, and once the proxy lets connections through
again the drainer ingests everything: every message once, none twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest
from aiohttp import web

from aggregator.crypto import Crypto
from aggregator.intake.spool import SpoolDrainer, spool_depth
from aggregator.lapor.sandbox.embedded import free_port
from aggregator.queue import JobQueue
from aggregator.storage.db import create_pool
from aggregator.web.app import make_app
from aggregator.wiring.services import Services, ensure_spool
from aggregator.wiring.sources import build_source
from schemas.config import CryptoConfig, Settings, SourceConfig, SpoolConfig
from tests.support.runtime import with_sources

CUT_S = 60.0
N_SMS = 1000
N_RETRIED = 50
N_FORMS = 100
SECRET = "gw-secret"


class CuttableProxy:
    """127.0.0.1:<port> → the PostgreSQL server; ``cut()`` drops every connection and
    refuses new ones until ``restore()``."""

    def __init__(self, target_host: str, target_port: int) -> None:
        # A host that is a directory is PostgreSQL's unix socket there.
        self.target = (target_host, target_port)
        self.port = free_port()
        self._server: asyncio.Server | None = None
        self._pipes: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            host, port = self.target
            if host.startswith("/"):
                up_reader, up_writer = await asyncio.open_unix_connection(f"{host}/.s.PGSQL.{port}")
            else:
                up_reader, up_writer = await asyncio.open_connection(host, port)
        except OSError:
            writer.close()
            return
        self._pipes |= {writer, up_writer}

        async def pump(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(OSError, asyncio.CancelledError):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            with contextlib.suppress(OSError, RuntimeError):
                dst.close()

        await asyncio.gather(pump(reader, up_writer), pump(up_reader, writer))
        self._pipes -= {writer, up_writer}

    async def cut(self) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()
        self._server = None
        for w in list(self._pipes):
            if w.transport is not None:
                w.transport.abort()
        self._pipes.clear()

    async def restore(self) -> None:
        await self.start()

    async def stop(self) -> None:
        if self._server is not None:
            await self.cut()


@pytest.fixture
async def proxy(db_dsn: str) -> AsyncIterator[tuple[CuttableProxy, str]]:
    from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

    parts = urlsplit(db_dsn)
    query = dict(parse_qsl(parts.query))
    host = query.pop("host", None) or parts.hostname or "127.0.0.1"
    p = CuttableProxy(host, parts.port or 5432)
    await p.start()
    netloc = f"{parts.username}@127.0.0.1:{p.port}" if parts.username else f"127.0.0.1:{p.port}"
    try:
        yield p, urlunsplit(parts._replace(netloc=netloc, query=urlencode(query)))
    finally:
        await p.stop()


def _form(i: int) -> dict[str, str]:
    return {
        "isi_laporan": f"Saluran air di gang Melati nomor {i} tersumbat sampah sejak "
        "minggu lalu, air meluap ke jalan.",
        "nama": "",
        "telp": "",
        "nik": "",
        "website": "",
    }


@pytest.mark.slow
@pytest.mark.timeout(600)
async def test_intakes_spool_while_the_database_is_cut_and_lose_nothing(
    proxy: tuple[CuttableProxy, str], db_dsn: str, tmp_path: Path
) -> None:
    cut, proxied_dsn = proxy
    sms_cfg = SourceConfig(
        name="sms-gw", kind="sms_http", options={"secret": SECRET, "timezone": "UTC"}
    )
    form_cfg = SourceConfig(
        name="web-pupr",
        kind="form_http",
        options={"rate_limit_per_min": 100_000, "rate_burst": 100_000},
    )
    settings = Settings(
        demo=True,
        data_dir=tmp_path,
        sources=[sms_cfg, form_cfg],
        spool=SpoolConfig(dir=tmp_path / "spool", db_timeout_s=5.0, drain_interval_s=0.5),
    )
    pool = await create_pool(proxied_dsn, min_size=1, max_size=8, timeout=1.0)
    runner: web.AppRunner | None = None
    stop = asyncio.Event()
    drain: asyncio.Task[None] | None = None
    try:
        async with aiohttp.ClientSession() as http:
            services = Services(
                settings=settings,
                pool=pool,
                http=http,
                crypto=Crypto.from_config(CryptoConfig(), demo=True),
                queue=JobQueue(pool, settings.queue, owner="test-spool"),
            )
            sms = build_source(sms_cfg, services)
            form = build_source(form_cfg, services)
            spool = ensure_spool(services)  # the one the sources' intakes write to
            services = with_sources(services, {"sms-gw": sms, "web-pupr": form})
            app = make_app(
                services,
                extra=[("/intake/sms-gw", sms.routes()), ("/intake/web-pupr", form.routes())],
            )
            runner = web.AppRunner(app, access_log=None)
            await runner.setup()
            port = free_port()
            await web.TCPSite(runner, "127.0.0.1", port).start()
            base = f"http://127.0.0.1:{port}"
            drain = asyncio.create_task(SpoolDrainer(services, spool).run(stop))

            statuses: list[int] = []

            async def send_sms(i: int) -> None:
                async with http.post(
                    f"{base}/intake/sms-gw/webhook",
                    json={
                        "id": f"m{i}",
                        "from": f"0812{i:07d}",
                        "text": f"Lampu jalan di RT {i} padam sudah tiga malam",
                    },
                    headers={"X-Satukanal-Secret": SECRET},
                ) as resp:
                    await resp.read()
                    statuses.append(resp.status)

            async def send_form(i: int) -> None:
                async with http.post(
                    f"{base}/intake/web-pupr/", data=_form(i), allow_redirects=False
                ) as resp:
                    await resp.read()
                    statuses.append(200 if resp.status == 303 else resp.status)

            # The database is there: stored (the very first ingest loads the router and
            # may outlast db_timeout_s on a busy machine: then it goes through the spool).
            await send_sms(-1)
            assert statuses == [200]
            for _ in range(60):
                if not spool.items:
                    break
                await asyncio.sleep(0.5)
            assert spool.items == 0

            await cut.cut()
            started = time.monotonic()
            sends: list[Any] = [send_sms(i) for i in range(N_SMS)]
            sends += [send_sms(i) for i in range(0, N_RETRIED * 20, 20)]  # gateway retries
            sends += [send_form(i) for i in range(N_FORMS)]
            # Spread over most of the cut, a few at a time, as gateways and citizens would.
            gap = (CUT_S - 10) / len(sends)
            sem = asyncio.Semaphore(8)

            async def paced(k: int, coro: Any) -> None:
                await asyncio.sleep(k * gap)
                async with sem:
                    await coro

            await asyncio.gather(*(paced(k, c) for k, c in enumerate(sends)))
            assert len(statuses) == 1 + N_SMS + N_RETRIED + N_FORMS
            assert set(statuses) == {200}, sorted(set(statuses))  # 0 refused
            assert spool.items == N_SMS + N_RETRIED + N_FORMS
            assert spool_depth(settings)["items"] == spool.items
            async with http.get(f"{base}/metrics") as resp:
                text = await resp.text()
            assert f"satukanal_spool_items {float(spool.items)}" in text
            await asyncio.sleep(max(0.0, CUT_S - (time.monotonic() - started)))

            await cut.restore()
            for _ in range(240):
                if not spool.items:
                    break
                await asyncio.sleep(0.5)
            assert spool.items == 0
            assert not (tmp_path / "spool-failed").exists()  # nothing set aside
    finally:
        stop.set()
        if drain is not None:
            await drain
        if runner is not None:
            await runner.cleanup()
        await pool.close()

    conn = await asyncpg.connect(db_dsn)
    try:
        raw = await conn.fetch("SELECT source, source_ref FROM raw_items")
        complaints = await conn.fetchval("SELECT count(*) FROM complaints")
    finally:
        await conn.close()
    refs = [(r["source"], r["source_ref"]) for r in raw]
    assert len(refs) == len(set(refs))  # 0 duplicated
    sms_refs = {ref for src, ref in refs if src == "sms-gw"}
    assert sms_refs == {f"webhook:m{i}" for i in range(-1, N_SMS)}  # 0 lost
    assert sum(1 for src, _ in refs if src == "web-pupr") == N_FORMS
    assert complaints == 1 + N_SMS + N_FORMS
