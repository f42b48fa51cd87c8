"""LAPOR! push throughput against the sandbox, with its baseline measured in the same run.

    .venv/bin/python bench/push.py [--small] [--rate R] [--backlog N] [--dsn DSN]

(a) Rate-limited: the sandbox (its own process) allows R requests/s per client (default 20,
    burst 40). A backlog of N complaints (default 2,000; --small 200) is pushed by the push
    worker (``lapor.push_concurrency`` jobs at once as the daemon runs them, by default sized
    to the limit; the LAPOR! port as the daemon builds it: the replicas' shared rate limit in
    PostgreSQL, or ``--rate-scope process`` for the process's own bucket).
    ``limited_rate_ratio`` =
    pushes/s achieved ÷ R (target ≥ 0.95), ``http_429`` = 429 answers received (target 0).
(b) No limit, no latency: the same worker pushes M complaints (default 2,000; --small 400)
    → ``push_per_s``; a bare aiohttp client posting the very same bodies (its own client
    id, a token fetched once, the same connection limit) to the same sandbox, at 8 and at
    the push worker's concurrency, the faster of the two → ``bare_per_s``;
    ``ratio_bare_client`` = push_per_s ÷ bare_per_s (target ≥ 0.5). The push path also
    reads the complaint, stores the Tracking ID, the timeline event and a notify job in one
    transaction, and runs through the job queue.

(c) ``--faults``: instead of (a) and (b), the hostile peer: the sandbox limits the client to
    R requests/s (burst 2R), answers 5xx to 20 % of requests, drops 5 % of connections,
    holds 5 % of creates for 30 s after acting on them and revokes every token every 50
    requests. A backlog of N complaints (default 1,000; --small 300) is pushed by the
    daemon's push worker as configured by default (``lapor.push_concurrency`` sized to R,
    ``request_timeout_s``, breaker, backoff). ``goodput_ratio`` = reports created per second
    while the backlog lasts (95 % of N ÷ the time until 95 % were pushed) ÷ R (target
    ≥ 0.6); ``goodput_ratio_whole_run`` counts the last 5 % too, i.e. the tail of jobs that
    failed more than once and wait out their backoff (``tail_s``); ``exactly_once`` = the
    sandbox holds exactly one report per complaint and every complaint holds that report's
    Tracking ID; ``attempts_spent`` and
    ``deferred`` show what the faults cost the queue.

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
from aggregator.lapor import make_port
from aggregator.lapor.http import HttpLaporAdapter, report_to_wire
from aggregator.lapor.push import PushHandlers, push_concurrency
from aggregator.logging import configure_logging
from aggregator.queue import JobQueue, Worker
from aggregator.storage import lapor as lapor_repo
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
        [
            sys.executable,
            "-m",
            "aggregator.lapor.sandbox",
            "--port",
            str(port),
            "--life",
            "none",
            "--client",
            "satukanal:sandbox-secret",
            "--client",
            "bare:bare-secret",
            *args,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=os.path.dirname(_HERE),
    )
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
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:  # requests it holds hanging (the faults run)
            proc.kill()
            proc.wait(timeout=10)


async def insert_backlog(pool: asyncpg.Pool, n: int) -> list[uuid.UUID]:
    ids = [uuid.uuid4() for _ in range(n)]
    async with pool.acquire() as conn, conn.transaction():
        await conn.executemany(
            """INSERT INTO complaints (id, source, channel, title, content, submitted_at)
               VALUES ($1, 'bench', 'sms', $2, $3, now())""",
            [
                (
                    cid,
                    f"Lampu jalan padam #{i}",
                    f"Lampu jalan di Jl. Tjilik Riwut km {i % 40} "
                    "padam sejak seminggu, mohon segera diperbaiki.",
                )
                for i, cid in enumerate(ids)
            ],
        )
        await conn.executemany(
            "INSERT INTO jobs (kind, complaint_id, payload, dedup_key) "
            "VALUES ('push', $1, '{}', $2)",
            [(c, f"push:{c}") for c in ids],
        )
    return ids


def services_for(pool: asyncpg.Pool, http: aiohttp.ClientSession, lapor: LaporConfig) -> Services:
    qcfg = QueueConfig(workers=WORKERS, poll_s=0.2)
    return Services(
        settings=Settings(demo=True, lapor=lapor, queue=qcfg),
        pool=pool,
        http=http,
        crypto=Crypto.from_config(CryptoConfig(), demo=True),
        queue=JobQueue(pool, qcfg, owner=f"bench:{os.getpid()}"),
    )


PushRun = tuple[float, dict[str, int], list[dict[str, Any]]]


async def push_all(server: str, base: str, n: int, lapor: LaporConfig) -> PushRun:
    async with scratch_db(server) as dsn:
        pool = await create_pool(dsn, min_size=2, max_size=WORKERS + 4)
        try:
            ids = await insert_backlog(pool, n)
            connector = aiohttp.TCPConnector(limit=lapor.max_connections)
            async with aiohttp.ClientSession(connector=connector) as http:
                services = services_for(pool, http, lapor)
                port = make_port(services)
                assert isinstance(port, HttpLaporAdapter)
                handlers = PushHandlers(services, port)
                # As the daemon runs it: lapor.push_concurrency, by default sized to the limit.
                loop = Worker(
                    services.queue, handlers.handlers(), concurrency=push_concurrency(lapor)
                )
                await port.agencies()  # token first: the measured part is pushing
                bodies = []
                async with pool.acquire() as conn:
                    for cid in ids:
                        row = (await lapor_repo.get_push_complaints(conn, [cid]))[cid]
                        bodies.append(report_to_wire(handlers.payload(cid, row, [])))
                started = time.perf_counter()
                while True:
                    await loop.run_once()
                    async with pool.acquire() as conn:
                        left = await conn.fetchval(
                            "SELECT count(*) FROM complaints WHERE lapor_tracking_id IS NULL"
                        )
                    if not left:
                        break
                    await asyncio.sleep(0.05)
                elapsed = time.perf_counter() - started
                return n / elapsed, dict(port.counts), bodies
        finally:
            await pool.close()


FAULTS = "error5xx=0.2,drop=0.05,timeout_after_create=0.05,revoke_every=50,hang_s=30"


async def push_through_faults(server: str, root: str, n: int, rate: float) -> dict[str, Any]:
    lapor = LaporConfig(
        adapter="http",
        base_url=root + "/api/v1",
        client_id="satukanal",
        client_secret="sandbox-secret",
        rate_limit_per_s=rate,
        rate_burst=int(rate * 2),
    )
    concurrency = push_concurrency(lapor)
    async with scratch_db(server) as dsn:
        pool = await create_pool(dsn, min_size=2, max_size=16)
        try:
            ids = await insert_backlog(pool, n)
            connector = aiohttp.TCPConnector(limit=max(lapor.max_connections, concurrency))
            async with aiohttp.ClientSession(connector=connector) as http:
                qcfg = QueueConfig()
                services = Services(
                    settings=Settings(demo=True, lapor=lapor, queue=qcfg),
                    pool=pool,
                    http=http,
                    crypto=Crypto.from_config(CryptoConfig(), demo=True),
                    queue=JobQueue(pool, qcfg, owner=f"bench:{os.getpid()}"),
                )
                port = HttpLaporAdapter(lapor, http)
                outcomes: dict[str, int] = {}
                loop = Worker(
                    services.queue,
                    PushHandlers(services, port).handlers(),
                    concurrency=push_concurrency(lapor),
                    # counted like the daemon's metrics
                    on_outcome=lambda _k, o: outcomes.__setitem__(o, outcomes.get(o, 0) + 1),
                )
                stop = asyncio.Event()
                started = time.perf_counter()
                task = asyncio.create_task(loop.run(stop))
                next_report = started + 5
                t95: float | None = None
                while True:
                    await asyncio.sleep(0.25)
                    async with pool.acquire() as conn:
                        left = await conn.fetchval(
                            "SELECT count(*) FROM complaints WHERE lapor_tracking_id IS NULL"
                        )
                        if t95 is None and n - left >= 0.95 * n:
                            t95 = time.perf_counter() - started
                        if time.perf_counter() >= next_report:
                            next_report += 5
                            states = dict(
                                await conn.fetch(
                                    "SELECT state::text, count(*) FROM jobs GROUP BY 1"
                                )
                            )
                            print(
                                f"  {time.perf_counter() - started:6.1f} s: {n - left} pushed,"
                                f" jobs {states}, requests {port.counts['requests']}, "
                                f"breaker {port.breaker.state}",
                                file=sys.stderr,
                                flush=True,
                            )
                            if os.environ.get("BENCH_DEBUG") and left < 10:
                                for r in await conn.fetch(
                                    "SELECT id, state, attempts, run_after - now() AS w,"
                                    " last_error FROM jobs WHERE kind = 'push'"
                                    " AND state <> 'done'"
                                ):
                                    print("   ", dict(r), file=sys.stderr, flush=True)
                    if not left or task.done():
                        break
                elapsed = time.perf_counter() - started
                stop.set()
                await task
                async with pool.acquire() as conn:
                    ours = {
                        str(r["id"]): r["lapor_tracking_id"]
                        for r in await conn.fetch("SELECT id, lapor_tracking_id FROM complaints")
                    }
                    attempts = await conn.fetchval(
                        "SELECT sum(attempts) FROM jobs WHERE kind = 'push'"
                    )
                    dead = await conn.fetchval(
                        "SELECT count(*) FROM jobs WHERE kind = 'push' AND state = 'dead'"
                    )
            async with aiohttp.ClientSession() as http:
                async with http.get(root + "/_sandbox/reports") as resp:
                    reports = (await resp.json())["items"]
                async with http.get(root + "/_sandbox/stats") as resp:
                    stats = await resp.json()
        finally:
            await pool.close()
    per_ref: dict[str, list[str]] = {}
    for r in reports:
        per_ref.setdefault(r["external_ref"], []).append(r["tracking_id"])
    exactly_once = (
        set(per_ref) == {str(c) for c in ids}
        and all(len(t) == 1 for t in per_ref.values())
        and all(ours[ref] == t[0] for ref, t in per_ref.items())
    )
    return {
        "faults": FAULTS,
        "backlog": n,
        "push_concurrency": concurrency,
        "elapsed_s": round(elapsed, 2),
        "created": len(reports),
        "goodput_per_s": round(0.95 * n / (t95 or elapsed), 3),
        "goodput_ratio": round(0.95 * n / (t95 or elapsed) / rate, 4),
        "t95_s": round(t95 or elapsed, 2),
        "goodput_ratio_whole_run": round(len(reports) / elapsed / rate, 4),
        "tail_s": round(elapsed - (t95 or elapsed), 2),
        "exactly_once": exactly_once,
        "dead": dead,
        "attempts_spent": attempts,
        "deferred": outcomes.get("deferred", 0),
        "retried": outcomes.get("retry", 0),
        "in_doubt": outcomes.get("in_doubt", 0),
        "breaker_trips": port.breaker.trips,
        "requests": port.counts["requests"],
        "http_429": port.counts["http_429"],
        "http_401": port.counts["http_401"],
        "token_fetches": port.counts["token_fetches"],
        "sandbox": {
            k: stats.get(k)
            for k in (
                "requests",
                "rate_limited",
                "injected_5xx",
                "dropped",
                "hung",
                "tokens_revoked",
            )
        },
    }


async def bare_client(base: str, bodies: list[dict[str, Any]], concurrency: int) -> float:
    """The baseline: the same bodies posted straight to the sandbox, ``concurrency`` at once
    over as many connections as the push worker's session may open."""
    limit = LaporConfig.model_fields["max_connections"].default
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=limit)) as http:
        async with http.post(
            base + "/oauth/token",
            data={
                "grant_type": "client_credentials",
                "client_id": "bare",
                "client_secret": "bare-secret",
            },
        ) as resp:
            token = (await resp.json())["access_token"]
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        for b in bodies:
            # A fresh reference per run: a second run must create, not be answered a replay.
            queue.put_nowait({**b, "external_ref": str(uuid.uuid4())})

        async def worker() -> None:
            while not queue.empty():
                body = queue.get_nowait()
                async with http.post(
                    base + "/reports",
                    json=body,
                    headers={
                        "Authorization": f"Bearer {token}",
                        "Idempotency-Key": body["external_ref"],
                    },
                ) as resp:
                    await resp.read()
                    assert resp.status == 201, resp.status

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return len(bodies) / (time.perf_counter() - started)


