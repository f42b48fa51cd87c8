"""Write-back stress against the real MariaDB and the real daemon process.

200 complaints from the old form get Tracking IDs, status changes and agency responses in
bursts (as LAPOR!'s sync would record them in our database) while the daemon re-scans the old
table every second and is SIGKILLed twice mid-work. At the end every old row shows its
Tracking ID, its latest status and each response exactly once, no complaint is marked
deleted whose row exists, and no job is left running.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from aggregator.crypto import generate_key
from connectors.forms.options import DEFAULT_STATUS_BACK
from connectors.forms.writeback import response_text
from tests.forms.helpers import SATUKANAL
from tests.forms.legacy import create_legacy_db, drop_legacy_db, fill

pytestmark = pytest.mark.timeout(240)
N = 200
ENV = {k: v for k, v in os.environ.items() if not k.startswith("SATUKANAL_")}
RANK = ["0", "proses", "selesai"]
AGENCIES = ["Dinas PUPR", "Dishub", "DLH", None]


def _config(tmp: Path, dsn: str, legacy_url: str) -> Path:
    path = tmp / "satukanal.toml"
    path.write_text(f"""
data_dir = "{tmp / "data"}"
log_format = "json"
[database]
url = "{dsn}"
[crypto]
hmac_key = "{generate_key()}"
[[crypto.keys]]
id = "k1"
secret = "{generate_key()}"
[lapor]
adapter = "manual"
[http]
port = 0
[queue]
poll_s = 0.2
lease_s = 3
workers = 8
[[sources]]
name = "form-stress"
kind = "sql_table"
poll_s = 0.5
batch_size = 100
[sources.options]
url = "{legacy_url}"
table = "pengaduan"
statement_timeout_s = 5
[sources.options.rescan]
interval_s = 1
[sources.options.write_back]
enabled = true
tracking_column = "lapor_tracking_id"
staff_id = 1
""")
    return path


def _start(cfg: Path, log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [SATUKANAL, "--config", str(cfg), "run"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=log.open("ab"),
        env=ENV,
    )


async def _wait(cond: Any, what: str, within_s: float = 60, every_s: float = 0.2) -> None:
    deadline = time.monotonic() + within_s
    while not await cond():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(every_s)


async def test_write_back_survives_bursts_rescans_and_two_sigkills(
    tmp_path: Path, db_dsn: str
) -> None:
    legacy = await create_legacy_db(seed=False)
    procs: list[subprocess.Popen[bytes]] = []
    pg = await asyncpg.connect(db_dsn)
    log = tmp_path / "daemon.log"
    try:
        await fill(legacy, N)
        initial = dict(await legacy.run("SELECT id_pengaduan, status FROM pengaduan"))
        cfg = _config(tmp_path, db_dsn, legacy.url)
        procs.append(_start(cfg, log))

        async def ingested() -> bool:
            assert procs[-1].poll() is None, log.read_text()[-3000:]
            return await pg.fetchval("SELECT count(*) FROM complaints") == N

        await _wait(ingested, "the 200 rows to be ingested")
        ids = {
            r["row_id"]: r["id"]
            for r in await pg.fetch("SELECT id, (origin->>'row_id')::int AS row_id FROM complaints")
        }
        rows = sorted(ids)
        statuses = ["diproses", "ditindaklanjuti", "selesai"]
        event = 0

        async def burst(part: list[int], step: int) -> None:
            nonlocal event
            for rid in part:
                await pg.execute(
                    "UPDATE complaints SET lapor_tracking_id = $2, status = $3 WHERE id = $1",
                    ids[rid],
                    f"{7000000 + rid}",
                    statuses[(rid + step) % 3 if step else 0],
                )
                event += 1
                await pg.execute(
                    "INSERT INTO followups (complaint_id, event_id, at, agency_name, text, label)"
                    " VALUES ($1, $2, now(), $3, $4, 'substantive')",
                    ids[rid],
                    f"ev-{event}",
                    AGENCIES[rid % 4],
                    f"Tanggapan nomor {event} untuk laporan {rid}: petugas sudah meninjau lokasi.",
                )

        async def kill_mid_work() -> None:
            async def busy() -> bool:
                return bool(
                    await pg.fetchval(
                        "SELECT count(*) FROM jobs WHERE kind = 'write_back' AND state = 'done'"
                    )
                )

            # Killed as soon as the first write-backs are done: on a quiet machine the whole
            # burst takes well under a second.
            await _wait(busy, "write-back to get going", every_s=0.02)
            procs[-1].send_signal(signal.SIGKILL)
            procs[-1].wait(10)

        await burst(rows[:100], 0)
        await kill_mid_work()
        pending_at_kill = await pg.fetchval(
            "SELECT count(*) FROM jobs WHERE kind = 'write_back' AND state <> 'done'"
        )
        procs.append(_start(cfg, log))
        await burst(rows[100:], 0)
        await burst(rows[::3], 1)  # status moves and second responses, while it catches up
        await kill_mid_work()
        procs.append(_start(cfg, log))
        await burst(rows[1::4], 2)

        async def settled() -> bool:
            assert procs[-1].poll() is None, log.read_text()[-3000:]
            return (
                await pg.fetchval(
                    "SELECT count(*) FROM jobs WHERE kind = 'write_back' "
                    "AND state NOT IN ('done', 'dead')"
                )
                == 0
            )

        await _wait(settled, "every write-back job to finish", within_s=90)
        await asyncio.sleep(2.5)  # two more re-scans see our own writes come back
        procs[-1].send_signal(signal.SIGTERM)
        procs[-1].wait(40)
        assert procs[-1].returncode == 0, log.read_text()[-3000:]

        # -- what the old form shows -------------------------------------------------------
        old = {
            r[0]: r
            for r in await legacy.run(
                "SELECT id_pengaduan, lapor_tracking_id, status FROM pengaduan"
            )
        }
        answers: dict[int, list[str]] = {}
        for rid, text in await legacy.run(
            "SELECT id_pengaduan, tanggapan FROM tanggapan WHERE id_petugas = 1"
        ):
            answers.setdefault(rid, []).append(text.decode("utf-8"))
        ours = await pg.fetch(
            "SELECT id, lapor_tracking_id, status::text AS status, origin FROM complaints"
        )
        followups = await pg.fetch("SELECT complaint_id, agency_name, text FROM followups")
        by_complaint: dict[Any, list[str]] = {}
        for f in followups:
            by_complaint.setdefault(f["complaint_id"], []).append(
                response_text(f["agency_name"], f["text"])
            )
        problems = []
        for c in ours:
            origin = json.loads(c["origin"])
            rid = origin["row_id"]
            _, tracking, status = old[rid]
            if tracking != c["lapor_tracking_id"].encode():
                problems.append((rid, "tracking", tracking))
            want = DEFAULT_STATUS_BACK[c["status"]]
            was = initial[rid].decode()
            want = was if RANK.index(was) > RANK.index(want) else want
            if status.decode() != want:
                problems.append((rid, "status", status, want))
            if sorted(answers.get(rid, [])) != sorted(by_complaint[c["id"]]):
                problems.append((rid, "responses", answers.get(rid), by_complaint[c["id"]]))
            if origin.get("legacy_row_deleted"):
                problems.append((rid, "marked deleted"))
        assert not problems, problems[:5]
        assert len(followups) == event and sum(map(len, answers.values())) == event
        states = dict(
            await pg.fetch(
                "SELECT state::text, count(*) FROM jobs WHERE kind = 'write_back' GROUP BY 1"
            )
        )
        assert set(states) == {"done"}, states
        assert await pg.fetchval("SELECT count(*) FROM jobs WHERE state = 'running'") == 0
        assert pending_at_kill > 0, "the first kill must land in the middle of the work"
        ledger = await pg.fetchval("SELECT count(*) FROM form_writes WHERE confirmed_at IS NULL")
        assert ledger == 0
        print(
            f"\nwrite-back stress: {N} rows, {event} responses, "
            f"{sum(states.values())} jobs, {pending_at_kill} pending at the first kill"
        )
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait(10)
        await pg.close()
        await drop_legacy_db(legacy)
