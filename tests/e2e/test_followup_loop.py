"""Issue 7 item 5, end to end: three citizens write by e-mail (real Postfix and Dovecot), by
SMS (real gammu-smsd with the dummy phone) and through the old web form (the daemon's own
HTTP listener). The real daemon (`satukanal run`, embedded LAPOR! sandbox) ingests them,
pushes them, and tells each citizen on their own channel; the test plays LAPOR!'s side
through the sandbox's admin endpoints, one step at a time, so nothing depends on timing.

It checks: the acknowledgement carries the right Tracking ID on each channel; every agency
response arrives, in order, once; an SMS reply (keyword and plain) and an e-mail reply reach
the sandbox as replies to the right reports; the complaint closed upstream with only
boilerplate is flagged ``closed_without_real_followup``; a restart sends nothing twice.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import asyncpg

from aggregator.crypto import generate_key
from tests.email.helpers import imap_fetch_all
from tests.email.servers import PASSWORD, Dovecot, Postfix
from tests.sms.conftest import Smsd
from tests.support.ports import free_port

ENV = {k: v for k, v in os.environ.items() if not k.startswith("SATUKANAL_")}
CITIZEN_MAIL = "budi.santoso@warga.test"
CITIZEN_PHONE = "081377778888"
CITIZEN_E164 = "+6281377778888"
COMPLAINT_MSGID = "<aduan-jalan-1@warga.test>"
AGENCY = {"id": "45", "name": "Dinas Pekerjaan Umum dan Penataan Ruang"}

# Per channel: two agency responses. E-mail and SMS get a boilerplate one, then a real
# action; the web complaint gets only boilerplate and is then closed (to be flagged).
RESPONSES = {
    "email": [
        "Terima kasih atas laporan Anda, akan kami tindaklanjuti.",
        "Pada 26-11-2026 regu UPT Jalan telah menambal lubang di depan rumah No. 12 "
        "Jl. Kinibalu dengan aspal dingin.",
    ],
    "sms": [
        "Baik, terima kasih informasinya, akan kami koordinasikan.",
        "Petugas Dishub telah memperbaiki lampu jalan di Jl. Yos Sudarso pada "
        "25-11-2026, kini menyala kembali.",
    ],
    "web": [
        "Laporan Saudara sudah kami catat. Terima kasih.",
        "Sudah kami tindak lanjuti sesuai prosedur.",
    ],
}
DEADLINE_S = 60.0


def write_config(
    tmp: Path,
    dsn: str,
    http_port: int,
    dovecot: Dovecot,
    postfix: Postfix,
    intake_box: str,
    smsd: Smsd,
) -> Path:
    path = tmp / "satukanal.toml"
    path.write_text(f"""
data_dir = "{tmp / "data"}"
log_format = "json"
log_level = "info"
[database]
url = "{dsn}"
[crypto]
hmac_key = "{generate_key()}"
[[crypto.keys]]
id = "k1"
secret = "{generate_key()}"
[agencies]
PUPR = "45"
[lapor]
sandbox = true
updates_poll_s = 0.3
[http]
port = {http_port}
public_base_url = "http://127.0.0.1:{http_port}"
[queue]
poll_s = 0.3
backoff_base_s = 0.2
backoff_max_s = 2.0
[notify]
merge_window_s = 0.5
[bursts]
quiet_window_s = 0  # each SMS on its own here: bursts are tested in tests/judgement

[[sources]]
name = "email-kota"
kind = "imap"
agency = "PUPR"
poll_s = 0.5
[sources.options]
host = "127.0.0.1"
port = {dovecot.imap_port}
tls = "none"
user = "{intake_box}"
password = "{PASSWORD}"
message_id_domain = "kota.test"
timeout_s = 30
[sources.options.smtp]
host = "127.0.0.1"
port = {postfix.smtp_port}
tls = "none"
from_address = "pengaduan@kota.test"

[[sources]]
name = "sms-gammu"
kind = "gammu"
agency = "PUPR"
poll_s = 0.5
[sources.options]
driver = "pgsql"
dsn = "{smsd.dsn}"
timezone = "UTC"

