"""End to end: SMS arriving → pushed to LAPOR! → Tracking ID recorded → acknowledgement sent.

    .venv/bin/python bench/e2e.py [--small] [--count N] [--rate R] [--paced-s S]
                                  [--backlog B] [--dsn DSN]

The daemon runs as it does in production — ``python -m aggregator run`` in its own process,
with a configuration file — with one ``sms_http`` source whose replies go through Kannel.
Around it, in this process: a Kannel ``sendsms`` endpoint that records each message it is
given, and 16 gateway connections posting SMS to the source's webhook. The LAPOR! sandbox
runs in a third process, without a rate limit (the bench measures our path, not LAPOR!'s
limit). Each SMS comes from its own number, so each is a complaint of its own.

(a) Throughput: ``--count`` SMS (default 3,000; --small 500) posted as fast as the intake
    answers; ``e2e_per_s`` = SMS ÷ (last acknowledgement − first post), every SMS
    accounted for: its complaint holds a Tracking ID and its acknowledgement (the SMS with
    that Tracking ID) reached Kannel exactly once.
    Baseline in the same run: ``pgbench`` one-row INSERT transactions at 16 clients into a
    scratch table on the same server (``-T 10``, before and after (a); the faster counts).
    ``ratio_pgbench`` = e2e_per_s ÷ pgbench TPS (target ≥ 0.25).
(b) Latency: SMS posted at ``--rate`` per second (default 5: 18,000 an hour, far above a
    city's busiest day, and below what the daemon sustains, so what is measured is one
    complaint's path and not a queue) for ``--paced-s`` seconds (default 20; --small 10):
    arrival (the post) →
    acknowledgement (Kannel's receipt) → ``ack_latency_p50_s``, ``ack_latency_p99_s``
    (target p99 < 2 s: the SMS webhook has no poll interval). In (a) every SMS is queued
    behind the flood, so its latencies (``flood_ack_latency_*``) say how long the flood
    took, not how long one complaint does.
(c) ``--backlog B`` (default 1,000,000; --small 20,000; 0: skip): a backfill's work is
    queued — B archived complaints, each with its push job in the bulk lane, as
    ``satukanal backfill`` leaves them — and (b) runs again while the daemon pushes that
    backlog: ``ack_latency_p99_s_with_backfill`` against ``ack_latency_p99_s``, and
    ``backfill_pushed_during`` the bulk pushes done meanwhile (it was running).

The webhook's requests are written as the daemon writes them in production: those arriving
together share one intake transaction (group commit, ``spool.group_window_ms`` and
``spool.group_max_items`` at their defaults).

Measuring aids, for the daemon only: ``BENCH_PROFILE=out.prof`` runs it under cProfile;
``BENCH_STATEMENTS=out.json`` counts its SQL statements by text (``bench/count_statements.py``)
and, with ``--backlog 0``, adds ``statements_per_sms`` (round trips per complaint: every
statement of the run ÷ every SMS posted, warm-up and (b) included) to the result.

Two policy holds are off here, so that what is measured is the work and not a wait the
operator chose: the quiet window that holds an SMS for more from the same sender
(``bursts.quiet_window_s``, 180 s by default) and the merge window that holds a message to
a citizen for more news to send with it (``notify.merge_window_s``, 60 s by default). With
the defaults an SMS's acknowledgement leaves about 240 s after it arrived, by design.

Server: ``--dsn``, else SATUKANAL_BENCH_DATABASE_URL, else
postgresql://postgres@127.0.0.1:5432/postgres (scratch databases, dropped afterwards).
The last line of output is one JSON object.
"""

# ruff: noqa: E402 - sys.path is fixed before the other imports
from __future__ import annotations

import os
import sys

# Run as ``python bench/e2e.py``, this directory comes first on sys.path, where
# bench/email.py and bench/queue.py would shadow the standard library.
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != _HERE]
sys.path.insert(0, os.path.dirname(_HERE))

import argparse
import asyncio
import contextlib
import json
import re
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import aiohttp
import asyncpg
from aiohttp import web

from aggregator.crypto import generate_key
from aggregator.storage.migrate import migrate

