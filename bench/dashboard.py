"""Dashboard pages and API lists at a million complaints: p50/p95 of every one.

    .venv/bin/python bench/dashboard.py [--complaints N] [--rounds R] [--dsn DSN] [--keep]

Seeds a scratch database (migrated like production) with N complaints (default 1,000,000)
spread over three years, in realistic proportion: ~3 events, ~1.3 follow-ups, ~1.3
notifications, ~1.2 SLA clocks and ~0.6 LAPOR! status events per complaint, 500,000
reporters, 5,000 quarantined items, dead and finished jobs. Rows are made by
``generate_series`` in the server, in chunks, with the dashboard's triggers disabled (as a
restore would); the counters are then rebuilt with ``dashboard_counts_rebuild()`` and the
agency statistics with the statistics loop's own code, and the tables analysed.

Then the real web application (``make_app``, real HTTP on a local port, a real session
cookie or bearer token) is asked for every dashboard page and API list R times (default 40,
after two warm-up requests) for each role that matters (admin; an agency user, scoped to
one agency); p50 and p95 of each are printed.

Baselines measured in the same run on the same server: ``/healthz`` (the HTTP floor: the
same stack without a query), and the two statements the old dashboard ran at this size —
the status count over the complaints table (old overview) and the per-complaint SLA report
query over a year (old agency page). Each page's p95 is printed as a ratio to the floor.

The last line is one JSON object; ``p95_ms_max`` is the worst page's p95 (target < 150 ms).
Server: ``--dsn``, else SATUKANAL_BENCH_DATABASE_URL, else
postgresql://postgres@127.0.0.1:5432/postgres.
"""

# ruff: noqa: E402 - sys.path is fixed before the other imports, see bench/queue.py
from __future__ import annotations

import os
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != _HERE]

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import statistics
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import aiohttp
import asyncpg
from aiohttp import web

from aggregator.crypto import Crypto
from aggregator.followup.sla import WorkingCalendar
from aggregator.followup.stats import add_months, month_start, refresh_months
from aggregator.queue import JobQueue
from aggregator.storage.admin import create_token
from aggregator.storage.db import create_pool
from aggregator.storage.migrate import migrate
from aggregator.storage.sqlfiles import q
from aggregator.web.app import make_app
from aggregator.wiring.services import Services
from schemas.config import CryptoConfig, Settings

DEFAULT_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)
YEARS = 3
CHUNK = 100_000
AGENCIES = {f"OPD{n}": str(n) for n in range(45, 75)}
KNOWN_PHONE = "+6281200000001"

WORDS = (
    "jalan berlubang lampu padam sampah menumpuk drainase tersumbat banjir air bersih "
    "mati pungli parkir liar pelayanan lambat sekolah rusak puskesmas antre izin "
    "terlambat pohon tumbang trotoar rusak angkot ugal bising kabel menjuntai"
).split()
PLACES = (
    "Jl. Merdeka",
    "Jl. Beliang",
    "Pasar Besar",
    "Kel. Palangka",
    "Jl. Tjilik Riwut",
    "Kec. Pahandut",
    "Jl. Yos Sudarso",
    "Jl. Diponegoro",
    "Kel. Menteng",
    "Terminal",
)
REASONS = (
    "empty complaint text",
    "reply matches no known complaint",
    "no e-mail headers: not an e-mail message",
    "not an SMS intake record: bad",
    "parser failed: KeyError: 'isi'",
)


def _with_db(dsn: str, db: str) -> str:
    return urlunsplit(urlsplit(dsn)._replace(path="/" + db))


@contextlib.asynccontextmanager
async def scratch_database(server_dsn: str, keep: bool) -> AsyncIterator[str]:
    name = f"satukanal_bench_dashboard_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(server_dsn)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    try:
        yield _with_db(server_dsn, name)
    finally:
        if keep:
            print(f"kept database {name}", flush=True)
        else:
            admin = await asyncpg.connect(server_dsn)
            try:
                await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            finally:
                await admin.close()


