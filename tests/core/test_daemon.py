"""The daemon and the CLI as an administrator uses them: real processes, real servers."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from email.message import EmailMessage
from pathlib import Path

import aiohttp

from aggregator.crypto import generate_key
from aggregator.demo.citizens import deliver_to_maildir
from tests.support.ports import free_port

ENV = {k: v for k, v in os.environ.items() if not k.startswith("SATUKANAL_")}


def config(tmp_path: Path, dsn: str, *, port: int = 0, extra: str = "") -> Path:
    maildir = tmp_path / "Maildir"
    for sub in ("tmp", "new", "cur"):
        (maildir / sub).mkdir(parents=True, exist_ok=True)
    path = tmp_path / "satukanal.toml"
    path.write_text(f"""
data_dir = "{tmp_path / "data"}"
log_format = "json"
[database]
url = "{dsn}"
[crypto]
hmac_key = "{generate_key()}"
[[crypto.keys]]
id = "k1"
secret = "{generate_key()}"
[agencies]
DISKOMINFO = "55"
[lapor]
sandbox = true
[http]
port = {port}
[queue]
poll_s = 0.5
[[sources]]
name = "email-warga"
kind = "maildir"
agency = "DISKOMINFO"
poll_s = 0.5
[sources.options]
path = "{maildir}"
{extra}
""")
    return path


def mail(n: int) -> bytes:
    msg = EmailMessage()
    msg["From"] = f"Warga {n} <warga{n}@contoh.id>"
    msg["To"] = "pengaduan@kota.example"
    msg["Subject"] = f"Jalan rusak nomor {n}"
    msg["Message-ID"] = f"<warga-{n}@contoh.id>"
    msg["Date"] = "Sat, 28 Nov 2026 08:00:00 +0700"
    msg.set_content(f"Jalan di depan rumah nomor {n} Jl. Kinibalu berlubang dalam sejak sebulan.")
    return msg.as_bytes()


def cli(cfg: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "aggregator", "--config", str(cfg), *args],
        capture_output=True,
        text=True,
        env=ENV,
        timeout=timeout,
        check=False,
    )


async def test_run_until_idle_pushes_what_arrived_and_the_cli_shows_it(tmp_path, db_dsn):
    cfg = config(tmp_path, db_dsn)
    for n in range(3):
        deliver_to_maildir(tmp_path / "Maildir", mail(n))
    out = await asyncio.to_thread(cli, cfg, "run", "--until-idle")
    assert out.returncode == 0, out.stderr[-3000:]
    lines = [json.loads(x) for x in out.stderr.splitlines() if x.startswith("{")]
    summary = [x for x in lines if x["event"] == "daemon_stopped"]
    assert len(summary) == 1  # one summary line
    assert "warga0@contoh.id" not in out.stderr  # no personal data in any log line

    listed = json.loads(cli(cfg, "complaints", "list", "--json").stdout)
    assert len(listed) == 3
    assert all(c["lapor_tracking_id"] for c in listed), listed
    shown = json.loads(cli(cfg, "complaints", "show", str(listed[0]["id"]), "--json").stdout)
    kinds = [e["kind"] for e in shown["timeline"]]
    assert kinds[0] == "complaint_ingested" and "lapor_pushed" in kinds
    assert shown["reporter"]["email"] == "(tersimpan terenkripsi)"

    status = json.loads(cli(cfg, "status", "--json").stdout)
    assert [s["source"] for s in status["sources"]] == ["email-warga"]
    assert status["sources"][0]["items_total"] == 3

    token = cli(cfg, "token", "create", "--role", "operator").stdout.strip()
    assert token.startswith("skn_")
    bad = cli(cfg, "token", "create", "--role", "agency")
    assert bad.returncode == 2 and "--agency" in bad.stderr


async def test_sigterm_drains_and_exits_zero_with_one_summary(tmp_path, db_dsn):
    port = free_port()
    cfg = config(tmp_path, db_dsn, port=port)
    log_path = tmp_path / "daemon.log"
    log_file = log_path.open("w")
    proc = await asyncio.create_subprocess_exec(
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
    try:
        deadline = time.monotonic() + 60
        async with aiohttp.ClientSession() as http:
            while True:
                try:
                    async with http.get(f"http://127.0.0.1:{port}/readyz") as resp:
                        if resp.status == 200:
                            break
                except aiohttp.ClientError:
                    pass
                assert time.monotonic() < deadline, "daemon never became ready"
                await asyncio.sleep(0.3)
            deliver_to_maildir(tmp_path / "Maildir", mail(7))
            # Within the poll interval on a quiet machine; CI's may be busy.
            for _ in range(120):
                await asyncio.sleep(0.25)
                metrics = await (await http.get(f"http://127.0.0.1:{port}/metrics")).text()
                if (
                    'raw_items_ingested_total{source="email-warga"} 1.0' in metrics
                    and 'job_outcomes_total{kind="push",outcome="done"}' in metrics
                ):
                    break  # ingested, and pushed to LAPOR!
            assert 'satukanal_raw_items_ingested_total{source="email-warga"} 1.0' in metrics
            for loop in ("ingest:email-warga", "lapor_updates", "sla"):
                assert f'satukanal_loop_iterations_total{{loop="{loop}"}}' in metrics
            assert 'satukanal_job_outcomes_total{kind="push",outcome="done"}' in metrics
            assert "satukanal_source_last_success_timestamp_seconds" in metrics
        proc.send_signal(signal.SIGTERM)
        await asyncio.wait_for(proc.wait(), 40)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        log_file.close()
    err = log_path.read_text()
    assert proc.returncode == 0, err[-3000:]
    events = [json.loads(x)["event"] for x in err.splitlines() if x.startswith("{")]
    assert events.count("daemon_stopped") == 1
    import asyncpg

    conn = await asyncpg.connect(db_dsn)
    try:
        assert await conn.fetchval("SELECT count(*) FROM jobs WHERE state = 'running'") == 0
        assert (
            await conn.fetchval("SELECT count(*) FROM source_state WHERE lease_owner IS NOT NULL")
            == 0
        )
    finally:
        await conn.close()


def test_start_up_refuses_a_bad_configuration_with_a_clear_message(tmp_path):
    cfg = tmp_path / "bad.toml"
    cfg.write_text('[[sources]]\nname = "sms"\nkind = "carrier-pigeon"\n')
    out = cli(cfg, "run", "--until-idle")
    assert out.returncode == 2
    assert "Traceback" not in out.stderr
    assert "encryption key" in out.stderr or "carrier-pigeon" in out.stderr
    cfg.write_text(
        '[database]\nurl = "postgresql://nobody@127.0.0.1:1/none"\n[lapor]\nsandbox = true\n'
        f'[crypto]\nhmac_key = "{generate_key()}"\n'
        f'[[crypto.keys]]\nid = "k"\nsecret = "{generate_key()}"\n'
    )
    out = cli(cfg, "status")
    assert out.returncode == 2 and "cannot connect to PostgreSQL" in out.stderr
