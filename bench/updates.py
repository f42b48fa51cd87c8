"""LAPOR! updates feed catch-up, with its baseline measured in the same run.

    .venv/bin/python bench/updates.py [--small] [--events N] [--dsn DSN]

The sandbox (its own process) holds a feed of N events (default 100,000; --small 10,000):
N/10 reports of 10 events each (status changes and agency responses), all for complaints
the database holds. The updates loop catches up from an empty cursor: pages of 500 read
over HTTP, each stored by event_id, applied (status never backwards, follow-ups labelled by
the quality classifier, timeline, notify jobs) and committed with the cursor in one
transaction. ``events_per_s`` = N ÷ catch-up time.

Baseline ``raw_insert_per_s``: the same N events (already in memory) inserted with raw
asyncpg into an empty copy of lapor_events, 500 per transaction (``executemany`` of one
INSERT … ON CONFLICT DO NOTHING), i.e. only storing them, no HTTP, no applying.
``ratio_raw_insert`` = events_per_s ÷ raw_insert_per_s.

Server: ``--dsn``, else SATUKANAL_BENCH_DATABASE_URL, else
postgresql://postgres@127.0.0.1:5432/postgres. The last line of output is one JSON object.
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
import datetime as dt
import json
import time
import uuid
from typing import Any

import aiohttp

from aggregator.lapor.feed import UpdatesLoop
from aggregator.lapor.http import HttpLaporAdapter
from aggregator.logging import configure_logging
from aggregator.storage.db import create_pool
from bench.push import DEFAULT_DSN, sandbox, scratch_db, services_for
from schemas.config import LaporConfig

PAGE = 500


async def main() -> None:
    configure_logging("warning", "json")
    parser = argparse.ArgumentParser()
    parser.add_argument("--small", action="store_true")
    parser.add_argument("--events", type=int, default=None)
    parser.add_argument(
        "--dsn", default=os.environ.get("SATUKANAL_BENCH_DATABASE_URL", DEFAULT_DSN)
    )
    args = parser.parse_args()
    n_events = args.events or (10_000 if args.small else 100_000)
    per_report = 10
    n_reports = n_events // per_report

    async with (
        sandbox("--no-rate-limit") as root,
        scratch_db(args.dsn) as dsn,
        aiohttp.ClientSession() as http,
    ):
        ids = [uuid.uuid4() for _ in range(n_reports)]
        items: list[dict[str, Any]] = []
        for start in range(0, n_reports, 2000):
            async with http.post(
                root + "/_sandbox/seed",
                json={
                    "external_refs": [str(i) for i in ids[start : start + 2000]],
                    "events_per_report": per_report,
                },
            ) as resp:
                assert resp.status == 200, await resp.text()
                items += (await resp.json())["items"]
        pool = await create_pool(dsn, min_size=2, max_size=6)
        try:
            async with pool.acquire() as conn:
                await conn.executemany(
                    """INSERT INTO complaints (id, source, channel, title, content, status,
                                               status_at, lapor_tracking_id, lapor_created_at)
                       VALUES ($1, 'bench', 'web', 'Laporan', 'Isi laporan uji feed',
                               'belum_terverifikasi', $2, $3, $2)""",
                    [
                        (
                            uuid.UUID(it["external_ref"]),
                            dt.datetime.fromisoformat(it["created_at"]),
                            it["tracking_id"],
                        )
                        for it in items
                    ],
                )
            lapor = LaporConfig(
                adapter="http",
                base_url=root + "/api/v1",
                client_id="satukanal",
                client_secret="sandbox-secret",
                rate_limit_per_s=1e6,
                rate_burst=10**6,
                updates_page=PAGE,
            )
            services = services_for(pool, http, lapor)
            port = HttpLaporAdapter(lapor, http)
            await port.agencies()  # token first
            loop = UpdatesLoop(services, port)
            started = time.perf_counter()
            applied = await loop.run_once()
            elapsed = time.perf_counter() - started
            assert applied == n_events, (applied, n_events)
            async with pool.acquire() as conn:
                stored = await conn.fetchval("SELECT count(*) FROM lapor_events WHERE applied")
                followups = await conn.fetchval("SELECT count(*) FROM followups")
            assert stored == n_events
            events_per_s = n_events / elapsed
            print(
                f"updates loop: {n_events} events in {elapsed:.1f}s = {events_per_s:.0f}/s "
                f"({followups} follow-ups labelled)",
                flush=True,
            )

            # Baseline: the same events, raw inserts, 500 per transaction.
            cursor = None
            events: list[dict[str, Any]] = []
            while True:
                page = await port.read_updates(cursor, PAGE)
                if not page.events:
                    break
                events += [e.raw for e in page.events]
                cursor = page.next_cursor
            async with pool.acquire() as conn:
                await conn.execute("CREATE TABLE raw_events (LIKE lapor_events INCLUDING ALL)")
                rows = [
                    (
                        e["event_id"],
                        e["tracking_id"],
                        e["type"],
                        dt.datetime.fromisoformat(e["at"]),
                        json.dumps(e),
                    )
                    for e in events
                ]
                started = time.perf_counter()
                for i in range(0, len(rows), PAGE):
                    async with conn.transaction():
                        await conn.executemany(
                            "INSERT INTO raw_events (event_id, tracking_id, type, at, body) "
                            "VALUES ($1, $2, $3, $4, $5::jsonb) ON CONFLICT DO NOTHING",
                            rows[i : i + PAGE],
                        )
                raw_elapsed = time.perf_counter() - started
            raw_per_s = len(rows) / raw_elapsed
            print(
                f"raw asyncpg insert: {len(rows)} events in {raw_elapsed:.1f}s = {raw_per_s:.0f}/s",
                flush=True,
            )
        finally:
            await pool.close()
    print(
        json.dumps(
            {
                "bench": "updates",
                "events": n_events,
                "page": PAGE,
                "events_per_s": round(events_per_s, 1),
                "raw_insert_per_s": round(raw_per_s, 1),
                "ratio_raw_insert": round(events_per_s / raw_per_s, 3),
                "followups_labelled": followups,
            }
        )
    )


if __name__ == "__main__":
    asyncio.run(main())