# ---- seeding --------------------------------------------------------------------------------
COMPLAINTS_SQL = """
INSERT INTO complaints (id, source, channel, reporter_id, title, content, agency_id,
    source_agency, anonymous, received_at, status, status_at, lapor_tracking_id,
    lapor_created_at, origin, first_real_followup_at, needs_triage, updated_at,
    closed_without_real_followup, reopen_count)
SELECT id, source, channel, reporter_id, title, title || ', ' || detail, agency_id,
       source_agency, anonymous, received_at, status::complaint_status, received_at
         + interval '3 days', tracking, lapor_created_at, origin,
       CASE WHEN real_followup THEN lapor_created_at + make_interval(hours => 20 + (r3 * 300)::int)
       END, needs_triage, received_at, closed_wo, CASE WHEN r4 < 0.04 THEN 1 ELSE 0 END
FROM (
    SELECT md5('c' || g)::uuid AS id, s.source, s.channel,
           CASE WHEN r1 < 0.9 THEN md5('r' || (1 + g % $4))::uuid END AS reporter_id,
           initcap(($5::text[])[1 + (g % array_length($5, 1))]) || ' '
             || ($5::text[])[1 + ((g / 7) % array_length($5, 1))] || ' di '
             || ($6::text[])[1 + ((g / 3) % array_length($6, 1))]
             || CASE WHEN g % 10007 = 0 THEN ' longsor' ELSE '' END AS title,
           'sudah ' || (1 + g % 9) || ' hari, mohon segera ditangani. '
             || ($5::text[])[1 + ((g / 11) % array_length($5, 1))] AS detail,
           CASE WHEN st NOT IN ('received', 'manual_pending', 'belum_terverifikasi',
                                'terverifikasi', 'duplicate')
                THEN (45 + floor(30 * r2 * r2))::int::text END AS agency_id,
           CASE WHEN s.channel = 'web' THEN 'OPD' || (45 + floor(30 * r2 * r2))::int END
             AS source_agency,
           r1 >= 0.9 AS anonymous, received_at, st AS status,
           CASE WHEN st NOT IN ('received', 'manual_pending', 'duplicate')
                THEN (1000000 + g)::text END AS tracking,
           CASE WHEN st NOT IN ('received', 'manual_pending', 'duplicate')
                THEN received_at + interval '40 minutes' END AS lapor_created_at,
           CASE WHEN s.channel = 'web' THEN jsonb_build_object('receipt_code',
                upper(substr(md5('k' || g), 1, 4) || '-' || substr(md5('k' || g), 5, 4)))
                ELSE '{}'::jsonb END AS origin,
           st IN ('selesai', 'arsip') AND r3 < 0.8 OR st = 'ditindaklanjuti'
             OR (st = 'diproses' AND r3 < 0.3) AS real_followup,
           st = 'received' AND r3 < 0.3 AS needs_triage,
           st = 'selesai' AND r3 >= 0.8 AS closed_wo, r3, r4
    FROM (
        SELECT g, random() AS r1, random() AS r2, random() AS r3, random() AS r4,
               $3::timestamptz - make_interval(secs => ($2 - g + 1)
                 * ($7::float8 / $2)) AS received_at
        FROM generate_series($1::int, least($1::int + $8 - 1, $2::int)) g
    ) base
    CROSS JOIN LATERAL (SELECT CASE
        WHEN base.received_at > $3::timestamptz - interval '2 days' THEN
            (ARRAY['received', 'belum_terverifikasi', 'terverifikasi', 'terdisposisi'])
              [1 + (g % 4)]
        WHEN base.received_at > $3::timestamptz - interval '45 days' THEN
            (ARRAY['terverifikasi', 'terdisposisi', 'diproses', 'ditindaklanjuti', 'selesai',
                   'diproses', 'terdisposisi', 'tertunda'])[1 + (g % 8)]
        WHEN r4 < 0.04 THEN 'duplicate'
        WHEN r4 < 0.06 THEN 'arsip'
        WHEN r4 < 0.07 THEN 'bukan_wewenang'
        WHEN r4 < 0.08 THEN 'diproses'
        ELSE 'selesai' END AS st) x
    CROSS JOIN LATERAL (SELECT
        (ARRAY['sms-kota', 'sms-kota', 'imap-kota', 'web-kota', 'web-kota', 'wa-kota'])
          [1 + (g % 6)] AS source,
        (ARRAY['sms', 'sms', 'email', 'web', 'web', 'whatsapp'])[1 + (g % 6)] AS channel) s
) c
"""


