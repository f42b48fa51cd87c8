"""Job queue throughput against two baselines measured in the same run on the same server.

    .venv/bin/python bench/queue.py [--jobs N] [--small] [--dsn DSN] [--rounds R]

satukanal: N jobs, each enqueued in its own transaction by 4 concurrent enqueuers (one
``JobQueue.enqueue`` call per transaction, NOTIFY included), then claimed and completed by 4
concurrent ``Worker``s (``run_once``, default ``QueueConfig``, a no-op handler). The rate is

    jobs_per_s = N / (enqueue time + drain time)

i.e. the whole life of a job, both phases timed separately and printed too.

Baselines:
- ``insert_per_s``: N single-row INSERT transactions with raw asyncpg from 4 concurrent
  tasks, into a bare table (bigserial primary key, kind, jsonb payload, created_at): what
  this PostgreSQL commits for one-row transactions and nothing else.
- ``procrastinate_per_s``: the same N jobs deferred one per call (4 concurrent deferrers)
  and executed by 4 concurrent procrastinate workers (a no-op task, PsycopgConnector),
  timed the same way: N / (defer time + work time).

Each transaction has the same shape on both sides: one statement, committed on its own
(``--explicit-tx`` wraps both in BEGIN … COMMIT instead). The machine may be shared and its
load may change from one minute to the next, so every round runs all three back to back
(``--rounds``, default 3; satukanal and the INSERT baseline take turns going first) and the
best round of each counts; every round is printed with the load average. ``ratio_insert``
compares the best of each, which may come from different minutes; ``ratio_rounds`` are the
ratios within each round (both measured within the same minute or two), and
``ratio_median`` their median: the steadier figure when the load changes under the run.

Where the job's time goes (issue 18): an enqueue is one round trip and one commit, as an
INSERT is; a busy worker claims a batch and completes the batch before it in one
transaction (one commit per batch) and runs no per-job timer (one watchdog per worker
enforces ``job_timeout_s``).

Server: ``--dsn``, else SATUKANAL_BENCH_DATABASE_URL, else
postgresql://postgres@127.0.0.1:5432/postgres. The bench creates its own scratch databases
and drops them. The last line of output is one JSON object.
"""

# ruff: noqa: E402 - sys.path is fixed before the other imports, see below
from __future__ import annotations

import os
import sys

# Run as ``python bench/queue.py``, this directory comes first on sys.path, where this file
# (and bench/email.py) would shadow the standard library's ``queue`` (and ``email``).
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != _HERE]

import argparse
import asyncio
import contextlib
import json
import statistics
import time
import uuid
from collections.abc import AsyncIterator, Awaitable
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from aggregator.queue import JobQueue, Worker
from aggregator.storage.db import create_pool, init_connection
from aggregator.storage.migrate import migrate
from schemas.config import QueueConfig
from schemas.events import Job

DEFAULT_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
CONCURRENCY = 4
KIND = "noop"


def _with_db(dsn: str, db: str) -> str:
    return urlunsplit(urlsplit(dsn)._replace(path="/" + db))


@contextlib.asynccontextmanager
async def scratch_database(server_dsn: str, label: str) -> AsyncIterator[str]:
    name = f"satukanal_bench_{label}_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(server_dsn)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    try:
        yield _with_db(server_dsn, name)
    finally:
        admin = await asyncpg.connect(server_dsn)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


