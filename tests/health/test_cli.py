"""The CLI as an administrator uses it: status with health, dead jobs and incidents, JSON
everywhere, whole lines when piped, times in the municipality's zone, quiet on a closed pipe,
complaints found by Tracking ID or receipt code."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import asyncpg

from aggregator.crypto import generate_key

ENV = {
    k: v for k, v in os.environ.items() if k not in ("COLUMNS",) and not k.startswith("SATUKANAL_")
}


def config(tmp_path: Path, dsn: str, sources: int = 2) -> Path:
    src = "".join(
        f"""
[[sources]]
name = "email-{n:03d}"
kind = "maildir"
[sources.options]
path = "{tmp_path / "Maildir"}"
"""
        for n in range(sources)
    )
    path = tmp_path / "satukanal.toml"
    path.write_text(f"""
data_dir = "{tmp_path / "data"}"
[database]
url = "{dsn}"
[crypto]
hmac_key = "{generate_key()}"
[[crypto.keys]]
id = "k1"
secret = "{generate_key()}"
[lapor]
adapter = "http"
base_url = "http://127.0.0.1:9/api/v1"
client_id = "satukanal-test"
client_secret = "not-used-the-link-is-never-reached"
[sla]
timezone = "Asia/Makassar"
{src}
""")
    return path


def cli(cfg: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "aggregator", "--config", str(cfg), *args],
        capture_output=True,
        text=True,
        env=ENV,
        timeout=120,
        check=False,
    )


async def seed(dsn: str) -> uuid.UUID:
    conn = await asyncpg.connect(dsn)
    try:
        cid = uuid.uuid4()
        await conn.execute(
            "INSERT INTO complaints (id, source, channel, content, lapor_tracking_id, origin,"
            " received_at) VALUES ($1, 'form-lama', 'web', 'Lampu jalan mati di Jl. Tjilik"
            " Riwut km 3 sejak seminggu', 'LAPOR-7781234', $2, '2026-12-01 01:30:00+00')",
            cid,
            json.dumps({"receipt_code": "K7Q2M-9XW4P"}),
        )
        await conn.execute(
            "INSERT INTO jobs (kind, state, complaint_id, last_error, attempts)"
            " VALUES ('push', 'dead', $1, 'HTTP 422 ' || repeat('x', 150), 12)",
            cid,
        )
        await conn.execute(
            "INSERT INTO component_health (component, kind, name, last_attempt_at,"
            " last_failure_at, consecutive_failures, needs_human, last_error) VALUES"
            " ('source:email-001', 'source', 'email-001', '2026-12-02 23:00:00+00',"
            " '2026-12-02 23:00:00+00', 1, true, 'IMAP login failed: ' || repeat('y', 120))"
        )
        return cid
    finally:
        await conn.close()


async def test_status_shows_unknown_health_dead_jobs_and_whole_lines_in_local_time(
    tmp_path, db_dsn
):
    await seed(db_dsn)
    cfg = config(tmp_path, db_dsn)
    out = await asyncio.to_thread(cli, cfg, "status", "--json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    health = {c["component"]: c["state"] for c in data["health"]}
    assert health == {
        "lapor": "unknown",
        "feed": "unknown",
        "source:email-000": "unknown",
        "source:email-001": "failing",
    }  # never "ok" before first contact
    assert len(data["dead_jobs"]) == 1 and data["incidents"] == []

    text = await asyncio.to_thread(cli, cfg, "status")  # stdout is a pipe here
    assert text.returncode == 0, text.stderr
    assert "LAPOR!: link ok" not in text.stdout
    assert "Dead jobs: 1" in text.stdout and "Open incidents: none" in text.stdout
    assert "IMAP login failed: " + "y" * 120 in text.stdout  # not cut at 80 columns
    assert "HTTP 422 " + "x" * 150 in text.stdout
    assert "2026-12-03 07:00:00 WITA" in text.stdout  # 23:00 UTC in Asia/Makassar, labelled


async def test_status_json_into_a_closed_pipe_ends_quietly(tmp_path, db_dsn):
    cfg = config(tmp_path, db_dsn, sources=400)  # more JSON than a pipe buffer holds
    cmd = (
        f"{sys.executable} -m aggregator --config {cfg} status --json | head -n 1; "
        "exit ${PIPESTATUS[0]}"
    )
    out = await asyncio.to_thread(
        subprocess.run,
        ["bash", "-c", cmd],
        capture_output=True,
        text=True,
        env=ENV,
        timeout=120,
        check=False,
    )
    assert out.stdout.strip() == "{"
    assert "Traceback" not in out.stderr and "BrokenPipe" not in out.stderr, out.stderr
    assert out.returncode == 0


async def test_complaints_show_by_tracking_id_or_receipt_code(tmp_path, db_dsn):
    cid = await seed(db_dsn)
    cfg = config(tmp_path, db_dsn)
    for ref in (str(cid), "LAPOR-7781234", "K7Q2M-9XW4P", "k7q2m-9xw4p"):
        out = await asyncio.to_thread(cli, cfg, "complaints", "show", ref, "--json")
        assert out.returncode == 0, (ref, out.stderr)
        assert json.loads(out.stdout)["id"] == str(cid)
    text = await asyncio.to_thread(cli, cfg, "complaints", "show", "LAPOR-7781234")
    assert "Lampu jalan mati" in text.stdout
    missing = await asyncio.to_thread(cli, cfg, "complaints", "show", "LAPOR-0000000")
    assert missing.returncode == 1 and "LAPOR-0000000" in missing.stderr
    assert "Traceback" not in missing.stderr
    listed = await asyncio.to_thread(cli, cfg, "complaints", "list")
    assert "2026-12-01 09:30:00 WITA" in listed.stdout


async def test_printing_commands_answer_json(tmp_path, db_dsn):
    await seed(db_dsn)
    cfg = config(tmp_path, db_dsn)
    conn = await asyncpg.connect(db_dsn)
    try:
        job = await conn.fetchval("SELECT id FROM jobs WHERE state = 'dead'")
    finally:
        await conn.close()
    out = await asyncio.to_thread(cli, cfg, "jobs", "retry", str(job), "--json")
    assert json.loads(out.stdout) == {"job_id": job, "retried": True}
    out = await asyncio.to_thread(
        cli, cfg, "jobs", "discard", str(job), "--reason", "uji", "--json"
    )
    assert json.loads(out.stdout)["job_id"] == job
    out = await asyncio.to_thread(cli, cfg, "token", "create", "--role", "auditor", "--json")
    token = json.loads(out.stdout)
    assert token["token"].startswith("skn_") and token["role"] == "auditor"
    out = await asyncio.to_thread(cli, cfg, "token", "revoke", token["id"], "--json")
    assert json.loads(out.stdout)["revoked"] is True
    out = await asyncio.to_thread(cli, cfg, "quarantine", "list", "--json")
    assert json.loads(out.stdout) == []


async def test_migrate_keys_and_reports_answer_json_too(tmp_path, db_dsn):
    cfg = config(tmp_path, db_dsn)
    out = await asyncio.to_thread(cli, cfg, "migrate", "--json")
    assert json.loads(out.stdout) == {"applied": [], "schema_written_to": None}, out.stderr
    out = await asyncio.to_thread(cli, cfg, "keys", "generate", "--json")
    keys = json.loads(out.stdout)
    assert keys["key"]["id"] == "k1" and len(keys["hmac_key"]) >= 40
    out = await asyncio.to_thread(cli, cfg, "keys", "rotate", "--json")
    assert json.loads(out.stdout) == {
        "reencrypted": 0,
        "key_id": "k1",
        "raw_items": 0,
        "notifications": 0,
        "jobs": 0,
        "complaints": 0,
        "spool": 0,
    }, out.stderr
    out = await asyncio.to_thread(cli, cfg, "report", "sla", "--json")
    assert out.returncode == 0, out.stderr
    assert isinstance(json.loads(out.stdout), list | dict)