DEFAULT_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
SENDERS = 16
PGBENCH_CLIENTS = 16
SECRET = "gw-secret"
ACK = re.compile(r"No\. #(\S+)\.")
ENV = {k: v for k, v in os.environ.items() if not k.startswith("SATUKANAL_")}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _with_db(dsn: str, db: str) -> str:
    return urlunsplit(urlsplit(dsn)._replace(path="/" + db))


@contextlib.asynccontextmanager
async def scratch_db(server: str, label: str) -> AsyncIterator[str]:
    name = f"satukanal_bench_{label}_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(server)
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    try:
        yield _with_db(server, name)
    finally:
        admin = await asyncpg.connect(server)
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


def _tail(log: Path) -> str:
    return log.read_text()[-3000:]


@contextlib.asynccontextmanager
async def child(args: list[str], log: Path, ready_url: str) -> AsyncIterator[None]:
    with log.open("w") as out:
        proc = subprocess.Popen(  # noqa: ASYNC220 - lives for the whole bench
            args, stdout=subprocess.DEVNULL, stderr=out, cwd=os.path.dirname(_HERE), env=ENV
        )
    try:
        async with aiohttp.ClientSession() as http:
            for _ in range(600):
                if proc.poll() is not None:
                    raise SystemExit(f"{args[2]} exited: {_tail(log)}")
                with contextlib.suppress(aiohttp.ClientError):
                    async with http.get(ready_url) as resp:
                        if resp.status == 200:
                            break
                await asyncio.sleep(0.2)
            else:
                raise SystemExit(f"{ready_url} never answered: {_tail(log)}")
        yield
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


class Kannel:
    """Kannel's smsbox as the sink sees it: ``/cgi-bin/sendsms``, recording each message."""

    def __init__(self) -> None:
        self.acks: dict[str, list[tuple[float, str]]] = {}  # phone digits → (at, Tracking ID)
        self.other = 0

    async def sendsms(self, request: web.Request) -> web.Response:
        at = time.perf_counter()
        q = request.query
        found = ACK.search(q.get("text", ""))
        if found:
            self.acks.setdefault(_digits(q.get("to", "")), []).append((at, found.group(1)))
        else:
            self.other += 1
        return web.Response(status=202, text="0: Accepted for delivery")

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/cgi-bin/sendsms", self.sendsms)
        return app


def _digits(phone: str) -> str:
    return re.sub(r"\D", "", phone)[-9:]


def phone(i: int) -> str:
    return f"0813{i:08d}"


def config(tmp: Path, dsn: str, port: int, lapor: str, kannel: str) -> Path:
    path = tmp / "satukanal.toml"
    path.write_text(f"""
data_dir = "{tmp / "data"}"
log_format = "json"
log_level = "info"
[database]
url = "{dsn}"
pool_max = 20
[crypto]
hmac_key = "{generate_key()}"
[[crypto.keys]]
id = "k1"
secret = "{generate_key()}"
[agencies]
DISKOMINFO = "55"
[lapor]
adapter = "http"
base_url = "{lapor}/api/v1"
client_id = "satukanal"
client_secret = "sandbox-secret"
rate_limit_per_s = 1000000
rate_burst = 1000000
[http]
port = {port}
[bursts]
quiet_window_s = 0
[notify]
merge_window_s = 0
[[sources]]
name = "sms-gw"
kind = "sms_http"
agency = "DISKOMINFO"
[sources.options]
secret = "{SECRET}"
timezone = "Asia/Jakarta"
[sources.options.kannel]
sendsms_url = "{kannel}/cgi-bin/sendsms"
username = "satukanal"
password = "kannel-secret"
""")
    return path


