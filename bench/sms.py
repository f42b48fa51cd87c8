"""Benchmark: Gammu inbox rows ingested into satukanal vs a plain SELECT of the same rows.

10,000 inbox rows (``--small``: 1,000), 20% of them parts of two-part messages, in a
scratch Gammu SMSD database (Gammu's own PostgreSQL schema) on the PostgreSQL server at
``--server`` (default 127.0.0.1:5432). Ingest = the real ``IngestLoop.run_once`` with the
``gammu`` source into a fresh migrated satukanal database on the same server: read,
group multipart by UDH, parse, intake (one transaction per batch), ``Processed`` set.
Baseline, same run: ``SELECT`` of the same columns of every row (``fetch`` into Python).
Prints one JSON object on its last line.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import random
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit

# Run as a script, this folder is sys.path[0]; its siblings (bench/email.py) would shadow
# the standard library for what is imported below (aiohttp imports ``email``).
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import asyncpg  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from aggregator.crypto import Crypto  # noqa: E402
from aggregator.intake.loop import IngestLoop  # noqa: E402
from aggregator.storage.db import create_pool  # noqa: E402
from aggregator.storage.migrate import migrate  # noqa: E402
from aggregator.wiring.services import Services  # noqa: E402
from aggregator.wiring.sources import build_source  # noqa: E402
from schemas.config import CryptoConfig, Settings, SourceConfig  # noqa: E402

SCHEMA = Path("/usr/share/doc/gammu-smsd/examples/pgsql.sql")
WORDS = (
    "jalan rusak berlubang lampu mati sampah menumpuk banjir drainase tersumbat pohon "
    "tumbang parkir liar pungutan air PDAM tidak mengalir kantor kelurahan pelayanan "
    "lambat izin usaha sekolah puskesmas antre"
).split()


def _dsn(server: str, db: str) -> str:
    return urlsplit(server)._replace(path="/" + db).geturl()


def gammu_schema() -> str:
    # Gammu's file starts with CREATE LANGUAGE plpgsql, which fails on PostgreSQL >= 9.
    return "\n".join(x for x in SCHEMA.read_text().splitlines() if "CREATE LANGUAGE" not in x)


def make_rows(
    n: int, multipart_share: float, rng: random.Random, prefix: str = ""
) -> list[tuple[object, ...]]:
    rows: list[tuple[object, ...]] = []
    n_parts = int(n * multipart_share) // 2 * 2
    base = dt.datetime(2026, 11, 28, 7, 0, 0)
    i = 0
    ref = 0
    while len(rows) < n:
        sender = f"08{rng.randint(11, 99)}{rng.randint(10_000_000, 99_999_999)}"
        when = base + dt.timedelta(seconds=i)
        i += 1
        if len(rows) < n_parts:
            ref = (ref + 1) % 256
            texts = [
                (prefix + " ".join(rng.choices(WORDS, k=30)))[:153],
                " ".join(rng.choices(WORDS, k=8)),
            ]
            for seq, t in enumerate(texts, start=1):
                rows.append(
                    (
                        when,
                        t.encode("utf-16-be").hex().upper(),
                        sender,
                        f"050003{ref:02X}02{seq:02X}",
                        t if seq == 1 else "",
                        "bench",
                    )
                )
        else:
            t = prefix + " ".join(rng.choices(WORDS, k=rng.randint(5, 25)))
            rows.append((when, t.encode("utf-16-be").hex().upper(), sender, "", t, "bench"))
    # Interleave: parts of one message are not adjacent in a real inbox.
    rng.shuffle(rows)
    return rows[:n]


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--small", action="store_true")
    ap.add_argument("--rows", type=int, default=None)
    ap.add_argument("--server", default="postgresql://postgres@127.0.0.1:5432/postgres")
    ap.add_argument("--batch", type=int, default=500)
    ap.add_argument(
        "--keyword",
        default="",
        help="prefix every SMS (e.g. ADUAN): explicit new complaints skip intake's "
        "per-item 'reply by phone' look-up, to show what it costs",
    )
    args = ap.parse_args()
    n = args.rows or (1_000 if args.small else 10_000)
    rng = random.Random(7)
    tag = uuid.uuid4().hex[:8]
    gammu_db, our_db = f"bench_gammu_{tag}", f"bench_satukanal_{tag}"
    admin = await asyncpg.connect(args.server)
    for db in (gammu_db, our_db):
        await admin.execute(f'CREATE DATABASE "{db}"')
    try:
        g = await asyncpg.connect(_dsn(args.server, gammu_db))
        schema = gammu_schema()
        await g.execute(schema)
        rows = make_rows(n, 0.2, rng, args.keyword + " " if args.keyword else "")
        await g.copy_records_to_table(
            "inbox",
            records=rows,
            columns=[
                "ReceivingDateTime",
                "Text",
                "SenderNumber",
                "UDH",
                "TextDecoded",
                "RecipientID",
            ],
        )
        messages = n - sum(1 for r in rows if str(r[3]).endswith("02")) if rows else 0

        # Baseline: the same rows, same columns, plain SELECT into Python.
        t0 = time.perf_counter()
        got = await g.fetch(
            'SELECT "ID", "ReceivingDateTime", "Text", "SenderNumber", "Coding", '
            '"UDH", "SMSCNumber", "Class", "TextDecoded", "RecipientID" '
            'FROM inbox WHERE NOT "Processed" ORDER BY "ID"'
        )
        select_s = time.perf_counter() - t0
        assert len(got) == n

        c = await asyncpg.connect(_dsn(args.server, our_db))
        await migrate(c)
        await c.close()
        pool = await create_pool(_dsn(args.server, our_db), min_size=2, max_size=4)
        settings = Settings(demo=True)
        services = Services(
            settings=settings,
            pool=pool,
            http=None,  # type: ignore[arg-type]  # the gammu source makes no HTTP calls
            crypto=Crypto.from_config(CryptoConfig(), demo=True),
            queue=None,  # type: ignore[arg-type]  # intake writes jobs with SQL
        )
        src = build_source(
            SourceConfig(
                name="bench-gammu",
                kind="gammu",
                batch_size=args.batch,
                options={"driver": "pgsql", "timezone": "UTC", "dsn": _dsn(args.server, gammu_db)},
            ),
            services,
        )
        loop = IngestLoop(services, src)
        t0 = time.perf_counter()
        handled = await loop.run_once()
        ingest_s = time.perf_counter() - t0
        async with pool.acquire() as conn:
            stored = await conn.fetchval("SELECT count(*) FROM raw_items")
            complaints = await conn.fetchval("SELECT count(*) FROM complaints")
        left = await g.fetchval('SELECT count(*) FROM inbox WHERE NOT "Processed"')
        await src.close()
        await pool.close()
        await g.close()
        assert stored == messages == handled and left == 0, (stored, messages, handled, left)
        out = {
            "bench": "sms",
            "rows": n,
            "messages": messages,
            "multipart_share": 0.2,
            "complaints": complaints,
            "ingest_s": round(ingest_s, 3),
            "select_s": round(select_s, 4),
            "messages_per_s": round(messages / ingest_s, 1),
            "rows_per_s": round(n / ingest_s, 1),
            "select_rows_per_s": round(n / select_s, 1),
            # ours / baseline, like every other bench: the share of a bare SELECT's row rate
            "ratio_select": round(select_s / ingest_s, 4),
            "batch_size": args.batch,
            "keyword": args.keyword or None,
        }
        print(json.dumps(out))
    finally:
        for db in (gammu_db, our_db):
            await admin.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
        await admin.close()


if __name__ == "__main__":
    asyncio.run(main())
