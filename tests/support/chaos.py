"""Replicas under chaos (issue 18 item 2): the harness of tests/e2e/test_replicas_chaos.py
and bench/chaos.py.

Three `satukanal run` processes share one PostgreSQL that the harness starts itself (an
embedded pgserver in its own folder, never the machine's server), behind a balancer that
spreads every inbound request over the live replicas, as nginx in front of replicas does.
Complaints arrive by every channel: SMS through the HTTP intake's webhook (a gateway that
retries until answered 200, with its own message ids), the old web form (a browser that
does not retry), e-mail delivered into a Maildir, and WhatsApp through the Cloud API
sandbox (which retries its webhook deliveries). Acknowledgements leave through a stand-in
Kannel, the Cloud API sandbox and a Maildir outbox: those are the channels' own stores the
outcome is read from. The LAPOR! sandbox (faults on, its own rate limit) keeps its own
record of every report and counts the requests it receives per second.

While complaints arrive, replicas are SIGKILLed at random and restarted, and PostgreSQL is
stopped hard (``-m immediate``, a crash) and started again once. ``run_chaos`` returns the
counts; the callers assert them.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import os
import random
import re
import shutil
import signal
import sys
import tempfile
import time
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
from aiohttp import web

from aggregator.demo.citizens import DemoKannel
from aggregator.demo.whatsapp_cloud import CloudSandbox, SandboxState
from aggregator.lapor.sandbox.faults import parse_faults
from aggregator.storage.migrate import migrate
from tests.support.ports import free_port

SATUKANAL = Path(sys.executable).with_name("satukanal")
SMS_SECRET = "chaos-gateway-secret"
WA = {
    "phone_number_id": "106540352242922",
    "access_token": "chaos-whatsapp-token",
    "app_secret": "chaos-whatsapp-app-secret",
    "verify_token": "chaos-whatsapp-verify",
}
# What each complaint is about: realistic, so routing and the junk filter treat them as the
# complaints they are; the number makes each text (and so each complaint) its own.
TOPICS = (
    "Lampu jalan di gang Melati nomor {i} padam sudah tiga malam, gelap dan rawan.",
    "Saluran air di Jl. Kinibalu nomor {i} tersumbat sampah, air meluap ke jalan.",
    "Jalan di depan rumah nomor {i} Jl. RTA Milono berlubang besar, motor sering jatuh.",
    "Sampah di TPS dekat rumah nomor {i} Jl. Rajawali tidak diangkut sejak Senin.",
    "Air PDAM di Jl. Yos Sudarso nomor {i} tidak mengalir sejak dua hari.",
)
# Of every ten complaints: four SMS, two web forms, two e-mails, two WhatsApp messages.
CHANNELS = ("sms", "sms", "form", "email", "wa", "sms", "form", "email", "wa", "sms")


@dataclass
class ChaosConfig:
    complaints: int = 300
    replicas: int = 3
    rate_per_s: float = 10.0  # LAPOR!'s limit for the client, shared by the replicas
    burst: int = 6  # LAPOR!'s burst; the client uses half
    arrival_s: float = 30.0  # complaints arrive evenly over this long
    kill_gap_s: tuple[float, float] = (1.0, 3.0)  # between two SIGKILLs
    dead_s: tuple[float, float] = (0.5, 2.5)  # a killed replica stays down this long
    chaos_s: float | None = None  # SIGKILLs go on this long (default: arrival_s + 40)
    # ... and on, for at most ``chaos_s`` more, until this many happened: on a loaded machine
    # a replica takes most of a minute to start, and one always stays up.
    min_sigkills: int = 4
    pg_restart_at_s: float = 12.0
    pg_down_s: float = 3.0
    faults: str = (
        "error5xx=0.1,drop=0.03,timeout_after_create=0.03,hang_s=3,revoke_every=50,dup_events=0.05"
    )
    settle_timeout_s: float = 180.0
    seed: int = 18


@dataclass
class Outcome:
    counts: dict[str, Any] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


# ---- the harness's own PostgreSQL ------------------------------------------------------------
class PrivatePostgres:
    """An embedded PostgreSQL (pgserver's binaries) in ``root``: crash-stopped and started
    again by ``restart``, with the same socket, so every client's DSN stays valid."""

    def __init__(self) -> None:
        # Its own folder, open to pgserver's server user (a test's tmp_path is not).
        self.top = Path(tempfile.mkdtemp(prefix="satukanal-chaos-pg-"))
        os.chmod(self.top, 0o755)
        self.root = self.top / "pg"
        self.server: Any = None

    def start(self) -> str:
        import pgserver

        self.server = pgserver.get_server(self.root, cleanup_mode="stop")
        uri: str = self.server.get_uri()
        return uri

    def crash(self) -> None:
        import pgserver

        # pg_ctl is made at import time from pgserver's binaries (mypy cannot see it).
        pg_ctl = pgserver.pg_ctl  # type: ignore[attr-defined]
        pg_ctl(["-w", "-m", "immediate", "stop"], pgdata=self.root, user=self.server.system_user)

    def start_again(self) -> None:
        with self.server._lock:
            self.server._postmaster_info = None
            self.server.ensure_postgres_running()

    def stop(self) -> None:
        if self.server is not None:
            with contextlib.suppress(Exception):
                self.server.cleanup()
            self.server = None
        shutil.rmtree(self.top, ignore_errors=True)


def _with_db(dsn: str, db: str) -> str:
    from urllib.parse import urlsplit, urlunsplit

    return urlunsplit(urlsplit(dsn)._replace(path="/" + db))


# ---- LAPOR!, in its own process ----------------------------------------------------------
class LaporSandbox:
    """The LAPOR! sandbox as its own process (``python -m aggregator.lapor.sandbox``), as a
    real LAPOR! is: its clock reads arrivals when they arrive, not when this busy process
    (balancer, Cloud API sandbox, Kannel, the citizens) next gets the CPU. Its record is read
    back over ``/_sandbox``."""

    def __init__(self, cfg: ChaosConfig, log: Path) -> None:
        parse_faults(cfg.faults)  # a wrong fault string fails here, not in the child
        self.cfg = cfg
        self.port = free_port()
        self.root = f"http://127.0.0.1:{self.port}"
        self.base_url = self.root + "/api/v1"
        self.log = log
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self, http: aiohttp.ClientSession) -> None:
        args = [
            *("--port", str(self.port), "--life", "none", "--seed", str(self.cfg.seed)),
            *("--rate", str(self.cfg.rate_per_s), "--burst", str(self.cfg.burst)),
            *("--faults", self.cfg.faults, "--client", "satukanal:sandbox-secret"),
        ]
        with self.log.open("ab") as out:
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "aggregator.lapor.sandbox",
                *args,
                stdout=out,
                stderr=asyncio.subprocess.STDOUT,
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and self.proc.returncode is None:
            with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                async with http.get(self.root + "/_sandbox/stats") as resp:
                    if resp.status == 200:
                        return
            await asyncio.sleep(0.1)
        raise AssertionError(f"the LAPOR! sandbox did not come up: {self.log.read_text()[-2000:]}")

    async def get(self, http: aiohttp.ClientSession, path: str) -> Any:
        async with http.get(self.root + path) as resp:
            resp.raise_for_status()
            return await resp.json()

    async def stop(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.proc.wait(), 10)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()