async def pgbench(server: str, seconds: int) -> float:
    """One-row INSERT transactions at 16 clients: what this server commits, in TPS."""
    exe = shutil.which("pgbench")
    if exe is None:
        raise SystemExit("pgbench not found (Debian: postgresql-client / postgresql-contrib)")
    async with scratch_db(server, "pgbench") as dsn:
        conn = await asyncpg.connect(dsn)
        await conn.execute(
            "CREATE TABLE rows (id bigserial PRIMARY KEY, payload text NOT NULL,"
            " created_at timestamptz NOT NULL DEFAULT now())"
        )
        await conn.close()
        with tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False) as script:
            script.write("INSERT INTO rows (payload) VALUES ('Lampu jalan padam');\n")
        try:
            proc = await asyncio.create_subprocess_exec(
                exe,
                "-n",
                "-c",
                str(PGBENCH_CLIENTS),
                "-j",
                "2",
                "-T",
                str(seconds),
                "-f",
                script.name,
                dsn,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
            out, err = await proc.communicate()
        finally:
            os.unlink(script.name)
    found = re.search(r"tps = ([0-9.]+)", out.decode())
    if proc.returncode != 0 or not found:
        raise SystemExit(f"pgbench failed: {err.decode()[-2000:]}")
    return float(found.group(1))


class Gateway:
    """The SMS gateway: posts to the webhook, remembers when each SMS arrived."""

    def __init__(self, http: aiohttp.ClientSession, base: str) -> None:
        self.http = http
        self.url = f"{base}/intake/sms-gw/webhook"
        self.sent: dict[str, float] = {}  # phone digits → when its post began
        self.refused = 0

    async def post(self, i: int) -> None:
        number = phone(i)
        body = {
            "id": f"bench-{i}",
            "from": number,
            "text": f"Lampu jalan di gang Mawar nomor {i} padam sudah tiga malam, gelap sekali",
        }
        self.sent[_digits(number)] = time.perf_counter()
        async with self.http.post(
            self.url, json=body, headers={"X-Satukanal-Secret": SECRET}
        ) as resp:
            await resp.read()
            if resp.status != 200:
                self.refused += 1

    async def flood(self, ids: range) -> None:
        todo = iter(ids)

        async def sender() -> None:
            for i in todo:
                await self.post(i)

        await asyncio.gather(*(sender() for _ in range(SENDERS)))

    async def paced(self, ids: range, rate: float) -> None:
        start = time.perf_counter()
        tasks = []
        for k, i in enumerate(ids):
            delay = start + k / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(self.post(i)))
        await asyncio.gather(*tasks)


async def wait_acks(kannel: Kannel, numbers: list[str], within_s: float) -> None:
    deadline = time.perf_counter() + within_s
    while not all(n in kannel.acks for n in numbers):
        if time.perf_counter() > deadline:
            missing = sum(n not in kannel.acks for n in numbers)
            raise SystemExit(f"{missing} of {len(numbers)} acknowledgements never came")
        await asyncio.sleep(0.05)


def latencies(gw: Gateway, kannel: Kannel, numbers: list[str]) -> list[float]:
    return sorted(kannel.acks[n][0][0] - gw.sent[n] for n in numbers)


def pct(values: list[float], p: float) -> float:
    return values[min(len(values) - 1, round(p / 100 * (len(values) - 1)))]


async def insert_backlog(dsn: str, n: int) -> None:
    """What a backfill leaves behind: archived complaints, each with a bulk-lane push job.

    Written with triggers off (``session_replication_role = replica``, this session only):
    the dashboard's per-row counters would make a million rows take half an hour, and what
    is measured here is the queue a backfill leaves, not how fast a backfill writes (that is
    bench/backfill.py's). Chunks of 50,000, each its own transaction."""
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("SET session_replication_role = replica")
        step = 50_000
        for lo in range(0, n, step):
            async with conn.transaction():
                await conn.execute(
                    """
                    WITH c AS (
                        INSERT INTO complaints (id, source, channel, title, content,
                                                submitted_at)
                        SELECT gen_random_uuid(), 'archive', 'web',
                               'Arsip laporan #' || g,
                               'Laporan lama nomor ' || g || ': jalan rusak di kelurahan '
                               || (g % 30) || ', mohon ditindaklanjuti.',
                               now() - interval '10 days'
                        FROM generate_series($1::int, $2::int) AS g
                        RETURNING id
                    )
                    INSERT INTO jobs (kind, complaint_id, payload, dedup_key, lane)
                    SELECT 'push', id, '{}', 'push:' || id, 1 FROM c
                    """,
                    lo,
                    min(lo + step, n) - 1,
                )
        await conn.execute("ANALYZE complaints")
        await conn.execute("ANALYZE jobs")
    finally:
        await conn.close()


