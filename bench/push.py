"""LAPOR! push throughput against the sandbox, with its baseline measured in the same run.

    .venv/bin/python bench/push.py [--small] [--rate R] [--backlog N] [--dsn DSN]

(a) Rate-limited: the sandbox (its own process) allows R requests/s per client (default 20,
    burst 40). A backlog of N complaints (default 2,000; --small 200) is pushed by the push
    worker (8 concurrent jobs, one token bucket for the process). ``limited_rate_ratio`` =
    pushes/s achieved ÷ R (target ≥ 0.95), ``http_429`` = 429 answers received (target 0).
(b) No limit, no latency: the same worker pushes M complaints (default 2,000; --small 400)
    → ``push_per_s``; a bare aiohttp client posting the very same bodies (same concurrency,
    its own client id, a token fetched once) to the same sandbox → ``bare_per_s``;
    ``ratio_bare_client`` = push_per_s ÷ bare_per_s (target ≥ 0.5). The push path also
    reads the complaint, stores the Tracking ID, the timeline event and a notify job in one
    transaction, and runs through the job queue.

Server: ``--dsn``, else SATUKANAL_BENCH_DATABASE_URL, else
postgresql://postgres@127.0.0.1:5432/postgres (scratch databases, dropped afterwards).
The last line of output is one JSON object.
"""

# ruff: noqa: E402 - sys.path is fixed before the other imports
from __future__ import annotations

import os
import sys

# Run as ``python bench/push.py``, this directory comes first on sys.path, where
# bench/email.py and bench/queue.py would shadow the standard library.
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != _HERE]
sys.path.insert(0, os.path.dirname(_HERE))

import argparse
import asyncio
import contextlib
import json
import socket
import subprocess
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import aiohttp
import asyncpg

from aggregator.crypto import Crypto
from aggregator.lapor.http import HttpLaporAdapter, report_to_wire
from aggregator.lapor.push import PushHandlers
from aggregator.logging import configure_logging
from aggregator.queue import JobQueue, Worker
from aggregator.storage.db import create_pool
from aggregator.storage.migrate import migrate
from aggregator.wiring.services import Services
from schemas.config import CryptoConfig, LaporConfig, QueueConfig, Settings

DEFAULT_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
WORKERS = 8


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.asynccontextmanager
async def scratch_db(server: str) -> AsyncIterator[str]:
    name = f"satukanal_bench_push_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(server)
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    dsn = urlunsplit(urlsplit(server)._replace(path="/" + name))
    conn = await asyncpg.connect(dsn)
    await migrate(conn)
    await conn.close()
    try:
        yield dsn
    finally:
        admin = await asyncpg.connect(server)
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


@contextlib.asynccontextmanager
async def sandbox(*args: str) -> AsyncIterator[str]:
    port = free_port()
    proc = subprocess.Popen(  # noqa: ASYNC220 - a child that lives for the whole bench
        [sys.executable, "-m", "aggregator.lapor.sandbox", "--port", str(port), "--life", "none",
         "--client", "satukanal:sandbox-secret", "--client", "bare:bare-secret", *args],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        cwd=os.path.dirname(_HERE))
    root = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession() as http:
            for _ in range(200):
                with contextlib.suppress(aiohttp.ClientError):
                    async with http.get(root + "/openapi.json") as resp:
                        if resp.status == 200:
                            break
                await asyncio.sleep(0.1)
        yield root
    finally:
        proc.terminate()
        proc.wait(timeout=10)


async def insert_backlog(pool: asyncpg.Pool, n: int) -> list[uuid.UUID]:
    ids = [uuid.uuid4() for _ in range(n)]
    async with pool.acquire() as conn, conn.transaction():
        await conn.executemany(
            """INSERT INTO complaints (id, source, channel, title, content, submitted_at)
               VALUES ($1, 'bench', 'sms', $2, $3, now())""",
            [(cid, f"Lampu jalan padam #{i}", f"Lampu jalan di Jl. Tjilik Riwut km {i % 40} "
              "padam sejak seminggu, mohon segera diperbaiki.") for i, cid in enumerate(ids)])
        await conn.executemany(
            "INSERT INTO jobs (kind, complaint_id, payload, dedup_key) "
            "VALUES ('push', $1, '{}', $2)", [(c, f"push:{c}") for c in ids])
    return ids


def services_for(pool: asyncpg.Pool, http: aiohttp.ClientSession, lapor: LaporConfig) -> Services:
    qcfg = QueueConfig(workers=WORKERS, poll_s=0.2)
    return Services(settings=Settings(demo=True, lapor=lapor, queue=qcfg), pool=pool,
                    http=http, crypto=Crypto.from_config(CryptoConfig(), demo=True),
                    queue=JobQueue(pool, qcfg, owner=f"bench:{os.getpid()}"))


PushRun = tuple[float, dict[str, int], list[dict[str, Any]]]


