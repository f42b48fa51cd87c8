"""Benchmark: backfill of a legacy form archive from MariaDB vs just moving its bytes.

Same run, same rows: (1) the baseline sends the very statement the ``sql_table`` source
pages with (pengaduan ⋈ masyarakat for name and phone, keyset pages of ``--batch`` rows,
latin1 bytes) through a bare asyncmy cursor and COPYs each page unchanged into one
PostgreSQL table without indexes: the cost of just moving those bytes; (2) ``satukanal
backfill`` reads the same archive through the source (responses, repairs, the raw item's
original bytes) and stores it through intake (raw items, encrypted reporters, complaints,
events; history rows on the COPY bulk path) with the default history/push policy. Prints
rows/s of both, the ratio, the worker processes used, the CPU per row in this process and in
the workers, and the peak memory of the process tree (RSS and PSS, workers included); one
JSON object per backfill run on the last lines.

    .venv/bin/python bench/backfill.py [--rows N | --small] [--workers 0,1,auto] [--pg-dsn DSN]

Where the time goes (2 CPUs shared with other work at load 8-17; py-spy and the CPU
figures this bench prints): before the worker pool the event loop's process did everything,
~550-650 us of CPU per row (routing about half, parsing and repair a fifth, json.dumps for
the COPY's jsonb most of the writes' share). With 2 workers this process spends ~125-220 us
per row: reading the old database and building each raw item's original bytes (encode_row)
is its largest part, then the COPY and unpickling the planned pages. A worker spends
~360-470 us per row: routing 59 % (normalisation and n-grams 21 %, the model 17 %, the
policy's rules 17 %), parsing and repair 13 %, JSON encoding 6 %, pickling the page back
9 %. PostgreSQL adds 180-330 us per row (four indexed tables, the complaint counters'
trigger). Back to back at 20,000 rows: 1,542 rows/s with 2 workers, 901 before (0.025x and
0.021x); in one bench run 2 workers are 15-40 % faster than --workers 0. The total CPU per
row bounds the rate on two busy cores; docs/operations.md has the table.
"""

# ruff: noqa: E402  (sys.path is fixed before the imports, see below)
from __future__ import annotations

import sys
from pathlib import Path

# The repository root instead of bench/ (bench/email.py would shadow the stdlib module).
sys.path[0] = str(Path(__file__).resolve().parents[1])

import argparse
import asyncio
import dataclasses
import io
import json
import resource
import time
import uuid
from typing import Any

import asyncmy
import asyncpg
import psutil

from aggregator.crypto import Crypto, generate_key
from aggregator.intake.backfill import Policy, run_backfill
from aggregator.queue import JobQueue
from aggregator.storage.db import create_pool
from aggregator.storage.migrate import migrate
from aggregator.wiring.services import Services
from aggregator.wiring.sources import build_source
from connectors.forms.sql_table import SqlTableSource
from schemas.config import CryptoConfig, EncryptionKey, Settings, SourceConfig
from tests.forms.legacy import HOST, JOIN_QUERY, PORT, create_legacy_db, drop_legacy_db, fill


def rss_mb() -> float:
    return psutil.Process().memory_info().rss / 2**20


def tree_mb() -> tuple[float, float]:
    """RSS of this process and its children (the backfill's workers) added up, and the same
    as PSS (shared pages divided among the processes that share them: what the tree costs
    the machine; forked workers share the interpreter, the code and the model)."""
    me = psutil.Process()
    rss = pss = 0.0
    for p in [me, *me.children(recursive=True)]:
        try:
            m = p.memory_full_info()
        except psutil.Error:
            continue
        rss += m.rss
        pss += getattr(m, "pss", m.rss)
    return rss / 2**20, pss / 2**20


async def backend_cpu(pool: Any) -> dict[int, float]:
    """CPU seconds of the PostgreSQL backends serving this bench's database, by pid (the
    server runs on this machine)."""
    async with pool.acquire() as conn:
        pids = await conn.fetch(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
        )
    out: dict[int, float] = {}
    for r in pids:
        try:
            t = psutil.Process(r["pid"]).cpu_times()
        except psutil.Error:
            continue
        out[r["pid"]] = t.user + t.system
    return out