async def pushed_archive(dsn: str) -> int:
    conn = await asyncpg.connect(dsn)
    try:
        n: int = await conn.fetchval(
            "SELECT count(*) FROM complaints"
            " WHERE source = 'archive' AND lapor_tracking_id IS NOT NULL"
        )
        return n
    finally:
        await conn.close()


async def audit(dsn: str, kannel: Kannel, numbers: list[str]) -> bool:
    """Every SMS: its complaint holds a Tracking ID, and its one acknowledgement names it."""
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch(
            "SELECT lapor_tracking_id FROM complaints WHERE source = 'sms-gw'"
            " AND lapor_tracking_id IS NOT NULL"
        )
    finally:
        await conn.close()
    tracking = {r["lapor_tracking_id"] for r in rows}
    return all(
        len(kannel.acks.get(n, [])) == 1 and kannel.acks[n][0][1] in tracking for n in numbers
    )


def _r(x: float) -> float:
    return round(x, 3)


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    ap.add_argument("--small", action="store_true")
    ap.add_argument("--count", type=int, default=None)
    ap.add_argument("--rate", type=float, default=5.0)
    ap.add_argument("--paced-s", type=float, default=None)
    ap.add_argument("--backlog", type=int, default=None)
    ap.add_argument("--pgbench-s", type=int, default=10)
    ap.add_argument("--dsn", default=os.environ.get("SATUKANAL_BENCH_DATABASE_URL", DEFAULT_DSN))
    args = ap.parse_args()
    count = args.count or (500 if args.small else 3000)
    paced_s = args.paced_s or (10.0 if args.small else 20.0)
    backlog = args.backlog if args.backlog is not None else (20_000 if args.small else 1_000_000)
    paced_n = int(args.rate * paced_s)

    tps = [await pgbench(args.dsn, args.pgbench_s)]
    print(f"pgbench: {tps[0]:.0f} TPS at {PGBENCH_CLIENTS} clients", flush=True)
    result: dict[str, Any] = {"bench": "e2e"}
    kannel = Kannel()
    kannel_runner = web.AppRunner(kannel.app(), access_log=None)
    await kannel_runner.setup()
    kannel_port = free_port()
    await web.TCPSite(kannel_runner, "127.0.0.1", kannel_port).start()
    sandbox_port, port = free_port(), free_port()
    sandbox_root = f"http://127.0.0.1:{sandbox_port}"
    tmp = Path(tempfile.mkdtemp(prefix="satukanal-e2e-"))
    try:
        async with scratch_db(args.dsn, "e2e") as dsn:
            conn = await asyncpg.connect(dsn)
            await migrate(conn)
            await conn.close()
            cfg = config(tmp, dsn, port, sandbox_root, f"http://127.0.0.1:{kannel_port}")
            sandbox_args = [
                sys.executable,
                "-m",
                "aggregator.lapor.sandbox",
                "--port",
                str(sandbox_port),
                "--life",
                "none",
                "--client",
                "satukanal:sandbox-secret",
                "--no-rate-limit",
            ]
            daemon_args = [sys.executable, "-m", "aggregator", "--config", str(cfg), "run"]
            if os.environ.get("BENCH_PROFILE"):  # a cProfile dump of the daemon, at its exit
                daemon_args[1:1] = ["-m", "cProfile", "-o", os.environ["BENCH_PROFILE"]]
            elif os.environ.get("BENCH_STATEMENTS"):  # the daemon's SQL statements, counted
                counter = os.path.join(_HERE, "count_statements.py")
                daemon_args[1:3] = [counter, os.environ["BENCH_STATEMENTS"]]
            async with (
                child(sandbox_args, tmp / "sandbox.log", sandbox_root + "/openapi.json"),
                child(daemon_args, tmp / "daemon.log", f"http://127.0.0.1:{port}/readyz"),
                aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=SENDERS * 4)) as http,
            ):
                gw = Gateway(http, f"http://127.0.0.1:{port}")
                # Warm-up: models loaded, connections open, statements prepared.
                warm = range(10**7, 10**7 + 50)
                await gw.flood(warm)
                await wait_acks(kannel, [_digits(phone(i)) for i in warm], 120)

                flood = range(count)
                numbers = [_digits(phone(i)) for i in flood]
                t0 = time.perf_counter()
                await gw.flood(flood)
                posted = time.perf_counter() - t0
                await wait_acks(kannel, numbers, 600)
                last = max(kannel.acks[n][0][0] for n in numbers)
                e2e_per_s = count / (last - t0)
                flood_lat = latencies(gw, kannel, numbers)
                exactly_once = await audit(dsn, kannel, numbers)
                print(
                    f"(a) {count} SMS posted in {posted:.1f} s, all acknowledged after "
                    f"{last - t0:.1f} s: {e2e_per_s:.1f}/s, exactly once: {exactly_once}",
                    flush=True,
                )

                async def paced_run(base: int) -> list[float]:
                    ids = range(base, base + paced_n)
                    nums = [_digits(phone(i)) for i in ids]
                    await gw.paced(ids, args.rate)
                    await wait_acks(kannel, nums, 300)
                    return latencies(gw, kannel, nums)

                lat = await paced_run(2 * 10**7)
                print(
                    f"(b) {paced_n} SMS at {args.rate}/s: ack latency p50 {pct(lat, 50):.3f} s,"
                    f" p99 {pct(lat, 99):.3f} s",
                    flush=True,
                )
                result.update(
                    {
                        "count": count,
                        "e2e_per_s": round(e2e_per_s, 1),
                        "intake_per_s": round(count / posted, 1),
                        "exactly_once": exactly_once,
                        "refused": gw.refused,
                        "flood_ack_latency_p50_s": _r(pct(flood_lat, 50)),
                        "flood_ack_latency_p99_s": _r(pct(flood_lat, 99)),
                        "paced_rate_per_s": args.rate,
                        "paced_count": paced_n,
                        "ack_latency_p50_s": _r(pct(lat, 50)),
                        "ack_latency_p99_s": _r(pct(lat, 99)),
                        "ack_latency_max_s": _r(lat[-1]),
                    }
                )
                if backlog:
                    t = time.perf_counter()
                    await insert_backlog(dsn, backlog)
                    print(
                        f"(c) {backlog} bulk-lane push jobs queued in "
                        f"{time.perf_counter() - t:.1f} s",
                        flush=True,
                    )
                    await asyncio.sleep(2)  # the push worker is into the backlog
                    before = await pushed_archive(dsn)
                    lat_b = await paced_run(3 * 10**7)
                    during = await pushed_archive(dsn) - before
                    print(
                        f"(c) with the backfill running ({during} bulk pushes meanwhile): "
                        f"ack latency p50 {pct(lat_b, 50):.3f} s, p99 {pct(lat_b, 99):.3f} s",
                        flush=True,
                    )
                    result.update(
                        {
                            "backlog": backlog,
                            "backfill_pushed_during": during,
                            "ack_latency_p50_s_with_backfill": _r(pct(lat_b, 50)),
                            "ack_latency_p99_s_with_backfill": _r(pct(lat_b, 99)),
                            "ack_latency_max_s_with_backfill": _r(lat_b[-1]),
                        }
                    )
                result["other_sms"] = kannel.other
        counted = os.environ.get("BENCH_STATEMENTS")
        if counted and not backlog and not os.environ.get("BENCH_PROFILE"):
            # Written by the daemon at its exit: every SMS of the run, warm-up and (b) too.
            posted = len(warm) + count + paced_n
            total = json.loads(await asyncio.to_thread(Path(counted).read_text))["total"]
            result["statements_per_sms"] = round(total / posted, 1)
        tps.append(await pgbench(args.dsn, args.pgbench_s))
        print(f"pgbench again: {tps[1]:.0f} TPS", flush=True)
    finally:
        await kannel_runner.cleanup()
        shutil.rmtree(tmp, ignore_errors=True)
    best = max(tps)
    result["pgbench_tps"] = round(best, 1)
    result["pgbench_tps_runs"] = [round(x, 1) for x in tps]
    result["ratio_pgbench"] = round(result["e2e_per_s"] / best, 4)
    print(json.dumps(result))


if __name__ == "__main__":
    asyncio.run(main())