# ---- the balancer in front of the replicas ---------------------------------------------------
class Balancer:
    """Round robin over the replicas' HTTP ports; a replica that refuses the connection (dead)
    is skipped. A request cut while a replica handles it is answered 502, as nginx would."""

    def __init__(self, ports: list[int]) -> None:
        self.ports = ports
        self.port = free_port()
        self.next = 0
        self.http: aiohttp.ClientSession | None = None
        self.runner: web.AppRunner | None = None
        self.cut = 0

    async def start(self) -> str:
        self.http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60))
        app = web.Application(client_max_size=32 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self.forward)
        self.runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.port).start()
        return f"http://127.0.0.1:{self.port}"

    async def forward(self, request: web.Request) -> web.StreamResponse:
        assert self.http is not None
        body = await request.read()
        headers = {
            k: v
            for k, v in request.headers.items()
            if k.lower() not in ("host", "content-length", "transfer-encoding", "connection")
        }
        for _ in range(len(self.ports) * 3):
            port = self.ports[self.next % len(self.ports)]
            self.next += 1
            url = f"http://127.0.0.1:{port}{request.rel_url}"
            try:
                async with self.http.request(
                    request.method, url, data=body, headers=headers, allow_redirects=False
                ) as resp:
                    data = await resp.read()
                    out = {
                        k: v
                        for k, v in resp.headers.items()
                        if k.lower() in ("content-type", "location", "retry-after")
                    }
                    return web.Response(status=resp.status, body=data, headers=out)
            except aiohttp.ClientConnectorError:
                continue  # nothing listens there: the next replica
            except (aiohttp.ClientError, TimeoutError):
                self.cut += 1
                return web.Response(status=502, text="replica went away")
        await asyncio.sleep(0.2)
        return web.Response(status=503, text="no replica up")

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()
        if self.http is not None:
            await self.http.close()


