"""The notifier killed by SIGKILL after gammu-smsd's outbox took the SMS and before the
notification was recorded: the retry finds the message by its CreatorID (the notification
id) and queues nothing new, so the citizen's phone gets it once; the real gammu-smsd sends
what was queued."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import signal
import sys
from pathlib import Path

import asyncpg
import pytest

from aggregator.notify.handler import make_notify_handler
from aggregator.queue import Worker
from aggregator.wiring.sources import build_source, sinks_of
from schemas.complaint import Reporter
from schemas.config import SourceConfig
from tests.followup.helpers import Clock, add_complaint, make_services
from tests.sms.conftest import Smsd, wait_for

pytestmark = pytest.mark.timeout(180)
ROOT = Path(__file__).resolve().parents[2]


async def test_sigkill_between_gammu_queue_and_record_sends_once(
    pool: asyncpg.Pool, db_dsn: str, smsd_pg: Smsd
) -> None:
    cfg = SourceConfig(
        name="sms-gammu",
        kind="gammu",
        options={"driver": "pgsql", "dsn": smsd_pg.dsn, "timezone": "UTC"},
    )
    clock = Clock(dt.datetime.now(dt.UTC))
    services = make_services(
        pool, clock, sources=[cfg], notify={"merge_window_s": 0}, queue={"lease_s": 1.0}
    )
    cid = await add_complaint(
        services,
        source="sms-gammu",
        channel="sms",
        tracking_id="1916470",
        reporter=Reporter(phone="081355556666"),
    )
    async with pool.acquire() as conn:
        await services.queue.enqueue(
            conn,
            "notify",
            complaint_id=cid,
            payload={"event": "lapor_pushed"},
            dedup_key=f"notify:pushed:{cid}",
        )
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.email.notify_kill_child",
        db_dsn,
        cfg.model_dump_json(),
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    _out, err = await asyncio.wait_for(proc.communicate(), 90)
    assert proc.returncode == -signal.SIGKILL, err.decode()[-2000:]
    async with pool.acquire() as conn:
        nid, state = await conn.fetchrow(
            "SELECT id, state::text FROM notifications WHERE complaint_id = $1", cid
        )
    assert state == "queued"

    await asyncio.sleep(1.2)  # the dead worker's lease runs out
    clock.now = dt.datetime.now(dt.UTC)
    src = build_source(cfg, services)
    try:
        worker = Worker(
            services.queue, {"notify": make_notify_handler(services, sinks_of({src.name: src}))}
        )
        assert await worker.run_once() == 1
        sent = await wait_for(lambda: src.db.find_sent(str(nid)), what="sentitems")
    finally:
        await src.close()
    async with pool.acquire() as conn:
        row = await conn.fetchrow(
            "SELECT state::text, external_id, detail, attempts FROM notifications WHERE id = $1",
            nid,
        )
    # Handed over twice, queued once: Gammu recognised its own message.
    assert row["state"] in ("sent", "delivered") and row["external_id"].startswith("gammu:")
    assert row["attempts"] == 2
    gammu = await asyncpg.connect(smsd_pg.dsn)
    try:
        n_sent = await gammu.fetchval(
            'SELECT count(*) FROM sentitems WHERE "CreatorID" = $1', str(nid)
        )
        n_queued = await gammu.fetchval(
            'SELECT count(*) FROM outbox WHERE "CreatorID" = $1', str(nid)
        )
    finally:
        await gammu.close()
    assert (n_sent, n_queued) == (1, 0) and len(sent) == 1