async def main() -> None:
    # One line per push on a terminal would measure the terminal; the bare client logs nothing.
    configure_logging("warning", "json")
    parser = argparse.ArgumentParser()
    parser.add_argument("--small", action="store_true")
    parser.add_argument("--rate", type=float, default=20.0)
    parser.add_argument("--backlog", type=int, default=None)
    parser.add_argument("--fast-count", type=int, default=None)
    parser.add_argument(
        "--dsn", default=os.environ.get("SATUKANAL_BENCH_DATABASE_URL", DEFAULT_DSN)
    )
    parser.add_argument("--rate-scope", choices=("database", "process"), default="database")
    parser.add_argument(
        "--faults",
        action="store_true",
        help="the hostile peer instead: goodput and exactly-once (c)",
    )
    args = parser.parse_args()
    if args.faults:
        configure_logging("error", "json")  # a warning per injected fault otherwise
        n = args.backlog or (300 if args.small else 1000)
        async with sandbox(
            "--rate", str(args.rate), "--burst", str(int(args.rate * 2)), "--faults", FAULTS
        ) as root:
            result = await push_through_faults(args.dsn, root, n, args.rate)
        print(
            f"(c) faults {FAULTS}: {result['created']} reports in {result['elapsed_s']} s, "
            f"goodput {result['goodput_per_s']}/s = {result['goodput_ratio']} of the limit "
            f"(whole run {result['goodput_ratio_whole_run']}, tail {result['tail_s']} s), "
            f"exactly once: {result['exactly_once']}",
            flush=True,
        )
        print(json.dumps({"bench": "push_faults", "rate_limit_per_s": args.rate, **result}))
        return
    backlog = args.backlog or (200 if args.small else 2000)
    fast_n = args.fast_count or (400 if args.small else 2000)
    burst = int(args.rate * 2)

    async with sandbox("--rate", str(args.rate), "--burst", str(burst)) as root:
        lapor = LaporConfig(
            adapter="http",
            base_url=root + "/api/v1",
            client_id="satukanal",
            client_secret="sandbox-secret",
            rate_limit_per_s=args.rate,
            rate_burst=burst,
            rate_limit_scope=args.rate_scope,
        )
        limited_rate, limited_counts, _ = await push_all(args.dsn, root, backlog, lapor)
    print(
        f"(a) rate-limited to {args.rate}/s: {backlog} pushes at {limited_rate:.2f}/s, "
        f"429 answers {limited_counts['http_429']}",
        flush=True,
    )

    async with sandbox("--no-rate-limit") as root:
        lapor = LaporConfig(
            adapter="http",
            base_url=root + "/api/v1",
            client_id="satukanal",
            client_secret="sandbox-secret",
            rate_limit_per_s=1e6,
            rate_burst=10**6,
            rate_limit_scope=args.rate_scope,
        )
        push_rate, _counts, bodies = await push_all(args.dsn, root, fast_n, lapor)
        # The baseline is the faster of the bare client at WORKERS and at the push
        # worker's own concurrency: the push worker gets no credit for more requests in
        # flight than a bare client would use to go as fast.
        bare_at = {
            c: await bare_client(root + "/api/v1", bodies, c)
            for c in sorted({WORKERS, push_concurrency(lapor)})
        }
        bare_rate = max(bare_at.values())
    print(
        f"(b) no limit: push worker {push_rate:.1f}/s (concurrency {push_concurrency(lapor)}), "
        "bare client " + ", ".join(f"{rate:.1f}/s at {c}" for c, rate in bare_at.items()),
        flush=True,
    )
    print(
        json.dumps(
            {
                "bench": "push",
                "rate_limit_per_s": args.rate,
                "rate_limit_scope": args.rate_scope,
                "backlog": backlog,
                "limited_push_per_s": round(limited_rate, 3),
                "limited_rate_ratio": round(limited_rate / args.rate, 4),
                "http_429": limited_counts["http_429"],
                "fast_count": fast_n,
                "push_per_s": round(push_rate, 1),
                "bare_per_s": round(bare_rate, 1),
                "ratio_bare_client": round(push_rate / bare_rate, 3),
                "bare_per_s_at": {str(c): round(r, 1) for c, r in bare_at.items()},
                "push_concurrency": push_concurrency(lapor),
            }
        )
    )


if __name__ == "__main__":
    asyncio.run(main())
