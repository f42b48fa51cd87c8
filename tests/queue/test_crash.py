"""A worker process killed mid-job: its job runs again elsewhere once the lease runs out."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from pathlib import Path

import asyncpg

from aggregator.queue import JobQueue, Worker
from schemas.config import QueueConfig
from schemas.events import Job

from .conftest import enqueue, job_row

SCRIPT = Path(__file__).with_name("crashing_worker.py")
LEASE_S = 2.0


async def test_job_of_a_killed_process_is_run_again_after_its_lease(
    pool: asyncpg.Pool, db_dsn: str
):
    survivor_q = JobQueue(pool, QueueConfig(lease_s=30, poll_s=0.1), owner="survivor:1")
    job_id = await enqueue(survivor_q, payload={"complaint": "c1"})

    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(SCRIPT),
        db_dsn,
        str(LEASE_S),
        stdout=asyncio.subprocess.PIPE,
        cwd=Path(__file__).parents[2],
    )
    try:
        assert proc.stdout is not None
        line = b""
        while not line.startswith(b"started"):  # structlog's default also writes to stdout
            line = await asyncio.wait_for(proc.stdout.readline(), 60)
            assert line, "the worker process exited before starting the job"
        assert line.decode().strip() == f"started {job_id}"
        row = await job_row(pool, job_id)
        assert (row["state"], row["attempts"]) == ("running", 1)
        assert row["lease_owner"] == f"victim:{proc.pid}"
        lease_until = row["lease_until"].timestamp()
        os.kill(proc.pid, signal.SIGKILL)
        assert await asyncio.wait_for(proc.wait(), 30) == -signal.SIGKILL
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()

    ran_at: list[float] = []
    ran = asyncio.Event()

    async def handle(job: Job) -> None:
        ran_at.append(time.time())
        ran.set()

    stop = asyncio.Event()
    run = asyncio.create_task(Worker(survivor_q, {"push": handle}).run(stop))
    try:
        await asyncio.wait_for(ran.wait(), LEASE_S + 20)
    finally:
        stop.set()
        await run
    assert len(ran_at) == 1
    # Not before the dead process's lease ran out (the database and we share one clock).
    assert ran_at[0] >= lease_until - 0.05
    row = await job_row(pool, job_id)
    assert (row["state"], row["attempts"], row["lease_owner"]) == ("done", 2, "survivor:1")