def _split(n: int, parts: int) -> list[range]:
    step = -(-n // parts)
    return [range(i, min(i + step, n)) for i in range(0, n, step)]


async def _timed(coros: list[Awaitable[Any]]) -> float:
    t0 = time.perf_counter()
    await asyncio.gather(*coros)
    return time.perf_counter() - t0


async def _quiesce(conn: asyncpg.Connection, table: str) -> None:
    """Same starting line for every round: empty table, stats fresh, dirty pages written."""
    await conn.execute(f"TRUNCATE {table} RESTART IDENTITY CASCADE")
    await conn.execute(f"VACUUM ANALYZE {table}")
    with contextlib.suppress(asyncpg.InsufficientPrivilegeError):
        await conn.execute("CHECKPOINT")


# -- satukanal ------------------------------------------------------------------------------


async def bench_satukanal(
    dsn: str, n: int, explicit_tx: bool, batch_size: int | None = None
) -> dict[str, float]:
    pool = await create_pool(dsn, min_size=CONCURRENCY + 2, max_size=CONCURRENCY * 2 + 4)
    try:
        async with pool.acquire() as conn:
            await _quiesce(conn, "jobs")
        cfg = QueueConfig() if batch_size is None else QueueConfig(batch_size=batch_size)
        queue = JobQueue(pool, cfg, owner=f"bench:{os.getpid()}")

        async def enqueue(ids: range) -> None:
            async with pool.acquire() as conn:
                for i in ids:
                    if explicit_tx:
                        async with conn.transaction():
                            await queue.enqueue(conn, KIND, payload={"n": i})
                    else:
                        await queue.enqueue(conn, KIND, payload={"n": i})

        enqueue_s = await _timed([enqueue(r) for r in _split(n, CONCURRENCY)])
        await queue.aclose()

        handled = 0

        async def noop(job: Job) -> None:
            nonlocal handled
            handled += 1

        workers = [Worker(queue, {KIND: noop}, concurrency=4) for _ in range(CONCURRENCY)]
        drain_s = await _timed([w.run_once() for w in workers])
        async with pool.acquire() as conn:
            done = await conn.fetchval("SELECT count(*) FROM jobs WHERE state = 'done'")
        if handled != n or done != n:
            raise SystemExit(f"satukanal: handled {handled}, done {done}, expected {n}")
        return {"enqueue_s": enqueue_s, "drain_s": drain_s, "per_s": n / (enqueue_s + drain_s)}
    finally:
        await pool.close()


# -- raw INSERT -----------------------------------------------------------------------------

BARE_TABLE = """
CREATE TABLE IF NOT EXISTS bench_insert (
    id         bigserial PRIMARY KEY,
    kind       text NOT NULL,
    payload    jsonb NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL DEFAULT now()
)"""


async def bench_insert(dsn: str, n: int, explicit_tx: bool) -> dict[str, float]:
    conns = [await asyncpg.connect(dsn) for _ in range(CONCURRENCY)]
    try:
        for conn in conns:
            await init_connection(conn)
        await conns[0].execute(BARE_TABLE)
        await _quiesce(conns[0], "bench_insert")
        sql = "INSERT INTO bench_insert (kind, payload) VALUES ($1, $2)"

        async def insert(conn: asyncpg.Connection, ids: range) -> None:
            for i in ids:
                if explicit_tx:
                    async with conn.transaction():
                        await conn.execute(sql, KIND, {"n": i})
                else:
                    await conn.execute(sql, KIND, {"n": i})

        elapsed = await _timed(
            [insert(c, r) for c, r in zip(conns, _split(n, CONCURRENCY), strict=True)]
        )
        count = await conns[0].fetchval("SELECT count(*) FROM bench_insert")
        if count != n:
            raise SystemExit(f"insert: {count} rows, expected {n}")
        return {"insert_s": elapsed, "per_s": n / elapsed}
    finally:
        for conn in conns:
            await conn.close()


# -- procrastinate --------------------------------------------------------------------------


async def bench_procrastinate(dsn: str, n: int) -> dict[str, float]:
    import logging

    import procrastinate

    logging.getLogger("procrastinate").setLevel(logging.ERROR)
    connector = procrastinate.PsycopgConnector(
        conninfo=dsn, min_size=CONCURRENCY, max_size=CONCURRENCY * 2 + 2
    )
    app = procrastinate.App(connector=connector)
    handled = 0

    @app.task(name="noop")
    async def noop(n: int) -> None:
        nonlocal handled
        handled += 1

    async with app.open_async():
        await app.schema_manager.apply_schema_async()

        async def defer(ids: range) -> None:
            for i in ids:
                await noop.defer_async(n=i)

        defer_s = await _timed([defer(r) for r in _split(n, CONCURRENCY)])
        work_s = await _timed(
            [
                app.run_worker_async(
                    wait=False,
                    concurrency=1,
                    name=f"w{w}",
                    install_signal_handlers=False,
                    listen_notify=False,
                    delete_jobs="never",
                )
                for w in range(CONCURRENCY)
            ]
        )
    if handled != n:
        raise SystemExit(f"procrastinate: handled {handled}, expected {n}")
    return {"defer_s": defer_s, "work_s": work_s, "per_s": n / (defer_s + work_s)}


# -- main -----------------------------------------------------------------------------------


def _line(label: str, figures: dict[str, float]) -> None:
    load = round(os.getloadavg()[0], 2)
    print(
        label, json.dumps({k: round(v, 3) for k, v in figures.items()}), f"load {load}", flush=True
    )


async def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    ap.add_argument("--jobs", type=int, default=20_000)
    ap.add_argument("--small", action="store_true", help="2,000 jobs, 2 rounds: a quick check")
    ap.add_argument("--rounds", type=int, default=None, help="interleaved rounds (default 3)")
    ap.add_argument("--dsn", default=os.environ.get("SATUKANAL_BENCH_DATABASE_URL", DEFAULT_DSN))
    ap.add_argument(
        "--explicit-tx",
        action="store_true",
        help="BEGIN … COMMIT around each job/row instead of one-statement commits",
    )
    ap.add_argument(
        "--batch-size", type=int, default=None, help="claim batch (default: QueueConfig's, 50)"
    )
    ap.add_argument("--skip-procrastinate", action="store_true")
    args = ap.parse_args(argv)
    n = 2_000 if args.small else args.jobs
    rounds = args.rounds or (2 if args.small else 3)

    ours: list[dict[str, float]] = []
    raw: list[dict[str, float]] = []
    procs: list[dict[str, float]] = []
    async with (
        scratch_database(args.dsn, "queue") as queue_dsn,
        scratch_database(args.dsn, "insert") as insert_dsn,
    ):
        conn = await asyncpg.connect(queue_dsn)
        try:
            await migrate(conn)
        finally:
            await conn.close()
        load_start = os.getloadavg()[0]
        for r in range(rounds):
            if r % 2:
                ours.append(await bench_satukanal(queue_dsn, n, args.explicit_tx, args.batch_size))
                _line(f"round {r + 1} satukanal", ours[-1])
            raw.append(await bench_insert(insert_dsn, n, args.explicit_tx))
            _line(f"round {r + 1} insert", raw[-1])
            if not r % 2:
                ours.append(await bench_satukanal(queue_dsn, n, args.explicit_tx, args.batch_size))
                _line(f"round {r + 1} satukanal", ours[-1])
            if not args.skip_procrastinate:
                async with scratch_database(args.dsn, "procrastinate") as proc_dsn:
                    procs.append(await bench_procrastinate(proc_dsn, n))
                _line(f"round {r + 1} procrastinate", procs[-1])

    best = max(ours, key=lambda f: f["per_s"])
    best_raw = max(raw, key=lambda f: f["per_s"])
    proc = max(procs, key=lambda f: f["per_s"]) if procs else None
    in_round = [o["per_s"] / i["per_s"] for o, i in zip(ours, raw, strict=True)]
    result: dict[str, Any] = {
        "bench": "queue",
        "jobs": n,
        "jobs_per_s": round(best["per_s"], 1),
        "insert_per_s": round(best_raw["per_s"], 1),
        "procrastinate_per_s": round(proc["per_s"], 1) if proc else None,
        "ratio_insert": round(best["per_s"] / best_raw["per_s"], 3),
        "ratio_procrastinate": round(best["per_s"] / proc["per_s"], 2) if proc else None,
        "ratio_rounds": [round(x, 3) for x in in_round],
        "ratio_median": round(statistics.median(in_round), 3),
        "enqueue_per_s": round(n / best["enqueue_s"], 1),
        "drain_per_s": round(n / best["drain_s"], 1),
        "rounds": rounds,
        "batch_size": args.batch_size or QueueConfig().batch_size,
        "explicit_tx": args.explicit_tx,
        "load": [round(load_start, 2), round(os.getloadavg()[0], 2)],
    }
    return result


if __name__ == "__main__":
    out = asyncio.run(main())
    print(json.dumps(out))
