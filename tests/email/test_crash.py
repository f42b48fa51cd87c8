"""Kill the ingesting process in the middle of a batch; nothing is lost or taken twice."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from tests.email.conftest import imap_config
from tests.email.helpers import imap_search
from tests.email.servers import Dovecot

pytestmark = pytest.mark.timeout(240)
ROOT = Path(__file__).resolve().parents[2]
N = 150


def _complaint(i: int) -> bytes:
    return (
        f"From: Warga {i} <warga{i}@warga.test>\r\nTo: pengaduan@kota.test\r\n"
        f"Subject: Pengaduan nomor {i}\r\nDate: Mon, 03 Mar 2025 08:15:00 +0700\r\n"
        f"Message-ID: <crash-{i}@warga.test>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
        f"Lampu jalan nomor {i} di Jl. Crash Test mati, mohon diperbaiki.\r\n"
    ).encode()


def _worker(db_dsn: str, cfg: dict, data_dir: str, until_empty: bool) -> subprocess.Popen[bytes]:
    args = json.dumps(
        {"dsn": db_dsn, "data_dir": data_dir, "source": cfg, "until_empty": until_empty}
    )
    return subprocess.Popen(
        [sys.executable, "-m", "tests.email.ingest_worker", args],
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


async def test_sigkill_mid_batch_then_rerun_loses_and_duplicates_nothing(
    pool, db_dsn: str, dovecot: Dovecot, mailbox: str
) -> None:
    await asyncio.to_thread(dovecot.deliver, mailbox, [_complaint(i) for i in range(N)])
    cfg = imap_config(dovecot, mailbox, "email-crash", batch_size=5, max_per_poll=1000)
    cfg_json = json.loads(cfg.model_dump_json())
    cfg_json["options"]["password"] = cfg.options["password"]
    data_dir = tempfile.mkdtemp(prefix="satukanal-crash-")

    proc = _worker(db_dsn, cfg_json, data_dir, until_empty=False)
    try:
        deadline = time.monotonic() + 60
        taken = 0
        while taken < 20:
            assert proc.poll() is None, proc.stderr.read().decode()[-3000:] if proc.stderr else ""
            assert time.monotonic() < deadline, "the worker never got going"
            taken = await pool.fetchval(
                "SELECT count(*) FROM raw_items WHERE source = 'email-crash'"
            )
            await asyncio.sleep(0.005)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    at_kill = await pool.fetchval("SELECT count(*) FROM raw_items WHERE source = 'email-crash'")
    assert 0 < at_kill < N, "the kill must land in the middle of the work"
    seen_at_kill = len(await imap_search(dovecot, mailbox, "SEEN"))
    assert seen_at_kill <= at_kill  # never acknowledged before committed

    # The dead process's lease would expire on its own; don't make the test wait for it.
    await pool.execute(
        "UPDATE source_state SET lease_until = now() - interval '1 second' "
        "WHERE source = 'email-crash'"
    )
    rerun = _worker(db_dsn, cfg_json, data_dir, until_empty=True)
    _, err = await asyncio.to_thread(rerun.communicate, timeout=120)
    assert rerun.returncode == 0, err.decode()[-3000:]

    refs = await pool.fetch("SELECT source_ref, state FROM raw_items WHERE source = 'email-crash'")
    assert sorted(r["source_ref"] for r in refs) == sorted(
        f"<crash-{i}@warga.test>" for i in range(N)
    )
    assert {r["state"] for r in refs} == {"accepted"}
    assert await pool.fetchval("SELECT count(*) FROM complaints WHERE source = 'email-crash'") == N
    assert await pool.fetchval("SELECT count(*) FROM jobs WHERE kind = 'push'") == N
    assert await imap_search(dovecot, mailbox, "UNSEEN") == []
    cursor = await pool.fetchval("SELECT cursor FROM source_state WHERE source = 'email-crash'")
    assert cursor["uid"] == N