async def push_all(server: str, base: str, n: int, lapor: LaporConfig) -> PushRun:
    async with scratch_db(server) as dsn:
        pool = await create_pool(dsn, min_size=2, max_size=WORKERS + 4)
        try:
            ids = await insert_backlog(pool, n)
            connector = aiohttp.TCPConnector(limit=lapor.max_connections)
            async with aiohttp.ClientSession(connector=connector) as http:
                services = services_for(pool, http, lapor)
                port = HttpLaporAdapter(lapor, http)
                handlers = PushHandlers(services, port)
                loop = Worker(services.queue, handlers.handlers(), concurrency=WORKERS)
                await port.agencies()  # token first: the measured part is pushing
                bodies = []
                async with pool.acquire() as conn:
                    for cid in ids:
                        row = await conn.fetchrow(
                            "SELECT c.*, NULL::bytea AS name_enc, NULL::bytea AS email_enc, "
                            "NULL::bytea AS phone_enc, NULL::bytea AS nik_enc "
                            "FROM complaints c WHERE id = $1", cid)
                        bodies.append(report_to_wire(handlers.payload(cid, row, [])))
                started = time.perf_counter()
                while True:
                    await loop.run_once()
                    async with pool.acquire() as conn:
                        left = await conn.fetchval(
                            "SELECT count(*) FROM complaints WHERE lapor_tracking_id IS NULL")
                    if not left:
                        break
                    await asyncio.sleep(0.05)
                elapsed = time.perf_counter() - started
                return n / elapsed, dict(port.counts), bodies
        finally:
            await pool.close()


async def bare_client(base: str, bodies: list[dict[str, Any]]) -> float:
    """The baseline: the same bodies posted straight to the sandbox, same concurrency."""
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=20)) as http:
        async with http.post(base + "/oauth/token", data={
                "grant_type": "client_credentials", "client_id": "bare",
                "client_secret": "bare-secret"}) as resp:
            token = (await resp.json())["access_token"]
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        for b in bodies:
            queue.put_nowait(b)

        async def worker() -> None:
            while not queue.empty():
                body = queue.get_nowait()
                async with http.post(base + "/reports", json=body, headers={
                        "Authorization": f"Bearer {token}",
                        "Idempotency-Key": body["external_ref"]}) as resp:
                    await resp.read()
                    assert resp.status == 201, resp.status

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(WORKERS)))
        return len(bodies) / (time.perf_counter() - started)


async def main() -> None:
    # One line per push on a terminal would measure the terminal; the bare client logs nothing.
    configure_logging("warning", "json")
    parser = argparse.ArgumentParser()
    parser.add_argument("--small", action="store_true")
    parser.add_argument("--rate", type=float, default=20.0)
    parser.add_argument("--backlog", type=int, default=None)
    parser.add_argument("--fast-count", type=int, default=None)
    parser.add_argument("--dsn", default=os.environ.get("SATUKANAL_BENCH_DATABASE_URL",
                                                        DEFAULT_DSN))
    args = parser.parse_args()
    backlog = args.backlog or (200 if args.small else 2000)
    fast_n = args.fast_count or (400 if args.small else 2000)
    burst = int(args.rate * 2)

    async with sandbox("--rate", str(args.rate), "--burst", str(burst)) as root:
        lapor = LaporConfig(adapter="http", base_url=root + "/api/v1", client_id="satukanal",
                            client_secret="sandbox-secret", rate_limit_per_s=args.rate,
                            rate_burst=burst)
        limited_rate, limited_counts, _ = await push_all(args.dsn, root, backlog, lapor)
    print(f"(a) rate-limited to {args.rate}/s: {backlog} pushes at {limited_rate:.2f}/s, "
          f"429 answers {limited_counts['http_429']}", flush=True)

    async with sandbox("--no-rate-limit") as root:
        lapor = LaporConfig(adapter="http", base_url=root + "/api/v1", client_id="satukanal",
                            client_secret="sandbox-secret", rate_limit_per_s=1e6,
                            rate_burst=10**6)
        push_rate, _counts, bodies = await push_all(args.dsn, root, fast_n, lapor)
        bare_rate = await bare_client(root + "/api/v1", bodies)
    print(f"(b) no limit: push worker {push_rate:.1f}/s, bare client {bare_rate:.1f}/s",
          flush=True)
    print(json.dumps({
        "bench": "push", "rate_limit_per_s": args.rate, "backlog": backlog,
        "limited_push_per_s": round(limited_rate, 3),
        "limited_rate_ratio": round(limited_rate / args.rate, 4),
        "http_429": limited_counts["http_429"], "fast_count": fast_n,
        "push_per_s": round(push_rate, 1), "bare_per_s": round(bare_rate, 1),
        "ratio_bare_client": round(push_rate / bare_rate, 3), "workers": WORKERS}))


if __name__ == "__main__":
    asyncio.run(main())