# ---- replicas --------------------------------------------------------------------------------
def replica_config(
    root: Path,
    k: int,
    dsn: str,
    http_port: int,
    *,
    balancer: str,
    lapor: str,
    kannel: str,
    wa: str,
    rate_per_s: float,
    burst: int,
) -> Path:
    shared = root / "shared"
    cfg = root / f"replica{k}.toml"
    cfg.write_text(f"""demo = true
data_dir = "{root / f"replica{k}"}"
log_level = "warning"
log_format = "console"

[database]
url = "{dsn}"
migrate_on_start = false
connect_wait_s = 60

[lapor]
adapter = "http"
base_url = "{lapor}"
client_id = "satukanal"
client_secret = "sandbox-secret"
timeout_s = 2.0
request_timeout_s = 1.5
connect_timeout_s = 1.0
rate_limit_per_s = {rate_per_s}
rate_burst = {burst}
send_slot_time = true
updates_poll_s = 1.0
breaker_reset_s = 1.0

[queue]
workers = 8
lease_s = 3.0
job_timeout_s = 45.0
poll_s = 0.3
backoff_base_s = 0.2
backoff_max_s = 2.0
max_attempts = 1000

[spool]
drain_interval_s = 0.5

[notify]
merge_window_s = 0.2

[bursts]
quiet_window_s = 0

[http]
port = {http_port}
public_base_url = "{balancer}"

[[sources]]
name = "sms-gw"
kind = "sms_http"
lease_s = 3
[sources.options]
secret = "{SMS_SECRET}"
timezone = "Asia/Jakarta"
[sources.options.kannel]
sendsms_url = "{kannel}/demo/kannel/cgi-bin/sendsms"
username = "chaos"
password = "chaos"
dlr_url = "{balancer}/intake/sms-gw/dlr"
dlr_secret = "{SMS_SECRET}"

[[sources]]
name = "form-web"
kind = "form_http"
lease_s = 3
[sources.options]
rate_limit_per_min = 100000
rate_burst = 100000

[[sources]]
name = "wa"
kind = "whatsapp_cloud"
lease_s = 3
[sources.options]
graph_url = "{wa}"
phone_number_id = "{WA["phone_number_id"]}"
access_token = "{WA["access_token"]}"
app_secret = "{WA["app_secret"]}"
verify_token = "{WA["verify_token"]}"

[[sources]]
name = "email"
kind = "maildir"
poll_s = 0.5
lease_s = 3
[sources.options]
path = "{shared / "maildir"}"
message_id_domain = "kota.test"
[sources.options.outbox]
path = "{shared / "terkirim"}"
from_address = "pengaduan@kota.test"
from_name = "Layanan Pengaduan Kota"
""")
    return cfg


