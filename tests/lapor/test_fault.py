"""Issue 3 item 6: 500 complaints through a faulty LAPOR! while the daemon is SIGKILLed.

The sandbox answers 5xx to 20% of requests, leaves 5% of creates hanging after acting on
them, drops 5% of connections, revokes every token every 2 s and duplicates and reorders
feed events. The daemon (`satukanal run`, configured for this database and sandbox) is
killed with SIGKILL and restarted six times. At the end: exactly one LAPOR! report per
complaint in the sandbox's own record, every complaint holds its Tracking ID, every feed
event is applied exactly once, and no complaint's status went backwards.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import random
import signal
import sys
import time
from pathlib import Path

import aiohttp
import asyncpg
import pytest

from aggregator.lapor.sandbox.faults import parse_faults
from tests.lapor.helpers import insert_many, make_services, start_sandbox
from tests.support.ports import free_port

N = 500
KILLS = 6
FAULTS = (
    "error5xx=0.2,timeout_after_create=0.05,drop=0.05,revoke_tokens=2,"
    "dup_events=0.1,reorder_events=0.1,hang_s=3"
)
SATUKANAL = Path(sys.executable).with_name("satukanal")


def write_config(tmp: Path, dsn: str, base_url: str, http_port: int) -> Path:
    """`satukanal run` against the test database and the faulty sandbox, nothing else."""
    cfg = tmp / "satukanal.toml"
    cfg.write_text(f"""demo = true
data_dir = "{tmp / "data"}"
log_level = "warning"
log_format = "console"

[database]
url = "{dsn}"

[lapor]
adapter = "http"
base_url = "{base_url}"
client_id = "satukanal"
client_secret = "sandbox-secret"
timeout_s = 1.5
connect_timeout_s = 1.0
rate_limit_per_s = 60.0
rate_burst = 100
updates_poll_s = 0.3
updates_page = 200
breaker_failures = 50
breaker_reset_s = 0.5

[queue]
workers = 8
lease_s = 3.0
poll_s = 0.3
backoff_base_s = 0.1
backoff_max_s = 1.0
max_attempts = 1000

[http]
port = {http_port}
""")
    return cfg


async def start_daemon(cfg: Path, http_port: int, log: Path) -> asyncio.subprocess.Process:
    proc = await asyncio.create_subprocess_exec(
        str(SATUKANAL),
        "--config",
        str(cfg),
        "run",
        stdout=log.open("ab"),
        stderr=asyncio.subprocess.STDOUT,
    )
    async with aiohttp.ClientSession() as http:
        for _ in range(300):
            with contextlib.suppress(aiohttp.ClientError):
                async with http.get(f"http://127.0.0.1:{http_port}/healthz") as resp:
                    if resp.status == 200:
                        return proc
            assert proc.returncode is None, "satukanal run exited; see " + str(log)
            await asyncio.sleep(0.1)
    raise AssertionError(f"satukanal run did not come up; see {log}")


async def done(pool: asyncpg.Pool, sb: object) -> bool:
    state = sb.state  # type: ignore[attr-defined]
    if len(state["reports"]) < N or any(
        r["next_at"] is not None for r in state["reports"].values()
    ):
        return False
    async with pool.acquire() as conn:
        pushed = await conn.fetchval(
            "SELECT count(*) FROM complaints WHERE lapor_tracking_id IS NOT NULL"
        )
        applied = await conn.fetchval("SELECT count(*) FROM lapor_events WHERE applied")
    return bool(pushed == N and applied == len(state["events"]))


@pytest.mark.slow
@pytest.mark.timeout(600)
async def test_exactly_once_through_faults_and_sigkills(
    db_dsn: str, pool: asyncpg.Pool, tmp_path: Path
) -> None:
    running = await start_sandbox(
        life="fast",
        life_unit_s=0.3,
        rate_per_s=100,
        burst=200,
        faults=parse_faults(FAULTS),
        seed=2019,
    )
    log = tmp_path / "daemon.log"
    http_port = free_port()
    cfg = write_config(tmp_path, db_dsn, running.base_url, http_port)
    rng = random.Random(6)
    services = make_services(pool, None)
    cids = await insert_many(pool, services, N)
    kills = 0
    pushed_at_kill: list[int] = []
    proc: asyncio.subprocess.Process | None = None
    try:
        for _ in range(KILLS):
            proc = await start_daemon(cfg, http_port, log)
            await asyncio.sleep(rng.uniform(1.0, 3.0))
            proc.send_signal(signal.SIGKILL)
            await proc.wait()
            kills += 1
            async with pool.acquire() as conn:
                pushed_at_kill.append(
                    await conn.fetchval(
                        "SELECT count(*) FROM complaints WHERE lapor_tracking_id IS NOT NULL"
                    )
                )
        proc = await start_daemon(cfg, http_port, log)
        deadline = time.monotonic() + 300
        while not await done(pool, running.sb):
            assert time.monotonic() < deadline, log.read_text()[-3000:]
            assert proc.returncode is None, log.read_text()[-3000:]
            await asyncio.sleep(0.5)
        proc.send_signal(signal.SIGKILL)
        await proc.wait()
        proc = None
    finally:
        if proc is not None and proc.returncode is None:
            proc.kill()
            await proc.wait()
        await running.stop()

    sb = running.sb
    assert kills >= 5 and pushed_at_kill[0] < N  # killed while pushing (and later, reading)
    stats = sb.stats
    assert stats["injected_5xx"] > 50 and stats["dropped"] > 5 and stats["hung"] > 5
    assert stats["tokens_revoked"] > 0

    # The sandbox's own record: exactly one report per complaint.
    per_ref = collections.Counter(r["external_ref"] for r in sb.state["reports"].values())
    assert set(per_ref) == {str(c) for c in cids}
    assert set(per_ref.values()) == {1}

    async with pool.acquire() as conn:
        rows = await conn.fetch("SELECT id, lapor_tracking_id, status::text FROM complaints")
        events = await conn.fetch("SELECT event_id, applied, note FROM lapor_events")
        timeline = await conn.fetch(
            "SELECT data->>'event_id' AS e FROM events WHERE data ? 'event_id'"
        )
        followups = await conn.fetch("SELECT event_id FROM followups")
        dead = await conn.fetchval(
            "SELECT count(*) FROM jobs WHERE state = 'dead' AND kind IN ('push', 'reply_up')"
        )
        notify = await conn.fetch("SELECT dedup_key FROM jobs WHERE kind = 'notify'")
    by_ref = {r["external_ref"]: t for t, r in sb.state["reports"].items()}
    assert {str(r["id"]): r["lapor_tracking_id"] for r in rows} == by_ref
    # Every feed event stored once and applied once; statuses end where LAPOR!'s are.
    feed = sb.state["events"]
    assert sorted(e["event_id"] for e in events) == sorted(e["event_id"] for e in feed)
    assert all(e["applied"] for e in events)
    timeline_ids = [t["e"] for t in timeline]
    assert len(timeline_ids) == len(set(timeline_ids))
    stale = {e["event_id"] for e in events if e["note"] == "stale"}
    assert set(timeline_ids) == {e["event_id"] for e in feed} - stale
    responses = {e["event_id"] for e in feed if e["type"] in ("response_posted", "info_requested")}
    assert sorted(f["event_id"] for f in followups) == sorted(responses)
    assert {r["lapor_tracking_id"]: r["status"] for r in rows} == {
        t: r["status"] for t, r in sb.state["reports"].items()
    }
    assert dead == 0
    keys = [n["dedup_key"] for n in notify]
    assert len(keys) == len(set(keys))