async def seed(pool: asyncpg.Pool, n: int, crypto: Crypto) -> dict[str, float]:
    timings: dict[str, float] = {}
    span_s = YEARS * 365 * 86400
    async with pool.acquire() as conn:
        await conn.execute("SELECT setseed(0.16)")
        await conn.execute("ALTER TABLE complaints DISABLE TRIGGER USER")
        await conn.execute("ALTER TABLE followups DISABLE TRIGGER USER")
        t0 = time.perf_counter()
        reporters = max(n // 2, 1)
        await conn.execute(
            "INSERT INTO reporters (id, key_id, phone_enc, phone_hash, email_hash)"
            " SELECT md5('r' || g)::uuid, 'k1', '\\x00'::bytea, sha256(('p' || g)::bytea),"
            " CASE WHEN g % 3 = 0 THEN sha256(('e' || g)::bytea) END"
            " FROM generate_series(1, $1) g",
            reporters,
        )
        await conn.execute(
            "UPDATE reporters SET phone_hash = $1 WHERE id = md5('r1')::uuid",
            crypto.match_hash("phone", KNOWN_PHONE),
        )
        timings["reporters_s"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        for start in range(1, n + 1, CHUNK):
            await conn.execute(
                COMPLAINTS_SQL,
                start,
                n,
                NOW,
                reporters,
                list(WORDS),
                list(PLACES),
                float(span_s),
                CHUNK,
            )
            print(f"  complaints {min(start + CHUNK - 1, n):,}/{n:,}", flush=True)
        timings["complaints_s"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        # Follow-ups: a boilerplate acknowledgement for most answered complaints, the real
        # one at first_real_followup_at.
        await conn.execute("""
            INSERT INTO followups (complaint_id, at, agency_id, text, label, kind)
            SELECT id, lapor_created_at + interval '5 hours', agency_id,
                   'Terima kasih, laporan Anda sedang kami tindak lanjuti.',
                   'acknowledgement'::followup_label,
                   'response'
            FROM complaints
            WHERE agency_id IS NOT NULL AND status IN ('diproses', 'ditindaklanjuti', 'selesai',
                                                      'arsip', 'tertunda')
            UNION ALL
            SELECT id, first_real_followup_at, agency_id,
                   'Tim UPT sudah menangani di lokasi pada pukul 09.00, foto terlampir.',
                   'substantive_with_evidence', 'response'
            FROM complaints WHERE first_real_followup_at IS NOT NULL""")
        await conn.execute("""
            INSERT INTO events (complaint_id, kind, at, actor, data)
            SELECT c.id, k.kind, c.received_at + k.off, 'system', '{}'::jsonb
            FROM complaints c
            CROSS JOIN (VALUES ('received', interval '0'), ('lapor_pushed', interval '40 min'),
                               ('status_changed', interval '3 days')) k(kind, off)
            WHERE k.kind = 'received' OR c.lapor_tracking_id IS NOT NULL""")
        await conn.execute("""
            INSERT INTO notifications (id, complaint_id, kind, channel, source, dedup_key, state,
                                       created_at, sent_at)
            SELECT md5('n' || k || c.id::text)::uuid, c.id, k, c.channel, c.source,
                   'bench:' || k || ':' || c.id::text, 'sent', c.received_at + interval '1 hour',
                   c.received_at + interval '1 hour'
            FROM complaints c CROSS JOIN unnest(ARRAY['receipt', 'followup']) k
            WHERE NOT c.anonymous AND (k = 'receipt' OR c.first_real_followup_at IS NOT NULL)""")
        await conn.execute(
            """
            INSERT INTO sla_clocks (complaint_id, clock, started_at, due_at, met_at, breached_at,
                                    agency_id)
            SELECT id, 'first_response', lapor_created_at, lapor_created_at + interval '7 days',
                   CASE WHEN first_real_followup_at < lapor_created_at + interval '7 days'
                        THEN first_real_followup_at END,
                   CASE WHEN (first_real_followup_at IS NULL
                              OR first_real_followup_at >= lapor_created_at + interval '7 days')
                             AND lapor_created_at + interval '7 days' < $1
                        THEN lapor_created_at + interval '7 days' END,
                   agency_id
            FROM complaints WHERE lapor_tracking_id IS NOT NULL
            UNION ALL
            SELECT id, 'verification', lapor_created_at, lapor_created_at + interval '3 days',
                   CASE WHEN status <> 'belum_terverifikasi' THEN lapor_created_at
                        + interval '1 day' END,
                   NULL, agency_id
            FROM complaints
            WHERE lapor_tracking_id IS NOT NULL AND received_at > $1 - interval '90 days'
            """,
            NOW,
        )
        await conn.execute("""
            INSERT INTO lapor_events (event_id, tracking_id, type, at, body, complaint_id, applied)
            SELECT 'ev-' || lapor_tracking_id, lapor_tracking_id, 'status_changed',
                   status_at, jsonb_build_object('status', 'selesai'), id, true
            FROM complaints WHERE status = 'selesai'""")
        await conn.execute(
            """
            INSERT INTO raw_items (source, source_ref, received_at, ingested_at, payload, state,
                                   reason)
            SELECT 'sms-kota', 'q-' || g, $1::timestamptz - make_interval(mins => g * 7),
                   $1::timestamptz - make_interval(mins => g * 7),
                   convert_to('isi rusak ' || g, 'UTF8'),
                   'quarantined', ($2::text[])[1 + g % array_length($2, 1)]
            FROM generate_series(1, 5000) g""",
            NOW,
            list(REASONS),
        )
        await conn.execute(
            """
            INSERT INTO jobs (kind, complaint_id, payload, state, attempts, last_error,
                              created_at, finished_at)
            SELECT CASE WHEN g % 3 = 0 THEN 'notify' ELSE 'push' END,
                   md5('c' || (1 + g * 37 % $1))::uuid, '{}'::jsonb,
                   CASE WHEN g <= 300 THEN 'dead' ELSE 'done' END::job_state,
                   CASE WHEN g <= 300 THEN 12 ELSE 1 END,
                   CASE WHEN g <= 300 THEN 'gateway refused (' || g || ')' END,
                   $2::timestamptz - make_interval(mins => g),
                   $2::timestamptz - make_interval(mins => g)
            FROM generate_series(1, 50000) g""",
            n,
            NOW,
        )
        timings["related_s"] = time.perf_counter() - t0
        await conn.execute("ALTER TABLE complaints ENABLE TRIGGER USER")
        await conn.execute("ALTER TABLE followups ENABLE TRIGGER USER")
        t0 = time.perf_counter()
        await conn.execute("SELECT dashboard_counts_rebuild()")
        names = [(v, f"Dinas Contoh {v}") for v in AGENCIES.values()]
        await conn.executemany(q("upsert_lapor_agency"), [(i, nm, None) for i, nm in names])
        timings["counters_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    settings = Settings(demo=True)
    tz = settings.sla.timezone
    last = month_start(NOW.date())
    await refresh_months(
        pool, WorkingCalendar(settings.sla), tz, add_months(last, -12 * YEARS - 1), last, NOW
    )
    timings["agency_stats_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    async with pool.acquire() as conn:
        await conn.execute("VACUUM ANALYZE")
    timings["analyze_s"] = time.perf_counter() - t0
    return timings


# ---- measuring ------------------------------------------------------------------------------
def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, max(0, round(p * len(s) + 0.5) - 1))]


async def timed_get(http: aiohttp.ClientSession, url: str, **kw: Any) -> float:
    t0 = time.perf_counter()
    async with http.get(url, allow_redirects=False, **kw) as resp:
        await resp.read()
        if resp.status != 200:
            raise RuntimeError(f"{url}: HTTP {resp.status}")
    return (time.perf_counter() - t0) * 1000


async def login(http: aiohttp.ClientSession, base: str, token: str) -> None:
    async with http.post(
        base + "/dasbor/masuk", data={"token": token}, allow_redirects=False
    ) as resp:
        assert resp.status == 303, resp.status


async def measure(pool: asyncpg.Pool, rounds: int) -> dict[str, dict[str, float]]:
    settings = Settings(demo=True, agencies=AGENCIES)
    crypto = Crypto.from_config(CryptoConfig(), demo=True)
    async with aiohttp.ClientSession() as http:
        services = Services(
            settings=settings,
            pool=pool,
            http=http,
            crypto=crypto,
            queue=JobQueue(pool, settings.queue, owner="bench"),
        )
        app = make_app(services)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        base = f"http://127.0.0.1:{port}"
        async with pool.acquire() as conn:
            _, admin_tok = await create_token(conn, name="bench", role="admin", agency=None)
            _, agency_tok = await create_token(conn, name="opd", role="agency", agency="OPD46")
            sample = await conn.fetchrow(
                "SELECT id, lapor_tracking_id, received_at FROM complaints"
                " WHERE lapor_tracking_id IS NOT NULL ORDER BY received_at DESC OFFSET 500 LIMIT 1"
            )
            receipt = await conn.fetchval(
                "SELECT origin ->> 'receipt_code' FROM complaints WHERE origin ? 'receipt_code'"
                " ORDER BY received_at DESC OFFSET 900 LIMIT 1"
            )
        page2 = f"{sample['received_at'].isoformat()}_{sample['id']}"
        admin_pages = {
            "overview": "/dasbor",
            "complaints": "/dasbor/pengaduan",
            "complaints_page2": "/dasbor/pengaduan?setelah=" + page2.replace("+", "%2B"),
            "complaints_status": "/dasbor/pengaduan?status=diproses",
            "complaints_channel": "/dasbor/pengaduan?kanal=whatsapp",
            "complaints_agency": "/dasbor/pengaduan?opd=50",
            "complaints_status_agency": "/dasbor/pengaduan?status=selesai&opd=60",
            "complaints_sla_open": "/dasbor/pengaduan?sla=open",
            "complaints_sla_breached": "/dasbor/pengaduan?sla=breached",
            "complaints_label": "/dasbor/pengaduan?label=acknowledgement",
            "search_tracking": f"/dasbor/pengaduan?q={sample['lapor_tracking_id']}",
            "search_receipt": f"/dasbor/pengaduan?q={receipt}",
            "search_text_common": "/dasbor/pengaduan?q=jalan",
            "search_text_two_words": "/dasbor/pengaduan?q=lampu+padam",
            "search_text_rare": "/dasbor/pengaduan?q=longsor",
            "search_reporter": "/dasbor/pengaduan?pelapor=%2B6281200000001",
            "complaint_detail": f"/dasbor/pengaduan/{sample['id']}",
            "sla": "/dasbor/tenggat",
            "quarantine": "/dasbor/karantina",
            "jobs": "/dasbor/antrian",
            "triage": "/dasbor/triase",
            "agencies": "/dasbor/opd",
            "agencies_36m": "/dasbor/opd?bulan=36",
            "agencies_csv": "/dasbor/opd.csv",
            "indicators_csv": "/dasbor/indikator.csv",
        }
        agency_pages = {
            "agency:overview": "/dasbor",
            "agency:complaints": "/dasbor/pengaduan",
            "agency:complaints_status": "/dasbor/pengaduan?status=diproses",
            "agency:search_text": "/dasbor/pengaduan?q=banjir",
            "agency:sla": "/dasbor/tenggat",
            "agency:agencies": "/dasbor/opd",
        }
        api = {
            "api:complaints": "/api/complaints",
            "api:complaints_status": "/api/complaints?status=diproses",
            "api:complaints_agency": "/api/complaints?agency=50",
            "api:complaint": f"/api/complaints/{sample['id']}",
            "api:quarantine": "/api/quarantine",
            "api:status": "/api/status",
        }
        results: dict[str, list[float]] = {}
        floor: list[float] = []
        # unsafe: the cookie jar keeps cookies of an IP-address host (127.0.0.1)
        async with (
            aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as admin_http,
            aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as agency_http,
            aiohttp.ClientSession() as api_http,
        ):
            await login(admin_http, base, admin_tok)
            await login(agency_http, base, agency_tok)
            bearer = {"Authorization": f"Bearer {admin_tok}"}
            plan = (
                [(k, admin_http, v, {}) for k, v in admin_pages.items()]
                + [(k, agency_http, v, {}) for k, v in agency_pages.items()]
                + [(k, api_http, v, {"headers": bearer}) for k, v in api.items()]
            )
            for _ in range(2):  # warm-up: caches, prepared statements
                for _name, h, url, kw in plan:
                    await timed_get(h, base + url, **kw)
            for _ in range(rounds):
                floor.append(await timed_get(api_http, base + "/healthz"))
                for name, h, url, kw in plan:
                    results.setdefault(name, []).append(await timed_get(h, base + url, **kw))
        await runner.cleanup()
    out = {
        name: {"p50_ms": round(statistics.median(v), 1), "p95_ms": round(pct(v, 0.95), 1)}
        for name, v in results.items()
    }
    out["baseline:healthz"] = {
        "p50_ms": round(statistics.median(floor), 1),
        "p95_ms": round(pct(floor, 0.95), 1),
    }
    return out


async def old_statements(pool: asyncpg.Pool) -> dict[str, dict[str, float]]:
    """What the old dashboard ran: a count over the complaints, the SLA report query."""
    out = {}
    async with pool.acquire() as conn:
        times = []
        for _ in range(5):
            t0 = time.perf_counter()
            await conn.fetch("SELECT status::text, count(*) FROM complaints GROUP BY status")
            times.append((time.perf_counter() - t0) * 1000)
        out["baseline:old_status_count"] = {
            "p50_ms": round(statistics.median(times), 1),
            "p95_ms": round(max(times), 1),
        }
        t0 = time.perf_counter()
        await conn.fetch(q("report_sla_complaints"), NOW - dt.timedelta(days=365), NOW)
        once = round((time.perf_counter() - t0) * 1000, 1)
        out["baseline:old_sla_report_year"] = {"p50_ms": once, "p95_ms": once}
    return out


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--complaints", type=int, default=1_000_000)
    ap.add_argument("--rounds", type=int, default=40)
    ap.add_argument("--dsn", default=os.environ.get("SATUKANAL_BENCH_DATABASE_URL", DEFAULT_DSN))
    ap.add_argument("--keep", action="store_true", help="keep the scratch database")
    ap.add_argument("--seed-only", action="store_true", help="seed, keep the database, stop")
    ap.add_argument("--reuse", metavar="DB", help="measure a database kept by --keep")
    args = ap.parse_args()
    async with contextlib.AsyncExitStack() as stack:
        if args.reuse:
            dsn = _with_db(args.dsn, args.reuse)
        else:
            dsn = await stack.enter_async_context(
                scratch_database(args.dsn, args.keep or args.seed_only)
            )
            conn = await asyncpg.connect(dsn)
            try:
                await migrate(conn)
            finally:
                await conn.close()
        pool = await create_pool(dsn, min_size=2, max_size=10)
        try:
            crypto = Crypto.from_config(CryptoConfig(), demo=True)
            timings: dict[str, float] = {}
            if not args.reuse:
                print(f"seeding {args.complaints:,} complaints …", flush=True)
                timings = await seed(pool, args.complaints, crypto)
            if args.seed_only:
                return
            async with pool.acquire() as conn:
                sizes = {
                    t: await conn.fetchval(f"SELECT count(*) FROM {t}")
                    for t in (
                        "complaints",
                        "events",
                        "followups",
                        "notifications",
                        "sla_clocks",
                        "reporters",
                        "lapor_events",
                        "raw_items",
                        "jobs",
                        "complaint_hourly",
                        "complaint_counts",
                        "agency_monthly",
                    )
                }
            print("seeded: " + ", ".join(f"{k} {v:,}" for k, v in sizes.items()), flush=True)
            print("seed times: " + ", ".join(f"{k} {v:.1f}" for k, v in timings.items()))
            pages = await measure(pool, args.rounds)
            base = await old_statements(pool)
        finally:
            await pool.close()
    floor = pages["baseline:healthz"]["p95_ms"] or 0.1
    print(f"{'page':34} {'p50 ms':>8} {'p95 ms':>8} {'p95/healthz':>12}")
    for name, r in {**pages, **base}.items():
        print(f"{name:34} {r['p50_ms']:8.1f} {r['p95_ms']:8.1f} {r['p95_ms'] / floor:12.1f}")
    measured = {k: v for k, v in pages.items() if not k.startswith("baseline:")}
    worst = max(measured, key=lambda k: measured[k]["p95_ms"])
    print(
        json.dumps(
            {
                "complaints": sizes["complaints"],
                "rows": sizes,
                "rounds": args.rounds,
                "pages": measured,
                "baselines": {**base, "healthz": pages["baseline:healthz"]},
                "worst_page": worst,
                "p95_ms_max": measured[worst]["p95_ms"],
                "p95_ms_max_over_healthz": round(measured[worst]["p95_ms"] / floor, 1),
            },
            ensure_ascii=False,
        )
    )


if __name__ == "__main__":
    asyncio.run(main())
