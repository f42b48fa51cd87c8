"""Benchmark: backfill of a legacy form archive from MariaDB vs just moving its bytes.

Same run, same rows: (1) the baseline sends the very statement the ``sql_table`` source
pages with (pengaduan ⋈ masyarakat for name and phone, keyset pages of ``--batch`` rows,
latin1 bytes) through a bare asyncmy cursor and COPYs each page unchanged into one
PostgreSQL table without indexes: the cost of just moving those bytes; (2) ``satukanal
backfill`` reads the same archive through the source (responses, repairs, the raw item's
original bytes) and stores it through intake (raw items, encrypted reporters, complaints,
events; history rows on the COPY bulk path) with the default history/push policy. Prints
rows/s of both, the ratio and the peak RSS, one JSON object on the last line.

    .venv/bin/python bench/backfill.py [--rows N | --small] [--pg-dsn DSN]
"""

# ruff: noqa: E402  (sys.path is fixed before the imports, see below)
from __future__ import annotations

import sys
from pathlib import Path

# The repository root instead of bench/ (bench/email.py would shadow the stdlib module).
sys.path[0] = str(Path(__file__).resolve().parents[1])

import argparse
import asyncio
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
    args = ap.parse_args()
    rows = 20_000 if args.small else args.rows

    legacy = await create_legacy_db(seed=False)
    pg_name = f"satukanal_bench_{uuid.uuid4().hex[:8]}"
    admin_pg = await asyncpg.connect(args.pg_dsn)
    await admin_pg.execute(f'CREATE DATABASE "{pg_name}"')
    dsn = args.pg_dsn.rsplit("/", 1)[0] + "/" + pg_name
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
        samples: list[float] = []
        peak = [rss_mb()]

        async def sample() -> None:
            while True:
                peak[0] = max(peak[0], rss_mb())
                await asyncio.sleep(0.2)

        def on_batch(s: Any) -> None:
            if s.read % max(1, rows // 10) < args.batch:
                samples.append(round(rss_mb(), 1))

        sampler = asyncio.create_task(sample())
        t = time.perf_counter()
        summary = await run_backfill(
            services, source, policy=Policy(), progress=False, out=io.StringIO(), on_batch=on_batch
        )
        t_fill = time.perf_counter() - t
        sampler.cancel()
        await source.close()
        await pool.close()
        rate = summary.read / t_fill
        print(
            f"backfill: {summary.read:,} rows in {t_fill:.1f} s = {rate:,.0f} rows/s "
            f"({summary.imported:,} complaints, {summary.pushed:,} pushed, "
            f"{summary.history:,} history, {summary.quarantined:,} quarantined)",
            file=sys.stderr,
        )
        peak_mb = peak[0]  # sampled during the backfill (every 0.2 s)
        process_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(
            json.dumps(
                {
                    "bench": "backfill",
                    "rows": summary.read,
                    "rows_per_s": round(rate, 1),
                    "baseline_rows_per_s": round(base_rate, 1),
                    "ratio_baseline": round(rate / base_rate, 4),
                    "source_read_per_s": round(read_rate, 1),
                    "ratio_source_read": round(read_rate / base_rate, 4),
                    "peak_rss_mb": round(peak_mb, 1),
                    "rss_mb_during": samples,
                    "process_peak_rss_mb": round(process_peak, 1),
                    "backfill_s": round(t_fill, 2),
                    "baseline_s": round(t_base, 2),
                    "imported": summary.imported,
                    "pushed": summary.pushed,
                    "history": summary.history,
                    "quarantined": summary.quarantined,
                }
            )
        )
    finally:
        await drop_legacy_db(legacy)
        await admin_pg.execute(f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)')
        await admin_pg.close()


if __name__ == "__main__":
    asyncio.run(main())