async def measure(
    services: Any, source: Any, rows: int, batch: int, workers: int | None, base_rate: float
) -> dict[str, Any]:
    """One backfill of the whole archive: rate, CPU of this process and of the workers,
    peak memory of the process tree."""
    samples: list[float] = []
    peak = {"rss": rss_mb(), "tree_rss": 0.0, "tree_pss": 0.0}

    async def sample() -> None:
        while True:
            rss, pss = tree_mb()
            peak["rss"] = max(peak["rss"], rss_mb())
            peak["tree_rss"] = max(peak["tree_rss"], rss)
            peak["tree_pss"] = max(peak["tree_pss"], pss)
            await asyncio.sleep(1.0)  # reading smaps costs CPU: not more often

    def on_batch(s: Any) -> None:
        if s.read % max(1, rows // 10) < batch:
            samples.append(round(rss_mb(), 1))

    sampler = asyncio.create_task(sample())
    pg0 = await backend_cpu(services.pool)
    cpu0, kids0 = psutil.Process().cpu_times(), resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    summary = await run_backfill(
        services,
        source,
        policy=Policy(),
        progress=False,
        out=io.StringIO(),
        on_batch=on_batch,
        workers=workers,
    )
    t_fill = time.perf_counter() - t
    sampler.cancel()
    cpu1, kids1 = psutil.Process().cpu_times(), resource.getrusage(resource.RUSAGE_CHILDREN)
    pg1 = await backend_cpu(services.pool)
    pg_cpu = sum(t - pg0.get(pid, 0.0) for pid, t in pg1.items())
    main_cpu = (cpu1.user - cpu0.user) + (cpu1.system - cpu0.system)
    # Workers are reaped when the pool shuts down, so their CPU is in RUSAGE_CHILDREN.
    worker_cpu = (kids1.ru_utime - kids0.ru_utime) + (kids1.ru_stime - kids0.ru_stime)
    rate = summary.read / t_fill
    print(
        f"backfill, {summary.workers} workers: {summary.read:,} rows in {t_fill:.1f} s = "
        f"{rate:,.0f} rows/s = {rate / base_rate:.3f}x baseline "
        f"({summary.imported:,} complaints, {summary.pushed:,} pushed, "
        f"{summary.history:,} history, {summary.quarantined:,} quarantined); CPU per row: "
        f"{main_cpu / summary.read * 1e6:,.0f} us here, {worker_cpu / summary.read * 1e6:,.0f} "
        f"us in workers, {pg_cpu / summary.read * 1e6:,.0f} us in PostgreSQL; "
        f"peak {peak['tree_pss']:,.0f} MB PSS ({peak['tree_rss']:,.0f} MB RSS) "
        "with the workers",
        file=sys.stderr,
    )
    return {
        "bench": "backfill",
        "workers": summary.workers,
        "rows": summary.read,
        "rows_per_s": round(rate, 1),
        "ratio_baseline": round(rate / base_rate, 4),
        "main_cpu_us_per_row": round(main_cpu / summary.read * 1e6, 1),
        "worker_cpu_us_per_row": round(worker_cpu / summary.read * 1e6, 1),
        "postgres_cpu_us_per_row": round(pg_cpu / summary.read * 1e6, 1),
        "peak_rss_mb": round(peak["rss"], 1),
        "peak_tree_rss_mb": round(peak["tree_rss"], 1),
        "peak_tree_pss_mb": round(peak["tree_pss"], 1),
        "rss_mb_during": samples,
        "pages_in_flight_peak": summary.pages_in_flight_peak,
        "backfill_s": round(t_fill, 2),
        "imported": summary.imported,
        "pushed": summary.pushed,
        "history": summary.history,
        "quarantined": summary.quarantined,
    }


async def baseline(
    db: Any, pg: asyncpg.Connection, source: SqlTableSource, chunk: int
) -> tuple[int, float]:
    """The source's own paged SELECT through a bare cursor (tuples, no decoding), each page
    COPYed unchanged into one table."""
    await pg.execute(
        "CREATE TABLE baseline (id int, tgl_pengaduan text, nik bytea, "
        "isi_laporan bytea, foto bytea, status bytea, nama bytea, telp bytea, "
        "m_nik bytea)"
    )
    conn = await asyncmy.connect(
        host=HOST,
        port=PORT,
        user="root",
        password="",
        database=db.database,
        charset="latin1",
        use_unicode=False,
    )
    first, after = source.page_sql(after=False), source.page_sql(after=True)
    n, last = 0, None
    started = time.perf_counter()
    try:
        async with conn.cursor() as cur:
            while True:
                if last is None:
                    await cur.execute(first, (chunk,))
                else:
                    await cur.execute(after, (last, chunk))
                rows = await cur.fetchall()
                if not rows:
                    break
                await pg.copy_records_to_table(
                    "baseline", records=[(r[0], str(r[1]), *r[2:]) for r in rows]
                )
                n += len(rows)
                last = rows[-1][0]
    finally:
        conn.close()
        await conn.ensure_closed()
    return n, time.perf_counter() - started


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--small", action="store_true", help="20,000 rows")
    ap.add_argument("--batch", type=int, default=1000, help="source batch size")
    ap.add_argument("--pg-dsn", default="postgresql://postgres@127.0.0.1:5432/postgres")
    ap.add_argument(
        "--workers",
        type=lambda v: [None if w == "auto" else int(w) for w in v.split(",")],
        default=[None],
        help="worker processes, or a comma-separated list to compare in one run, each into "
        "a new database (auto: [backfill] workers, one per CPU; 0: the one process)",
    )
    args = ap.parse_args()
    rows = 20_000 if args.small else args.rows

    legacy = await create_legacy_db(seed=False)
    pg_name = f"satukanal_bench_{uuid.uuid4().hex[:8]}"
    admin_pg = await asyncpg.connect(args.pg_dsn)
    await admin_pg.execute(f'CREATE DATABASE "{pg_name}"')
    dsn = args.pg_dsn.rsplit("/", 1)[0] + "/" + pg_name
    extra: list[str] = []
    try:
        t = time.perf_counter()
        await fill(legacy, rows)
        print(
            f"generated {rows:,} rows in MariaDB in {time.perf_counter() - t:.1f} s",
            file=sys.stderr,
        )
        settings = Settings(
            crypto=CryptoConfig(
                keys=[EncryptionKey(id="k1", secret=generate_key())], hmac_key=generate_key()
            )
        )
        cfg = SourceConfig(
            name="form-bench",
            kind="sql_table",
            batch_size=args.batch,
            options={
                "url": legacy.url,
                "query": JOIN_QUERY,
                "fields": {"name": "nama", "phone": "telp", "orphan_check": "m_nik"},
            },
        )
        settings = settings.model_copy(update={"sources": [cfg]})
        pool = await create_pool(dsn, min_size=1, max_size=4)
        services = Services(
            settings=settings,
            pool=pool,
            http=None,  # type: ignore[arg-type]
            crypto=Crypto.from_config(settings.crypto),
            queue=JobQueue(pool, settings.queue, owner="bench"),
        )
        source = build_source(cfg, services)
        async with pool.acquire() as conn:
            await migrate(conn)
            n_base, t_base = await baseline(legacy, conn, source, args.batch)
            await conn.execute("DROP TABLE baseline")
        base_rate = n_base / t_base
        print(
            f"baseline: {n_base:,} rows in {t_base:.1f} s = {base_rate:,.0f} rows/s",
            file=sys.stderr,
        )
        # Where the time goes: reading alone through the source (each row a raw item
        # carrying its original bytes), nothing parsed or stored.
        t = time.perf_counter()
        n_read = 0
        async for batch in source.pull(source.backfill_cursor(None)):
            n_read += len(batch.items)
        read_rate = n_read / (time.perf_counter() - t)
        print(f"source read alone: {read_rate:,.0f} rows/s", file=sys.stderr)
        results = []
        for i, workers in enumerate(args.workers):
            if i:
                # The same archive again, into a database of its own: after a TRUNCATE the
                # second run's PostgreSQL CPU per row was 2-4x the first's.
                await source.close()
                await pool.close()
                name = f"{pg_name}_{i}"
                extra.append(name)
                await admin_pg.execute(f'CREATE DATABASE "{name}"')
                pool = await create_pool(
                    args.pg_dsn.rsplit("/", 1)[0] + "/" + name, min_size=1, max_size=4
                )
                services = dataclasses.replace(
                    services, pool=pool, queue=JobQueue(pool, settings.queue, owner="bench")
                )
                source = build_source(cfg, services)
                async with pool.acquire() as conn:
                    await migrate(conn)
            results.append(await measure(services, source, rows, args.batch, workers, base_rate))
        await source.close()
        await pool.close()
        for r in results:
            r.update(
                baseline_rows_per_s=round(base_rate, 1),
                baseline_s=round(t_base, 2),
                source_read_per_s=round(read_rate, 1),
                ratio_source_read=round(read_rate / base_rate, 4),
            )
            print(json.dumps(r))
    finally:
        await drop_legacy_db(legacy)
        for name in [pg_name, *extra]:
            await admin_pg.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin_pg.close()


if __name__ == "__main__":
    asyncio.run(main())