class Replica:
    def __init__(self, k: int, cfg: Path, port: int, log: Path) -> None:
        self.k, self.cfg, self.port, self.log = k, cfg, port, log
        self.proc: asyncio.subprocess.Process | None = None
        self.starts = 0
        self.failed_starts = 0
        self.kills = 0

    async def start(self, http: aiohttp.ClientSession) -> None:
        """Start the replica and wait until it answers; a start that fails (PostgreSQL went
        away in the middle of it) is tried again, as systemd's ``Restart=on-failure`` does."""
        for _attempt in range(10):
            with self.log.open("ab") as out:
                self.proc = await asyncio.create_subprocess_exec(
                    str(SATUKANAL),
                    "--config",
                    str(self.cfg),
                    "run",
                    stdout=out,
                    stderr=asyncio.subprocess.STDOUT,
                )
            self.starts += 1
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline and self.proc.returncode is None:
                with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                    async with http.get(f"http://127.0.0.1:{self.port}/healthz") as resp:
                        if resp.status == 200:
                            return
                await asyncio.sleep(0.1)
            if self.proc.returncode is None:
                raise AssertionError(f"replica {self.k} did not come up: {self.tail()}")
            self.failed_starts += 1
            await asyncio.sleep(1.0)
        raise AssertionError(f"replica {self.k} failed to start ten times: {self.tail()}")

    async def kill(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.send_signal(signal.SIGKILL)
            await self.proc.wait()
            self.kills += 1

    async def stop(self) -> int | None:
        if self.proc is None or self.proc.returncode is not None:
            return None
        self.proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(self.proc.wait(), 40)
        except TimeoutError:
            self.proc.kill()
            await self.proc.wait()
        return self.proc.returncode

    def tail(self, chars: int = 3000) -> str:
        return self.log.read_text(errors="replace")[-chars:] if self.log.exists() else ""


async def _task_dumps(replicas: list[Replica]) -> list[str]:
    """Ask every live replica for its asyncio task stacks (SIGUSR1, see aggregator/taskdump.py)
    and return what each wrote: where a stuck job's coroutine waits."""
    marks = {}
    for r in replicas:
        if r.proc is not None and r.proc.returncode is None:
            marks[r] = r.log.stat().st_size if r.log.exists() else 0
            r.proc.send_signal(signal.SIGUSR1)
    await asyncio.sleep(2.0)
    dumps = []
    for r, mark in marks.items():
        with r.log.open("rb") as f:
            f.seek(mark)
            text = f.read().decode(errors="replace")
        start = text.find("--- satukanal task dump")
        end = text.find("--- end of task dump ---", start)
        if start >= 0:
            dumps.append(
                f"replica {r.k} (pid {r.proc.pid if r.proc else None}):\n"
                + text[start : end if end >= 0 else None]
            )
    return dumps


# ---- the citizens ----------------------------------------------------------------------------
def _text(i: int) -> str:
    return TOPICS[i % len(TOPICS)].format(i=i)


def sms_phone(i: int) -> str:
    return f"0813{i:08d}"


def wa_number(i: int) -> str:
    return f"62814{i:08d}"


def email_address(i: int) -> str:
    return f"warga{i}@contoh.id"


def write_email(maildir: Path, i: int) -> None:
    msg = EmailMessage()
    msg["From"] = f"Warga {i} <{email_address(i)}>"
    msg["To"] = "pengaduan@kota.test"
    msg["Subject"] = f"Pengaduan warga nomor {i}"
    msg["Message-ID"] = f"<aduan-{i}@contoh.id>"
    msg["Date"] = "Thu, 03 Dec 2026 09:00:00 +0700"
    msg.set_content(_text(i))
    for sub in ("tmp", "new", "cur"):
        (maildir / sub).mkdir(parents=True, exist_ok=True)
    name = f"{time.time():.6f}.chaos{i}.kota"
    tmp = maildir / "tmp" / name
    tmp.write_bytes(msg.as_bytes())
    os.rename(tmp, maildir / "new" / name)  # as a mail server delivers: never half a file


@dataclass
class Sent:
    sms: set[int] = field(default_factory=set)
    forms_ok: set[int] = field(default_factory=set)
    forms_unsure: set[int] = field(default_factory=set)  # cut mid-request: 0 or 1 stored
    email: set[int] = field(default_factory=set)
    wa: set[int] = field(default_factory=set)
    sms_retries: int = 0
    wa_failed: set[int] = field(default_factory=set)


async def send_complaint(
    http: aiohttp.ClientSession, base: str, wa_base: str, maildir: Path, i: int, sent: Sent
) -> None:
    channel = CHANNELS[i % len(CHANNELS)]
    if channel == "sms":
        # A gateway sends until it is answered 200; its message id makes a resend harmless.
        while True:
            try:
                async with http.post(
                    f"{base}/intake/sms-gw/webhook",
                    json={"id": f"c{i}", "from": sms_phone(i), "text": _text(i)},
                    headers={"X-Satukanal-Secret": SMS_SECRET},
                ) as resp:
                    await resp.read()
                    if resp.status == 200:
                        sent.sms.add(i)
                        return
            except (aiohttp.ClientError, TimeoutError):
                pass
            sent.sms_retries += 1
            await asyncio.sleep(0.3)
    elif channel == "form":
        form = {"isi_laporan": _text(i), "nama": f"Warga {i}", "telp": "", "nik": "", "website": ""}
        try:
            async with http.post(
                f"{base}/intake/form-web/", data=form, allow_redirects=False
            ) as resp:
                await resp.read()
                ok = resp.status == 303
        except (aiohttp.ClientError, TimeoutError):
            ok = False
        # A browser does not send a form twice by itself: a cut post is the citizen's loss
        # to see (0 or 1 stored), never a duplicate.
        (sent.forms_ok if ok else sent.forms_unsure).add(i)
    elif channel == "email":
        write_email(maildir, i)
        sent.email.add(i)
    else:
        async with http.post(
            f"{wa_base}/_sandbox/inbound",
            json={"from": wa_number(i), "text": _text(i), "name": f"Warga {i}", "wait": True},
        ) as resp:
            got = await resp.json()
        (sent.wa if got.get("webhook_status") == 200 else sent.wa_failed).add(i)


# ---- the outcome, from the channels' own stores ----------------------------------------------
def _index(digits: str) -> int:
    return int(re.sub(r"\D", "", digits)[-8:])


def read_outbox(outbox: Path) -> dict[int, list[str]]:
    import email
    import email.policy

    got: dict[int, list[str]] = collections.defaultdict(list)
    for path in sorted((outbox / "new").glob("*")) if (outbox / "new").exists() else []:
        msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        m = re.search(r"warga(\d+)@", str(msg["To"]))
        if m:
            got[int(m.group(1))].append(str(msg["Subject"]))
    return got


def _prepare(root: Path) -> tuple[Path, Path]:
    shared = root / "shared"
    maildir, outbox = shared / "maildir", shared / "terkirim"
    for d in (maildir, outbox):
        for sub in ("tmp", "new", "cur"):
            (d / sub).mkdir(parents=True, exist_ok=True)
    return maildir, outbox


def _spooled(root: Path, replicas: int) -> int:
    """Files in the replicas' spools (what an intake accepted while PostgreSQL was away)."""
    return sum(
        1
        for k in range(replicas)
        for p in (root / f"replica{k}" / "spool").rglob("*")
        if p.is_file() and not p.name.endswith(".lock")
    )


async def run_chaos(cfg: ChaosConfig, root: Path, say: Any = print) -> Outcome:
    rng = random.Random(cfg.seed)
    out = Outcome()
    maildir, outbox = _prepare(root)
    pg = PrivatePostgres()
    base_dsn = await asyncio.to_thread(pg.start)
    admin = await asyncpg.connect(base_dsn)
    await admin.execute("CREATE DATABASE satukanal")
    await admin.close()
    dsn = _with_db(base_dsn, "satukanal")
    conn = await asyncpg.connect(dsn)
    await migrate(conn)
    await conn.close()

    http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=90))
    lapor = LaporSandbox(cfg, root / "lapor-sandbox.log")
    await lapor.start(http)
    kannel = DemoKannel(root / "sms-ke-warga.jsonl", http)
    kannel_app = web.Application()
    kannel_app.add_routes(kannel.routes())
    kannel_runner = web.AppRunner(kannel_app, access_log=None)
    await kannel_runner.setup()
    kannel_port = free_port()
    await web.TCPSite(kannel_runner, "127.0.0.1", kannel_port).start()

    ports = [free_port() for _ in range(cfg.replicas)]
    balancer = Balancer(ports)
    front = await balancer.start()
    wa_state = SandboxState(
        app_secret=WA["app_secret"],
        access_token=WA["access_token"],
        phone_number_id=WA["phone_number_id"],
        webhook_url=f"{front}/intake/wa/webhook",
    )
    wa_state.faults.status_delay_s = 0.2
    cloud = CloudSandbox(wa_state, seed=cfg.seed)
    cloud_runner = await cloud.start()

    replicas: list[Replica] = []
    for k, port in enumerate(ports):
        path = replica_config(
            root,
            k,
            dsn,
            port,
            balancer=front,
            lapor=lapor.base_url,
            kannel=f"http://127.0.0.1:{kannel_port}",
            wa=cloud.base_url,
            rate_per_s=cfg.rate_per_s,
            burst=cfg.burst,
        )
        replicas.append(Replica(k, path, port, root / f"replica{k}.log"))
    sent = Sent()
    started = time.monotonic()
    pg_restarted = False
    try:
        await asyncio.gather(*(r.start(http) for r in replicas))
        say(f"chaos: {cfg.replicas} replicas up in {time.monotonic() - started:.1f} s")
        t0 = time.monotonic()

        async def arrivals() -> None:
            gap = cfg.arrival_s / max(1, cfg.complaints)
            tasks = []
            for i in range(cfg.complaints):
                await asyncio.sleep(max(0.0, t0 + i * gap - time.monotonic()))
                tasks.append(
                    asyncio.create_task(
                        send_complaint(http, front, cloud.base_url, maildir, i, sent)
                    )
                )
            await asyncio.gather(*tasks)

        async def chaos() -> None:
            nonlocal pg_restarted
            span = cfg.chaos_s if cfg.chaos_s is not None else cfg.arrival_s + 40
            until = t0 + span

            def going() -> bool:
                now = time.monotonic()
                kills = sum(r.kills for r in replicas)
                return now < until or (kills < cfg.min_sigkills and now < until + span)

            while going():
                await asyncio.sleep(rng.uniform(*cfg.kill_gap_s))
                if not pg_restarted and time.monotonic() - t0 >= cfg.pg_restart_at_s:
                    pg_restarted = True
                    say(f"chaos: PostgreSQL crash-stopped at {time.monotonic() - t0:.1f} s")
                    await asyncio.to_thread(pg.crash)
                    await asyncio.sleep(cfg.pg_down_s)
                    await asyncio.to_thread(pg.start_again)
                    say(f"chaos: PostgreSQL back at {time.monotonic() - t0:.1f} s")
                    continue
                up = [r for r in replicas if r not in restarting]
                if len(up) < 2:
                    continue  # one replica always up: a balancer with none refuses all
                victim = rng.choice(up)
                await victim.kill()
                restarting.add(victim)
                restarts.append(asyncio.create_task(restart(victim)))
            await asyncio.gather(*restarts)

        restarting: set[Replica] = set()
        restarts: list[asyncio.Task[None]] = []

        async def restart(victim: Replica) -> None:
            await asyncio.sleep(rng.uniform(*cfg.dead_s))
            await victim.start(http)
            restarting.discard(victim)

        await asyncio.gather(arrivals(), chaos())
        say(
            f"chaos: arrivals and kills done at {time.monotonic() - t0:.1f} s "
            f"({sum(r.kills for r in replicas)} SIGKILLs)"
        )

        # ---- settle: every complaint pushed and every acknowledgement out ----------------
        pool = await asyncpg.create_pool(dsn, min_size=1, max_size=2)
        try:
            deadline = time.monotonic() + cfg.settle_timeout_s
            while True:
                async with pool.acquire() as c:
                    complaints = await c.fetchval("SELECT count(*) FROM complaints")
                    pushed = await c.fetchval(
                        "SELECT count(*) FROM complaints WHERE lapor_tracking_id IS NOT NULL"
                    )
                    acks_left = await c.fetchval(
                        "SELECT count(*) FROM jobs WHERE kind = 'notify' AND state <> 'done'"
                    )
                    dead = await c.fetchval("SELECT count(*) FROM jobs WHERE state = 'dead'")
                lapor_reports = (await lapor.get(http, "/_sandbox/stats"))["reports"]
                expected = len(sent.sms) + len(sent.email) + len(sent.wa) + len(sent.forms_ok)
                spooled = sum(
                    1
                    for r in replicas
                    for p in (r.cfg.parent / f"replica{r.k}" / "spool").rglob("*")
                    if p.is_file() and p.suffix != ".lock"
                )
                if (
                    complaints >= expected
                    and pushed == complaints
                    and lapor_reports == complaints
                    and acks_left == 0
                ):
                    await asyncio.sleep(3)  # anything sent twice would be on its way by now
                    break
                if time.monotonic() > deadline:
                    async with pool.acquire() as c:
                        stuck = await c.fetch(
                            "SELECT kind, state::text AS state, count(*) AS n,"
                            " max(attempts) AS attempts, min(run_after - now()) AS next_in,"
                            " array_agg(DISTINCT lease_owner) AS owners,"
                            " max(left(last_error, 160)) AS error"
                            " FROM jobs WHERE state <> 'done' GROUP BY 1, 2"
                        )
                    out.counts["stuck_jobs"] = [
                        dict(r) | {"next_in": str(r["next_in"])} for r in stuck
                    ]
                    say(f"chaos: not settled; jobs not done: {out.counts['stuck_jobs']}")
                    for dump in await _task_dumps(replicas):
                        say(dump)
                    out.problems.append(
                        f"not settled: complaints={complaints} expected>={expected} "
                        f"pushed={pushed} reports={lapor_reports} "
                        f"notify_left={acks_left} dead={dead} spool_files={spooled}"
                    )
                    break
                await asyncio.sleep(1.0)
            settled_s = time.monotonic() - t0
            say(f"chaos: settled at {settled_s:.1f} s")
            stops = [await r.stop() for r in replicas]
            async with pool.acquire() as c:
                rows = await c.fetch(
                    "SELECT id, source, lapor_tracking_id, channel::text AS channel FROM complaints"
                )
                raw = await c.fetch("SELECT source, source_ref FROM raw_items")
                # Acknowledgements the daemon itself recorded as in doubt: handed to a channel
                # that cannot recognise a resend, then killed before it could record the send.
                doubt = await c.fetch(
                    "SELECT source, count(*) AS n FROM notifications"
                    " WHERE kind = 'ack' AND detail LIKE 'in doubt:%' GROUP BY source"
                )
                dead = await c.fetchval("SELECT count(*) FROM jobs WHERE state = 'dead'")
            reports_list = (await lapor.get(http, "/_sandbox/reports"))["items"]
            lapor_stats = await lapor.get(http, "/_sandbox/stats")
            lapor_arrivals = (await lapor.get(http, "/_sandbox/arrivals"))["items"]
            (root / "lapor-arrivals.json").write_text(json.dumps(lapor_arrivals))
        finally:
            await pool.close()
    finally:
        for r in replicas:
            with contextlib.suppress(Exception):
                await r.kill()
        await cloud_runner.cleanup()
        await cloud.close()
        await kannel.close()
        await kannel_runner.cleanup()
        await balancer.stop()
        await http.close()
        await lapor.stop()
        await asyncio.to_thread(pg.stop)

    # ---- the checks -------------------------------------------------------------------------
    problems = out.problems
    reports = {r["tracking_id"]: r for r in reports_list}
    per_ref = collections.Counter(r["external_ref"] for r in reports.values())
    by_ref = {r["external_ref"]: t for t, r in reports.items()}
    complaint_ids = {str(r["id"]) for r in rows}
    if set(per_ref) != complaint_ids:
        problems.append(
            f"reports and complaints differ: {len(set(per_ref) - complaint_ids)} reports of no "
            f"complaint, {len(complaint_ids - set(per_ref))} complaints without a report"
        )
    twice = sum(1 for n in per_ref.values() if n > 1)
    if twice:
        problems.append(f"{twice} complaints have more than one LAPOR! report")
    wrong_tid = sum(1 for r in rows if by_ref.get(str(r["id"])) != r["lapor_tracking_id"])
    if wrong_tid:
        problems.append(f"{wrong_tid} complaints hold another Tracking ID than LAPOR!'s")

    refs = collections.Counter((r["source"], r["source_ref"]) for r in raw)
    if any(n > 1 for n in refs.values()):
        problems.append("a raw item stored twice")
    sms_refs = {ref for (src, ref) in refs if src == "sms-gw"}
    lost_sms = {i for i in sent.sms if f"webhook:c{i}" not in sms_refs}
    by_source = collections.Counter(src for (src, _ref) in refs)
    form_rows = by_source["form-web"]
    lost = {
        "sms": len(lost_sms),
        "email": max(0, len(sent.email) - by_source["email"]),
        "wa": max(0, len(sent.wa) - by_source["wa"]),
        "form": max(0, len(sent.forms_ok) - form_rows),
    }
    if any(lost.values()):
        problems.append(f"raw items lost: {lost}")
    if form_rows > len(sent.forms_ok) + len(sent.forms_unsure):
        problems.append("more form items than forms posted")
    per_channel = collections.Counter(r["channel"] for r in rows)
    complaints_by_source = collections.Counter(r["source"] for r in rows)

    # Acknowledgements, read from the channels' own stores: one per complaint, naming its
    # Tracking ID.
    sms_to: dict[int, list[str]] = collections.defaultdict(list)
    for m in kannel.sent:
        sms_to[_index(m["to"])].append(m["text"])
    wa_to: dict[int, list[dict[str, Any]]] = collections.defaultdict(list)
    for m in wa_state.outbox:
        wa_to[_index(str(m.get("to")))].append(m)
    mail_to = read_outbox(outbox)
    in_doubt = {r["source"]: int(r["n"]) for r in doubt}
    # source -> (the citizens who wrote, how many messages each received)
    stores: dict[str, tuple[set[int], dict[int, int]]] = {
        "sms-gw": (sent.sms, {i: len(v) for i, v in sms_to.items()}),
        "wa": (sent.wa, {i: len(v) for i, v in wa_to.items()}),
        "email": (sent.email, {i: len(v) for i, v in mail_to.items()}),
    }
    ack_twice = {
        src: sum(1 for i in who if got.get(i, 0) > 1) for src, (who, got) in stores.items()
    }
    ack_missing = {src: sum(1 for i in who if not got.get(i)) for src, (who, got) in stores.items()}
    # Delivered once each; the only exception allowed is one the daemon recorded in doubt
    # (at most once by design, shown to the operator), never a second copy.
    ack_problems = {
        "twice": sum(ack_twice.values()),
        "missing_not_in_doubt": sum(
            max(0, ack_missing[src] - in_doubt.get(src, 0)) for src in stores
        ),
        "unknown_recipients": len(set(sms_to) - sent.sms)
        + len(set(wa_to) - sent.wa)
        + len(set(mail_to) - sent.email),
    }
    tids = set(by_ref.values())
    ack_without_tid = sum(1 for texts in sms_to.values() for t in texts if not _tids_in(t, tids))
    if any(ack_problems.values()) or ack_without_tid:
        problems.append(
            f"acknowledgements not once each: {ack_problems}; "
            f"{ack_without_tid} SMS without a Tracking ID"
        )

    # The rate limit, from LAPOR!'s side: requests that arrived in each second.
    per_second = {int(k): n for k, n in lapor_stats["arrivals"]["per_second"].items()}
    busiest = max(per_second.values(), default=0)
    out.counts = {
        **out.counts,
        "complaints_sent": cfg.complaints,
        "sms": len(sent.sms),
        "forms_ok": len(sent.forms_ok),
        "forms_cut": len(sent.forms_unsure),
        "email": len(sent.email),
        "wa": len(sent.wa),
        "wa_undelivered": len(sent.wa_failed),
        "sms_resends": sent.sms_retries,
        "complaints": len(rows),
        "complaints_by_source": dict(complaints_by_source),
        "complaints_by_channel": dict(per_channel),
        "reports": len(reports),
        "reports_per_complaint_max": max(per_ref.values(), default=0),
        "raw_items": len(raw),
        "raw_lost": sum(lost.values()),
        "acks_sms": sum(len(v) for v in sms_to.values()),
        "acks_wa": sum(len(v) for v in wa_to.values()),
        "acks_email": sum(len(v) for v in mail_to.values()),
        "ack_problems": ack_problems,
        "acks_missing": ack_missing,
        "acks_in_doubt": in_doubt,
        "dead_jobs": dead,
        "sigkills": sum(r.kills for r in replicas),
        "replica_starts": sum(r.starts for r in replicas),
        "replica_failed_starts": sum(r.failed_starts for r in replicas),
        "pg_restarted": pg_restarted,
        "balancer_cut_requests": balancer.cut,
        "lapor_requests": lapor_stats["requests"],
        "lapor_rate_limited": lapor_stats["rate_limited"],
        "lapor_injected_5xx": lapor_stats["injected_5xx"],
        "lapor_dropped": lapor_stats["dropped"],
        "lapor_hung": lapor_stats["hung"],
        "rate_limit_per_s": cfg.rate_per_s,
        "client_burst": max(1, cfg.burst // 2),
        "max_requests_in_a_second": busiest,
        **_transit(lapor_arrivals),
        "seconds_at_limit": sum(1 for n in per_second.values() if n >= cfg.rate_per_s),
        "settled_s": round(settled_s, 1),
        "replica_exit_codes": stops,
    }
    return out


def _transit(arrivals: list[list[Any]]) -> dict[str, Any]:
    """From the sandbox's arrivals that carry the client's slot time: how long a request
    took from its slot to LAPOR!'s clock, and the busiest second by slot time."""
    timed = [(a[0], a[3]) for a in arrivals if a[3] is not None]
    if not timed:
        return {}
    lag = sorted(at - taken for at, taken in timed)
    by_slot = collections.Counter(int(taken) for _at, taken in timed)
    return {
        "transit_ms": {
            q: round(lag[min(len(lag) - 1, int(len(lag) * f))] * 1000, 1)
            for q, f in (("p50", 0.5), ("p90", 0.9), ("p99", 0.99), ("max", 1.0))
        },
        "max_slots_in_a_second": max(by_slot.values()),
        "late_over_100ms": sum(1 for x in lag if x > 0.1),
    }


def _tids_in(text: str, tids: set[str]) -> list[str]:
    return [t for t in re.findall(r"\d{5,}", text) if t in tids]


def cleanup(root: Path) -> None:
    shutil.rmtree(root, ignore_errors=True)
