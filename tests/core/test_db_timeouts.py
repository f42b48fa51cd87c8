"""Every use of the database is bounded (issue #18's remainder): a pool acquire waits at most
``database.acquire_timeout_s`` and then fails with an error naming the code that waited; a
statement runs at most ``database.statement_timeout_s`` (longer only where the storage layer
allows it, per transaction); a session idle in a transaction is ended. The loops, the job
worker and the web server survive each of these and carry on once the database has room."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from aggregator.errors import ConfigError
from aggregator.intake.loop import IngestLoop
from aggregator.logging import configure_logging
from aggregator.queue import Worker
from aggregator.storage import jobs as jobs_repo
from aggregator.storage.db import (
    BoundedPool,
    PoolTimeout,
    allow_long_statements,
    create_pool,
    database_now,
    describe_database_error,
)
from aggregator.storage.migrate import _LOCK_ID, migrate
from aggregator.web.app import make_app
from aggregator.web.unavailable import BUSY, TOO_LONG, database_unavailable_middleware
from aggregator.wiring.check import check_configuration
from aggregator.wiring.settings import load_settings
from schemas.config import DatabaseConfig, QueueConfig, Settings, SourceConfig
from schemas.events import Job, JobState
from tests.core.helpers import JsonLinesSource
from tests.support.runtime import make_services

pytestmark = pytest.mark.timeout(120)


def _cfg(**kw: Any) -> DatabaseConfig:
    return DatabaseConfig(**{"pool_min": 1, "acquire_timeout_s": 0.5, **kw})


@contextlib.asynccontextmanager
async def _pool(dsn: str, **kw: Any) -> AsyncIterator[BoundedPool]:
    pool = await create_pool(dsn, _cfg(**kw))
    try:
        yield pool
    finally:
        await asyncio.wait_for(pool.close(), 10)


async def _take_all(pool: asyncpg.Pool) -> list[asyncpg.Connection]:
    """Every connection the pool still has to give: the pool is exhausted afterwards."""
    held = []
    while True:
        try:
            held.append(await pool.acquire(timeout=0.3))
        except PoolTimeout:
            return held


async def _give_back(pool: asyncpg.Pool, held: list[asyncpg.Connection]) -> None:
    for conn in held:
        await pool.release(conn)
    held.clear()


def _log_lines(buf: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in buf.getvalue().splitlines() if line.strip()]


async def _until(what: str, seconds: float, probe: Any) -> None:
    deadline = time.monotonic() + seconds
    while not await probe():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {seconds} s")
        await asyncio.sleep(0.1)


# -- the acquire timeout -----------------------------------------------------------------------


async def test_an_exhausted_pool_says_who_waited_and_how_full_it_was(db_dsn: str) -> None:
    buf = io.StringIO()
    configure_logging("info", "json", stream=buf)  # tests/conftest.py restores the config
    async with _pool(db_dsn, pool_max=2) as pool:
        held = await _take_all(pool)
        assert len(held) == 2
        started = time.monotonic()
        with pytest.raises(PoolTimeout) as info:
            async with pool.acquire() as conn:  # the configured 0.5 s, no timeout given here
                await database_now(conn)
        assert 0.4 <= time.monotonic() - started < 3
        exc = info.value
        here = f"{__name__}:test_an_exhausted_pool_says_who_waited_and_how_full_it_was"
        assert exc.waiter.startswith(here), exc.waiter
        assert str(exc).startswith(f"no database connection within 0.5 s for {here}:")
        assert "2 of at most 2 connections in use" in str(exc)
        assert "database.acquire_timeout_s" in str(exc)
        # What existing code catches for "no connection" keeps catching it.
        assert isinstance(exc, TimeoutError) and isinstance(exc, OSError)
        # The pool's own shortcuts are bounded too, and `await pool.acquire()` names its caller.
        with pytest.raises(PoolTimeout):
            await pool.execute("SELECT 1")
        with pytest.raises(PoolTimeout) as second:
            await pool.acquire()
        assert second.value.waiter.startswith(here)
        await _give_back(pool, held)
        async with pool.acquire() as conn:  # room again: nothing was broken by the waits
            assert await database_now(conn) is not None
    logged = [
        ln
        for ln in _log_lines(buf)
        if ln["event"] == "database_pool_timeout" and ln["waiter"] == exc.waiter
    ]
    assert len(logged) == 1 and logged[0]["level"] == "error", logged
    assert logged[0]["in_use"] == 2 and logged[0]["pool_max"] == 2
    assert logged[0]["timeout_s"] == 0.5 and logged[0]["task"]


async def test_the_same_waiting_place_is_logged_once_a_minute_with_a_count(db_dsn: str) -> None:
    buf = io.StringIO()
    configure_logging("info", "json", stream=buf)
    async with _pool(db_dsn, pool_max=1, acquire_timeout_s=0.2) as pool:
        held = await _take_all(pool)
        for _ in range(3):
            with pytest.raises(PoolTimeout):
                async with pool.acquire():
                    pass
        await _give_back(pool, held)
    timeouts = [
        ln
        for ln in _log_lines(buf)
        if ln["event"] == "database_pool_timeout" and "_take_all" not in ln["waiter"]
    ]
    assert len(timeouts) == 1, timeouts  # the other two are counted for the next line
    assert pool._logged[timeouts[0]["waiter"]][1] == 2


async def test_a_job_whose_handler_finds_no_connection_is_retried_in_doubt(db_dsn: str) -> None:
    buf = io.StringIO()
    configure_logging("info", "json", stream=buf)
    async with _pool(db_dsn, pool_max=3) as pool:
        settings = Settings(demo=True, queue=QueueConfig(backoff_base_s=0.2, poll_s=0.5))
        services = make_services(pool, settings=settings, owner="timeouts")
        ran: list[int] = []

        async def handler(job: Job) -> None:
            async with pool.acquire() as conn:
                await database_now(conn)
            ran.append(job.id)

        worker = Worker(services.queue, {"probe": handler}, concurrency=1)
        stop = asyncio.Event()
        task = asyncio.create_task(worker.run(stop))
        held: list[asyncpg.Connection] = []
        try:
            # The worker holds one connection, its LISTEN another; the test takes the rest.
            await _until("the worker listening", 10, _true(lambda: services.queue._listener.alive))
            await asyncio.sleep(0.3)
            held = await _take_all(pool)
            conn = held[0]
            async with conn.transaction():
                job_id = await services.queue.enqueue(conn, "probe")
            assert job_id is not None

            async def in_doubt() -> bool:
                job = await jobs_repo.get(conn, job_id)
                return job is not None and job.state is JobState.IN_DOUBT

            await _until("the attempt recorded in doubt", 15, in_doubt)
            job = await jobs_repo.get(conn, job_id)
            assert job is not None and job.last_error is not None
            assert "no database connection within 0.5 s for" in job.last_error, job.last_error
            assert f"{__name__}:" in job.last_error and "handler" in job.last_error
            assert job.payload.get("in_doubt") is True  # the next attempt checks first
            assert not task.done()
            await _give_back(pool, held)
            await _until("the retry done", 15, _true(lambda: job_id in ran))
            assert not task.done()  # the worker carried on through it all
        finally:
            await _give_back(pool, held)
            stop.set()
            await asyncio.wait_for(task, 30)
    lines = _log_lines(buf)
    assert any(
        ln["event"] == "database_pool_timeout" and ln.get("job_id") == job_id for ln in lines
    ), lines


async def test_a_loop_rides_out_an_exhausted_pool_and_carries_on(db_dsn: str) -> None:
    buf = io.StringIO()
    configure_logging("info", "json", stream=buf)
    async with _pool(db_dsn, pool_max=2) as pool:
        services = make_services(pool, owner="timeouts")
        src = JsonLinesSource(SourceConfig(name="sms", kind="jsonlines", poll_s=0.2), [])
        ingest = IngestLoop(services, src)
        stop = asyncio.Event()
        held = await _take_all(pool)
        task = asyncio.create_task(ingest.run(stop))
        try:
            await asyncio.sleep(2.0)  # several rounds, each waiting 0.5 s in vain
            assert not task.done()
            await _give_back(pool, held)
            src.items.append(json.dumps({"text": "Jalan rusak di Jl. Mawar sejak lama"}).encode())

            async def stored() -> bool:
                async with pool.acquire() as conn:
                    return bool(await conn.fetchval("SELECT count(*) FROM complaints"))

            await _until("the item ingested", 20, stored)
            assert not task.done()
        finally:
            await _give_back(pool, held)
            stop.set()
            await asyncio.wait_for(task, 30)
    lines = _log_lines(buf)
    down = [ln for ln in lines if ln["event"] == "database_unavailable"]
    assert len(down) == 1 and down[0]["loop"] == "ingest:sms", down
    assert down[0]["error"].startswith("PoolTimeout: no database connection within 0.5 s")
    assert [ln for ln in lines if ln["event"] == "database_recovered"]
    assert not [ln for ln in lines if ln["event"] == "ingest_loop_crashed"]


async def test_a_web_request_without_a_connection_is_told_to_retry_in_indonesian(
    db_dsn: str,
) -> None:
    async with _pool(db_dsn, pool_max=1, acquire_timeout_s=0.3) as pool:
        services = make_services(pool, owner="timeouts")
        client = TestClient(TestServer(make_app(services), host="127.0.0.1"))
        await client.start_server()
        held: list[asyncpg.Connection] = []
        try:
            held = await _take_all(pool)
            r = await client.get("/api/status", headers={"Authorization": "Bearer skn_x"})
            assert r.status == 503 and r.headers["Retry-After"] == "5"
            assert await r.json() == {"error": "database_busy", "message": BUSY}
            r = await client.get("/dasbor", cookies={"satukanal_sesi": "x"})
            page = await r.text()
            assert r.status == 503 and r.content_type == "text/html", page
            assert '<html lang="id">' in page and "Silakan coba lagi" in page
            await _give_back(pool, held)
            r = await client.get("/api/status", headers={"Authorization": "Bearer skn_x"})
            assert r.status == 401  # the database answers again: an unknown token
        finally:
            await _give_back(pool, held)
            await client.close()


# -- the statement timeout ---------------------------------------------------------------------


async def test_every_session_starts_with_the_configured_limits(db_dsn: str) -> None:
    async with _pool(db_dsn, statement_timeout_s=2.5, idle_in_transaction_timeout_s=90) as pool:
        for _ in range(2):  # a connection back from the pool is reset to the same
            async with pool.acquire() as conn:
                assert await conn.fetchval("SHOW statement_timeout") == "2500ms"
                assert await conn.fetchval("SHOW idle_in_transaction_session_timeout") == "90s"
                await conn.execute("SET statement_timeout = 0")


async def test_a_statement_past_the_limit_is_cancelled_and_said_so(db_dsn: str) -> None:
    async with _pool(db_dsn, statement_timeout_s=0.3) as pool, pool.acquire() as conn:
        started = time.monotonic()
        with pytest.raises(asyncpg.QueryCanceledError) as info:
            await conn.execute("SELECT pg_sleep(3)")
        assert time.monotonic() - started < 2
        said = describe_database_error(info.value)
        assert said.startswith("a statement ran past database.statement_timeout_s")
        assert "canceling statement due to statement timeout" in said
        # Where the storage layer allows it, one transaction may run longer…
        async with conn.transaction():
            await allow_long_statements(conn, 5)
            await conn.execute("SELECT pg_sleep(0.6)")
        # …and the session's own limit is back once it ends.
        assert await conn.fetchval("SHOW statement_timeout") == "300ms"
        with pytest.raises(asyncpg.QueryCanceledError):
            await conn.execute("SELECT pg_sleep(0.6)")


async def test_a_job_cut_off_by_the_statement_timeout_is_retried_in_doubt(db_dsn: str) -> None:
    async with _pool(db_dsn, statement_timeout_s=0.3) as pool:
        settings = Settings(demo=True, queue=QueueConfig(backoff_base_s=0.2, poll_s=0.2))
        services = make_services(pool, settings=settings, owner="timeouts")
        slow = True

        async def handler(job: Job) -> None:
            async with pool.acquire() as conn:
                await conn.execute("SELECT pg_sleep($1)", 2.0 if slow else 0.0)

        async with pool.acquire() as conn, conn.transaction():
            job_id = await services.queue.enqueue(conn, "probe")
        assert job_id is not None
        worker = Worker(services.queue, {"probe": handler}, concurrency=1)
        assert await worker.run_once() == 1  # the worker itself came through
        async with pool.acquire() as conn:
            job = await jobs_repo.get(conn, job_id)
        assert job is not None and job.state is JobState.IN_DOUBT
        assert job.last_error is not None
        assert "ran past database.statement_timeout_s" in job.last_error, job.last_error
        slow = False
        await asyncio.sleep(0.5)  # past the backoff
        assert await worker.run_once() == 1
        async with pool.acquire() as conn:
            job = await jobs_repo.get(conn, job_id)
        assert job is not None and job.state is JobState.DONE


async def test_a_web_request_cut_off_by_the_statement_timeout_gets_503(db_dsn: str) -> None:
    async with _pool(db_dsn, statement_timeout_s=0.3) as pool:

        async def slow(request: web.Request) -> web.Response:
            async with pool.acquire() as conn:
                await conn.execute("SELECT pg_sleep(2)")
            return web.Response(text="never")

        app = web.Application(middlewares=[database_unavailable_middleware])
        app.router.add_get("/api/lambat", slow)
        app.router.add_get("/dasbor/lambat", slow)
        client = TestClient(TestServer(app, host="127.0.0.1"))
        await client.start_server()
        try:
            r = await client.get("/api/lambat")
            assert r.status == 503
            assert await r.json() == {"error": "database_timeout", "message": TOO_LONG}
            r = await client.get("/dasbor/lambat")
            assert r.status == 503 and "terlalu lama" in await r.text()
        finally:
            await client.close()


async def test_a_session_left_idle_in_a_transaction_is_ended(db_dsn: str) -> None:
    async with _pool(db_dsn, idle_in_transaction_timeout_s=0.3) as pool:
        async with pool.acquire() as conn:
            pid = conn.get_server_pid()
            tx = conn.transaction()
            await tx.start()
            await conn.execute("SELECT 1")
            await asyncio.sleep(1.0)
            # Ended by the server; asyncpg has handed the dead connection back to the pool.
            with pytest.raises(
                (
                    asyncpg.IdleInTransactionSessionTimeoutError,
                    asyncpg.ConnectionDoesNotExistError,
                    asyncpg.InterfaceError,
                )
            ):
                await conn.execute("SELECT 1")
        async with pool.acquire() as conn:  # the pool replaces the ended session
            assert conn.get_server_pid() != pid
            alive = await conn.fetchval("SELECT count(*) FROM pg_stat_activity WHERE pid = $1", pid)
            assert alive == 0


async def test_migrations_and_their_lock_wait_get_the_long_limit_then_the_short_again(
    db_dsn: str,
) -> None:
    async with _pool(db_dsn, statement_timeout_s=0.2) as pool, pool.acquire() as conn:
        assert await migrate(conn, statement_timeout_s=30) == []  # migrated already
        assert await conn.fetchval("SHOW statement_timeout") == "200ms"
        # Another process migrating holds the lock: the wait is bounded by the long limit
        # (not cut at the ordinary 0.2 s, and not endless).
        other = await asyncpg.connect(db_dsn)
        try:
            await other.execute("SELECT pg_advisory_lock($1)", _LOCK_ID)
            started = time.monotonic()
            with pytest.raises(asyncpg.QueryCanceledError):
                await migrate(conn, statement_timeout_s=1.0)
            assert 0.9 <= time.monotonic() - started < 5
            assert await conn.fetchval("SHOW statement_timeout") == "200ms"
        finally:
            await other.close()


# -- the settings ------------------------------------------------------------------------------


def test_bad_timeouts_stop_start_up_with_plain_words(tmp_path: Path) -> None:
    path = tmp_path / "satukanal.toml"
    path.write_text(
        f'demo = true\ndata_dir = "{tmp_path / "data"}"\n'
        '[database]\nacquire_timeout_s = 0\nstatement_timeout_s = "lama"\n'
    )
    result = check_configuration(path, environ={})
    shown = [str(p) for p in result.errors]
    assert result.settings is None
    assert any("database.acquire_timeout_s" in line for line in shown), shown
    assert any("database.statement_timeout_s" in line for line in shown), shown
    with pytest.raises(ConfigError) as info:
        load_settings(path, environ={})  # what `satukanal run` does first
    assert "database.acquire_timeout_s" in str(info.value)
    for phrase in ("Input should", "validation error", "pydantic", "Traceback"):
        assert phrase not in str(info.value)


def test_a_long_limit_below_the_ordinary_one_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "satukanal.toml"
    path.write_text(
        f'demo = true\ndata_dir = "{tmp_path / "data"}"\n'
        "[database]\nstatement_timeout_s = 120\nlong_statement_timeout_s = 30\n"
    )
    with pytest.raises(ConfigError) as info:
        load_settings(path, environ={})
    assert "long_statement_timeout_s (30) is shorter than statement_timeout_s (120)" in str(
        info.value
    )
    env = {"SATUKANAL_DATABASE__STATEMENT_TIMEOUT_S": "20"}
    path.write_text(
        f'demo = true\ndata_dir = "{tmp_path / "data"}"\n'
        "[database]\nlong_statement_timeout_s = 30\n"
    )
    assert load_settings(path, environ=env).database.statement_timeout_s == 20


def _true(value: object) -> Any:
    async def probe() -> bool:
        return bool(value() if callable(value) else value)

    return probe
