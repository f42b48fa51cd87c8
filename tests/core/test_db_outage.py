"""Issue 13 item 8: the database goes away for 30 s and comes back. The cut is made by a TCP
proxy this test runs between satukanal and its (per-test) database, never by touching the
shared server: every connection through it is dropped and new ones are refused until it is
restored. Afterwards the job worker listens again (a job is picked up by its NOTIFY well
before the poll interval), /readyz says ready, and the ingest loop takes new items, all
within seconds."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import time
from typing import Any
from urllib.parse import parse_qs, urlsplit, urlunsplit

import asyncpg
import pytest
from aiohttp.test_utils import TestClient, TestServer

from aggregator.intake.loop import IngestLoop
from aggregator.logging import configure_logging
from aggregator.queue import Worker
from aggregator.storage.db import create_pool
from aggregator.web.app import make_app
from schemas.config import DatabaseConfig, QueueConfig, Settings, SourceConfig
from schemas.events import Job
from tests.core.helpers import JsonLinesSource
from tests.sms.kannel import free_port
from tests.support.runtime import make_services as runtime

pytestmark = pytest.mark.timeout(180)
OUTAGE_S = 30.0
BACK_WITHIN_S = 15.0


class CuttableProxy:
    """127.0.0.1:<port> → the database; ``cut()`` drops everything, ``restore()`` reopens."""

    def __init__(self, dsn: str) -> None:
        parts = urlsplit(dsn)
        socket_dir = parse_qs(parts.query).get("host", [""])[0]
        port = parts.port or 5432
        # A TCP server, or the embedded one's Unix socket (?host=/dir).
        self.unix = f"{socket_dir}/.s.PGSQL.{port}" if socket_dir.startswith("/") else None
        self.target = (parts.hostname or "127.0.0.1", port)
        self.port = free_port()
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._client, "127.0.0.1", self.port)

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            if self.unix is not None:
                up_r, up_w = await asyncio.open_unix_connection(self.unix)
            else:
                up_r, up_w = await asyncio.open_connection(*self.target)
        except OSError:
            writer.close()
            return
        self._writers |= {writer, up_w}

        async def pipe(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
            with contextlib.suppress(Exception):
                while data := await r.read(65536):
                    w.write(data)
                    await w.drain()
            with contextlib.suppress(Exception):
                w.close()

        await asyncio.gather(pipe(reader, up_w), pipe(up_r, writer))
        self._writers -= {writer, up_w}

    async def cut(self) -> None:
        assert self._server is not None
        self._server.close()
        for w in list(self._writers):
            w.transport.abort()
        self._writers.clear()
        await self._server.wait_closed()
        self._server = None

    async def restore(self) -> None:
        await self.start()


def _via(dsn: str, port: int) -> str:
    parts = urlsplit(dsn)
    user = parts.username or "postgres"
    return urlunsplit(parts._replace(netloc=f"{user}@127.0.0.1:{port}", query=""))


async def _within(what: str, seconds: float, probe: Any) -> float:
    start = time.monotonic()
    while not await probe():
        if time.monotonic() - start > seconds:
            raise AssertionError(f"{what}: not back within {seconds} s")
        await asyncio.sleep(0.2)
    return time.monotonic() - start


async def test_after_a_30_s_outage_every_loop_listens_and_answers_again(db_dsn: str) -> None:
    proxy = CuttableProxy(db_dsn)
    await proxy.start()
    pool = await create_pool(_via(db_dsn, proxy.port), min_size=1, max_size=6, timeout=10)
    # Polling every 20 s: a job handled within two seconds was woken by its NOTIFY.
    settings = Settings(demo=True, queue=QueueConfig(poll_s=20.0, workers=2))
    services = runtime(pool, settings=settings, owner="outage")
    handled: dict[int, float] = {}

    async def handler(job: Job) -> None:
        handled[job.id] = time.monotonic()

    worker = Worker(services.queue, {"probe": handler}, concurrency=2)
    src = JsonLinesSource(
        SourceConfig(name="sms", kind="jsonlines", poll_s=0.5),
        [json.dumps({"text": "Jalan rusak di Jl. Mawar sejak lama"}).encode()],
    )
    ingest = IngestLoop(services, src)
    stop = asyncio.Event()
    tasks = [asyncio.create_task(worker.run(stop)), asyncio.create_task(ingest.run(stop))]
    client = TestClient(TestServer(make_app(services), host="127.0.0.1"))
    await client.start_server()
    direct = await asyncpg.connect(db_dsn)  # the test's own way in, around the proxy

    async def enqueue() -> int:
        job_id: int = await direct.fetchval(
            "INSERT INTO jobs (kind, payload) VALUES ('probe', '{}') RETURNING id"
        )
        await direct.execute("SELECT pg_notify('satukanal_jobs', 'probe')")
        return job_id

    async def ready() -> bool:
        with contextlib.suppress(Exception):
            r = await client.get("/readyz")
            return r.status == 200
        return False

    try:
        await _within("the first ingest", BACK_WITHIN_S, lambda: _count(direct, 1))
        await _within("ready at start", BACK_WITHIN_S, ready)
        first = await enqueue()
        t0 = time.monotonic()
        await _within("a job by NOTIFY", 3, _handled(handled, first))
        assert handled[first] - t0 < 3

        await proxy.cut()
        await asyncio.sleep(1.0)
        assert not await ready()  # /readyz says so while the database is away
        await asyncio.sleep(OUTAGE_S - 1.0)
        await proxy.restore()
        restored = time.monotonic()

        await _within("/readyz", BACK_WITHIN_S, ready)
        # The listener is back: a new job is taken at its NOTIFY, not at the 20 s poll.
        await _within(
            "the LISTEN connection", BACK_WITHIN_S, _async(lambda: services.queue._listener.alive)
        )
        second = await enqueue()
        t1 = time.monotonic()
        await _within("a job by NOTIFY after the outage", 3, _handled(handled, second))
        assert handled[second] - t1 < 3
        # The ingest loop takes new items again.
        src.items.append(json.dumps({"text": "Lampu jalan mati di gang Sepakat"}).encode())
        await _within("the ingest loop", BACK_WITHIN_S, lambda: _count(direct, 2))
        assert time.monotonic() - restored < 3 * BACK_WITHIN_S
        assert all(not t.done() for t in tasks), [t.exception() for t in tasks if t.done()]
    finally:
        stop.set()
        await asyncio.wait(tasks, timeout=30)
        await client.close()
        await direct.close()
        await pool.close()


async def _count(conn: asyncpg.Connection, n: int) -> bool:
    return bool(await conn.fetchval("SELECT count(*) FROM complaints") >= n)


def _handled(handled: dict[int, float], job_id: int) -> Any:
    async def probe() -> bool:
        return job_id in handled

    return probe


def _async(fn: Any) -> Any:
    async def probe() -> bool:
        return bool(fn())

    return probe


async def test_an_outage_is_logged_once_counted_while_it_lasts_and_once_when_over(
    db_dsn: str,
) -> None:
    """The ingest loop used to log a full traceback at every poll while the database was
    away. Now the first failure says why, one line every ``outage_log_every_s`` counts the
    failed polls, one says it is back; all of them structured JSON, none a traceback."""
    proxy = CuttableProxy(db_dsn)
    await proxy.start()
    pool = await create_pool(_via(db_dsn, proxy.port), min_size=1, max_size=4, timeout=2)
    settings = Settings(
        demo=True,
        queue=QueueConfig(poll_s=0.5, workers=1),
        database=DatabaseConfig(outage_log_every_s=2.0),
    )
    services = runtime(pool, settings=settings, owner="outage-log")
    buf = io.StringIO()
    configure_logging("info", "json", stream=buf)  # tests/conftest.py restores the config

    async def handler(job: Job) -> None:
        pass

    worker = Worker(services.queue, {"probe": handler}, concurrency=1, outage_log_every_s=2.0)
    src = JsonLinesSource(
        SourceConfig(name="sms", kind="jsonlines", poll_s=0.1),
        [json.dumps({"text": "Jalan rusak di Jl. Mawar sejak lama"}).encode()],
    )
    ingest = IngestLoop(services, src)
    stop = asyncio.Event()
    tasks = [asyncio.create_task(worker.run(stop)), asyncio.create_task(ingest.run(stop))]
    direct = await asyncpg.connect(db_dsn)
    try:
        await _within("the first ingest", BACK_WITHIN_S, lambda: _count(direct, 1))
        await proxy.cut()
        await asyncio.sleep(7.0)
        await proxy.restore()
        src.items.append(json.dumps({"text": "Lampu jalan mati di gang Sepakat"}).encode())
        await _within("the ingest loop", BACK_WITHIN_S, lambda: _count(direct, 2))
        await asyncio.sleep(1.0)  # the worker's next round after its retry
    finally:
        stop.set()
        await asyncio.wait(tasks, timeout=30)
        await direct.close()
        await pool.close()

    out = buf.getvalue()
    lines = [json.loads(ln) for ln in out.splitlines() if ln.strip()]  # every line is JSON
    assert "Traceback" not in out and not any("exception" in ln for ln in lines), out[-3000:]
    assert not [ln for ln in lines if ln["event"] == "ingest_loop_crashed"]

    def of(loop: str, event: str) -> list[dict[str, Any]]:
        return [ln for ln in lines if ln.get("loop") == loop and ln["event"] == event]

    for loop in ("ingest:sms", "job_worker"):
        down = of(loop, "database_unavailable")
        assert len(down) == 1, (loop, down)
        assert down[0]["level"] == "warning" and down[0]["error"], down
        still = of(loop, "database_still_unavailable")
        # 7 s away, one line every 2 s: two or three, each counting the attempts since the
        # line before (not one line per attempt).
        assert 2 <= len(still) <= 4, (loop, still)
        assert all(s["failures"] >= 1 and s["down_s"] >= 2.0 for s in still), still
        back = of(loop, "database_recovered")
        assert len(back) == 1, (loop, back)
        assert back[0]["down_s"] >= 6.0, back
    # The ingest loop polls every 0.1 s: dozens of failed polls in as many log lines as the
    # worker, which retries every second.
    polls = of("ingest:sms", "database_recovered")[0]["failures"]
    assert polls >= 20, polls
    about_db = [ln for ln in lines if ln.get("loop") == "ingest:sms"]
    assert len(about_db) <= 6, about_db
    assert ingest.source.name == "sms" and all(not t.done() or not t.exception() for t in tasks)