[[sources]]
name = "web-kota"
kind = "form_http"
agency = "PUPR"
""")
    return path


def cli(cfg: Path, *args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "aggregator", "--config", str(cfg), *args],
        capture_output=True,
        text=True,
        env=ENV,
        timeout=timeout,
        check=False,
    )


async def wait_for(
    probe: Callable[[], Awaitable[Any]], what: str, within: float = DEADLINE_S, every: float = 0.3
) -> Any:
    deadline = time.monotonic() + within
    while True:
        value = await probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within:.0f} s waiting for {what}")
        await asyncio.sleep(every)


# ---- what each citizen has received ------------------------------------------------------------
async def mails(dovecot: Dovecot) -> list[EmailMessage]:
    raw = await imap_fetch_all(dovecot, CITIZEN_MAIL)
    return [email.message_from_bytes(r, policy=email.policy.default) for r in raw]  # type: ignore[misc]


def text_of(msg: EmailMessage) -> str:
    part = msg.get_body(preferencelist=("plain",))
    assert part is not None
    return str(part.get_content())


async def sms_sent(smsd: Smsd) -> list[str]:
    """Messages gammu-smsd sent to the citizen, oldest first, multipart parts joined."""
    conn = await asyncpg.connect(smsd.dsn)
    try:
        rows = await conn.fetch(
            'SELECT "ID", "SequencePosition", "TextDecoded" FROM sentitems '
            'WHERE "DestinationNumber" = $1 ORDER BY "ID", "SequencePosition"',
            CITIZEN_E164,
        )
    finally:
        await conn.close()
    out: dict[int, str] = {}
    for r in rows:
        out[r["ID"]] = out.get(r["ID"], "") + r["TextDecoded"]
    return list(out.values())


def positions(haystack: str, needles: list[str]) -> list[int]:
    return [haystack.find(n) for n in needles]


async def test_citizens_hear_every_step_and_their_replies_reach_lapor(
    tmp_path: Path, db_dsn: str, pool: asyncpg.Pool, dovecot: Dovecot, postfix: Postfix, smsd: Smsd
) -> None:
    intake_box = dovecot.fresh_mailbox()
    log_path = tmp_path / "daemon.log"
    cfg, base, daemon = await launch(
        log_path,
        lambda port: write_config(tmp_path, db_dsn, port, dovecot, postfix, intake_box, smsd),
    )
    proc: asyncio.subprocess.Process | None = daemon
    try:
        async with aiohttp.ClientSession() as http:
            sandbox = await sandbox_root(log_path)

            # ---- three citizens write, each on their own channel --------------------------
            complaint = EmailMessage()
            complaint["From"] = f"Budi Santoso <{CITIZEN_MAIL}>"
            complaint["To"] = intake_box
            complaint["Subject"] = "Jalan berlubang di Jl. Kinibalu"
            complaint["Message-ID"] = COMPLAINT_MSGID
            complaint["Date"] = "Sat, 28 Nov 2026 08:00:00 +0700"
            complaint.set_content(
                "Jalan di depan rumah No. 12 Jl. Kinibalu berlubang dalam "
                "sejak sebulan, sudah dua motor jatuh."
            )
            await asyncio.to_thread(postfix.send, CITIZEN_MAIL, [intake_box], complaint.as_bytes())
            smsd.deliver(
                CITIZEN_PHONE,
                "Lampu jalan di Jl. Yos Sudarso mati semua sejak "
                "minggu lalu, rawan begal malam hari.",
            )
            async with http.post(
                f"{base}/intake/web-kota/",
                data={
                    "isi_laporan": "Sampah menumpuk di TPS Jl. Tjilik Riwut km 2 sudah "
                    "seminggu tidak diangkut.",
                    "judul": "Sampah tidak diangkut",
                    "nama": "Siti",
                    "website": "",
                },
                allow_redirects=False,
            ) as resp:
                assert resp.status == 303, await resp.text()
                code = resp.headers["Location"].rsplit("/", 1)[1]

            async def pushed() -> dict[str, asyncpg.Record] | None:
                async with pool.acquire() as conn:
                    rows = await conn.fetch("SELECT id, source, lapor_tracking_id FROM complaints")
                got = {r["source"]: r for r in rows if r["lapor_tracking_id"]}
                return got if len(got) == 3 else None

            rows = await wait_for(pushed, "three complaints pushed to LAPOR!")
            assert len(rows) == 3, rows
            tid = {
                "email": rows["email-kota"]["lapor_tracking_id"],
                "sms": rows["sms-gammu"]["lapor_tracking_id"],
                "web": rows["web-kota"]["lapor_tracking_id"],
            }
            cid = {
                "email": rows["email-kota"]["id"],
                "sms": rows["sms-gammu"]["id"],
                "web": rows["web-kota"]["id"],
            }
            assert len(set(tid.values())) == 3

            async def status_page() -> str:
                async with http.get(f"{base}/status/{code}") as r:
                    assert r.status == 200, r.status
                    return await r.text()

            async def received(n_mail: int, n_sms: int, page_has: list[str]) -> bool:
                m, s = await mails(dovecot), await sms_sent(smsd)
                assert len(m) <= n_mail and len(s) <= n_sms, (
                    "more messages than steps",
                    [text_of(x) for x in m],
                    s,
                )
                page = await status_page() if page_has else ""
                return len(m) == n_mail and len(s) == n_sms and all(p in page for p in page_has)

            # ---- the acknowledgement, with the right Tracking ID, on each channel ---------
            await wait_for(
                lambda: received(1, 1, [f"#{tid['web']}"]), "the acknowledgements", every=1.0
            )
            ack = (await mails(dovecot))[0]
            assert ack["X-LAPOR-Tracking-ID"] == tid["email"]
            assert f"#{tid['email']}" in text_of(ack)
            assert ack["In-Reply-To"] == COMPLAINT_MSGID  # in the citizen's own thread
            assert COMPLAINT_MSGID in str(ack["References"])
            assert ack["Subject"].startswith("Re:") or tid["email"] in ack["Subject"]
            sms_ack = (await sms_sent(smsd))[0]
            assert f"#{tid['sms']}" in sms_ack and f"LAPOR {tid['sms']}" in sms_ack
            for other in (tid["email"], tid["web"]):
                assert other not in sms_ack and other not in text_of(ack).replace(tid["email"], "")

            # ---- the citizens answer: SMS by keyword and plainly, e-mail in the thread -----
            smsd.deliver(
                CITIZEN_PHONE, f"LAPOR {tid['sms']} Sekarang tiga tiang lampu juga miring."
            )
            reply = EmailMessage()
            reply["From"] = f"Budi Santoso <{CITIZEN_MAIL}>"
            reply["To"] = intake_box
            reply["Subject"] = f"Re: {ack['Subject']}"
            reply["Message-ID"] = "<balasan-1@warga.test>"
            reply["Date"] = "Sat, 28 Nov 2026 09:00:00 +0700"
            reply["In-Reply-To"] = ack["Message-ID"]
            reply["References"] = f"{ack['References']} {ack['Message-ID']}"
            reply.set_content(
                "Lubangnya sekarang sudah sedalam 20 cm, mohon segera.\n\n"
                f"> {text_of(ack).splitlines()[0]}\n"
            )
            await asyncio.to_thread(postfix.send, CITIZEN_MAIL, [intake_box], reply.as_bytes())

            async def replies() -> list[dict[str, Any]]:
                async with http.get(f"{sandbox}/_sandbox/replies") as r:
                    return list((await r.json())["items"])

            async def two_replies() -> list[dict[str, Any]] | None:
                items = await replies()
                return items if len(items) >= 2 else None

            items = await wait_for(two_replies, "the SMS and e-mail replies in LAPOR!")
            smsd.deliver(CITIZEN_PHONE, "Tadi malam ada motor jatuh lagi di situ.")
            items = await wait_for(lambda: _at_least(replies, 3), "the plain SMS reply")
            by_tid = {(r["tracking_id"], r["text"]) for r in items}
            assert len(items) == 3, items
            assert any(
                t == tid["sms"] and "tiga tiang lampu" in x and "LAPOR" not in x for t, x in by_tid
            ), items
            assert any(t == tid["sms"] and "motor jatuh lagi" in x for t, x in by_tid), items
            assert any(t == tid["email"] and "20 cm" in x and "> " not in x for t, x in by_tid), (
                items
            )
            async with pool.acquire() as conn:
                assert await conn.fetchval("SELECT count(*) FROM complaints") == 3

            # ---- LAPOR!'s side: two responses each, then the closure ----------------------
            for step in range(2):
                for ch in ("email", "sms", "web"):
                    await emit(
                        http,
                        sandbox,
                        tid[ch],
                        {
                            "type": "response_posted",
                            "agency": AGENCY,
                            "author": "Admin Penghubung Dinas PUPR",
                            "text": RESPONSES[ch][step],
                            "attachments": [],
                        },
                    )
                await wait_for(
                    lambda s=step: received(
                        2 + s,
                        2 + s,  # type: ignore[misc]
                        [RESPONSES["web"][s]],
                    ),
                    f"agency response {step + 1} on every channel",
                    every=1.0,
                )
            for ch in ("email", "sms", "web"):
                for status in ("ditindaklanjuti", "selesai"):
                    await emit(http, sandbox, tid[ch], {"type": "status_changed", "status": status})
            await wait_for(lambda: received(4, 4, ["<dd>Selesai</dd>"]), "the closure", every=1.0)

            got_mail, got_sms, page = (
                await mails(dovecot),
                await sms_sent(smsd),
                await status_page(),
            )
            check_mail(got_mail, tid["email"])
            check_sms(got_sms, tid["sms"])
            # The status page: the Tracking ID, both responses in order, each once.
            assert f"#{tid['web']}" in page
            pos = positions(page, RESPONSES["web"])
            assert -1 < pos[0] < pos[1], pos
            assert all(page.count(t) == 1 for t in RESPONSES["web"])
            # The web citizen has no sink: what was said is kept, in order, for the page.
            async with pool.acquire() as conn:
                notes = await conn.fetch(
                    "SELECT kind, channel, state::text FROM notifications "
                    "WHERE complaint_id = $1 AND state <> 'skipped' ORDER BY created_at",
                    cid["web"],
                )
            assert [n["kind"] for n in notes] == [
                "ack",
                "response_posted",
                "response_posted",
                "status_changed",
            ], notes
            assert {n["channel"] for n in notes} == {"web"}, notes

        rc = await stop_daemon(daemon, check=False)
        assert rc == 0, log_tail(log_path)
        proc = None

        # ---- a restart: one more pass of every loop sends nothing twice -------------------
        # The same configuration, listening where it likes: the old port may be taken now.
        port = urlsplit(base).port
        again = tmp_path / "restart.toml"
        again.write_text(cfg.read_text().replace(f"[http]\nport = {port}\n", "[http]\nport = 0\n"))
        assert again.read_text() != cfg.read_text()
        out = await asyncio.to_thread(cli, again, "run", "--until-idle")
        assert out.returncode == 0, out.stderr[-3000:]
        await asyncio.sleep(2)  # what gammu-smsd or Postfix would still send shows by now
        assert len(await mails(dovecot)) == 4
        assert len(await sms_sent(smsd)) == 4

        # ---- closed with boilerplate only: flagged, the others not --------------------------
        shown = {}
        for ch in ("email", "sms", "web"):
            res = await asyncio.to_thread(cli, cfg, "complaints", "show", str(cid[ch]), "--json")
            assert res.returncode == 0, res.stderr[-2000:]
            shown[ch] = json.loads(res.stdout)
        assert shown["web"]["closed_without_real_followup"] is True
        assert shown["email"]["closed_without_real_followup"] is False
        assert shown["sms"]["closed_without_real_followup"] is False
        assert [f["label"] for f in shown["web"]["followups"]] == [
            "acknowledgement",
            "acknowledgement",
        ]
        assert [f["label"] for f in shown["email"]["followups"]][-1] == "substantive"
        assert "closed_without_real_followup" in [e["kind"] for e in shown["web"]["timeline"]]
        for ch in ("email", "sms", "web"):
            assert shown[ch]["status"] == "selesai"
            assert shown[ch]["lapor_tracking_id"] == tid[ch]
    finally:
        if proc is not None:
            rc = await stop_daemon(proc, check=False)
            print(f"daemon exit code {rc}; log tail:\n{log_tail(log_path)}")


def check_mail(got: list[EmailMessage], tracking_id: str) -> None:
    bodies = [text_of(m) for m in got]
    assert len(got) == 4, bodies
    assert len({m["Message-ID"] for m in got}) == 4  # four messages, none sent twice
    for m in got:
        assert m["X-LAPOR-Tracking-ID"] == tracking_id
        assert m["In-Reply-To"] == COMPLAINT_MSGID, m["In-Reply-To"]
    # ack, response 1, response 2 (each in full), closure — in that order.
    assert f"#{tracking_id}" in bodies[0]
    assert RESPONSES["email"][0] in bodies[1] and RESPONSES["email"][1] not in bodies[1]
    assert RESPONSES["email"][1] in bodies[2] and RESPONSES["email"][0] not in bodies[2]
    assert "selesai" in bodies[3].lower()
    assert all(RESPONSES["email"][0] not in b for b in (bodies[0], bodies[3]))


def check_sms(got: list[str], tracking_id: str) -> None:
    assert len(got) == 4, got
    assert all(f"#{tracking_id}" in s for s in got), got
    norm = [re.sub(r"\s+", " ", s) for s in got]
    assert RESPONSES["sms"][0] in norm[1], norm[1]
    assert RESPONSES["sms"][1] in norm[2], norm[2]
    assert "selesai" in norm[3].lower() and ("SUDAH" in norm[3] or "BELUM" in norm[3]), norm[3]


async def _at_least(probe: Callable[[], Awaitable[list[Any]]], n: int) -> list[Any] | None:
    items = await probe()
    return items if len(items) >= n else None


async def emit(
    http: aiohttp.ClientSession, sandbox: str, tracking_id: str, event: dict[str, Any]
) -> None:
    async with http.post(f"{sandbox}/_sandbox/reports/{tracking_id}/events", json=event) as r:
        assert r.status == 200, await r.text()


# ---- the daemon as a process --------------------------------------------------------------------
def log_tail(path: Path, chars: int = 6000) -> str:
    return path.read_text(errors="replace")[-chars:] if path.exists() else ""


async def start_daemon(cfg: Path, log_path: Path) -> asyncio.subprocess.Process:
    with log_path.open("w") as log_file:
        return await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "aggregator",
            "--config",
            str(cfg),
            "run",
            stderr=log_file,
            stdout=subprocess.DEVNULL,
            env=ENV,
        )


async def stop_daemon(proc: asyncio.subprocess.Process, *, check: bool = True) -> int:
    if proc.returncode is None:
        proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(proc.wait(), 40)
        except TimeoutError:
            proc.kill()
            await proc.wait()
    assert not check or proc.returncode == 0, proc.returncode
    return int(proc.returncode or 0)


async def launch(
    log_path: Path, write: Callable[[int], Path]
) -> tuple[Path, str, asyncio.subprocess.Process]:
    """Start `satukanal run` on a free port and wait until it is ready. A port picked free
    can be taken before the daemon binds it (by any outgoing connection on a busy machine):
    then the daemon exits with a ConfigError naming http.port, and a new port is tried."""
    for _attempt in range(3):
        port = free_port()
        cfg = write(port)
        base = f"http://127.0.0.1:{port}"
        proc = await start_daemon(cfg, log_path)
        if await wait_ready(base, proc, log_path):
            return cfg, base, proc
        assert "cannot listen" in log_tail(log_path), log_tail(log_path)
    raise AssertionError("no free port for the daemon after three tries")


async def wait_ready(base: str, proc: asyncio.subprocess.Process, log_path: Path) -> bool:
    """True once /readyz answers 200; False if the daemon exited with a ConfigError (2)."""

    async def ready() -> bool:
        if proc.returncode is not None:
            assert proc.returncode == 2, log_tail(log_path)
            return True
        try:
            async with http.get(f"{base}/readyz") as r:
                return r.status == 200
        except aiohttp.ClientError:
            return False

    async with aiohttp.ClientSession() as http:
        await wait_for(ready, "the daemon to become ready")
    return proc.returncode is None


async def sandbox_root(log_path: Path) -> str:
    """The embedded sandbox's root URL, from the daemon's start-up banner."""

    async def find() -> str | None:
        m = re.search(r"built-in sandbox at (\S+)", log_tail(log_path, 10**7))
        if m is None:
            return None
        u = urlsplit(m.group(1))
        return f"{u.scheme}://{u.netloc}"

    return str(await wait_for(find, "the sandbox banner"))
