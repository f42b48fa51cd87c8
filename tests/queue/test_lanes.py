"""Lanes: a live job is claimed before any bulk job, however much bulk work is due."""

from __future__ import annotations

import asyncio
import datetime as dt

import asyncpg

from aggregator.queue import JobQueue, Worker
from aggregator.storage.sqlfiles import q
from schemas.events import Job, JobLane

from .conftest import enqueue, job_row
from .test_plans import WHOLE_READS, _plan

BULK_BACKLOG = 3000


async def _bulk_backlog(conn: asyncpg.Connection, kind: str = "notify") -> None:
    """A backfill's worth of bulk jobs, all due, all older than anything live."""
    await conn.execute(
        "INSERT INTO jobs (kind, payload, run_after, lane)"
        " SELECT $1, jsonb_build_object('i', g), now() - interval '1 hour' + g * interval '1 ms', 1"
        " FROM generate_series(1, $2) AS g",
        kind,
        BULK_BACKLOG,
    )


async def test_a_live_acknowledgement_is_run_before_a_queue_full_of_backfill_work(
    queue: JobQueue, pool: asyncpg.Pool
):
    async with pool.acquire() as conn:
        await _bulk_backlog(conn)
    live = await enqueue(queue, "notify", payload={"event": "lapor_pushed"})
    order: list[tuple[int, JobLane]] = []

    async def handle(job: Job) -> None:
        order.append((job.id, job.lane))

    assert await Worker(queue, {"notify": handle}, concurrency=1).run_once() == BULK_BACKLOG + 1
    assert order[0] == (live, JobLane.LIVE)
    assert all(lane is JobLane.BULK for _, lane in order[1:])
    assert (await job_row(pool, live))["state"] == "done"


async def test_live_jobs_enqueued_during_a_bulk_drain_overtake_it(
    queue: JobQueue, pool: asyncpg.Pool
):
    """A worker busy with bulk work takes each live job at its next claim, not after the
    backlog: its position in the run is within one claim of when it arrived."""
    async with pool.acquire() as conn:
        await _bulk_backlog(conn)
    order: list[int] = []
    live_ids: list[int] = []
    arrived_at: dict[int, int] = {}

    async def handle(job: Job) -> None:
        order.append(job.id)
        if len(order) in (100, 700, 1500):
            job_id = await enqueue(queue, "notify", payload={"event": "lapor_pushed"})
            live_ids.append(job_id)
            arrived_at[job_id] = len(order)
        await asyncio.sleep(0)

    worker = Worker(queue, {"notify": handle}, concurrency=4, batch_size=20)
    handled = await worker.run_once()
    assert handled == BULK_BACKLOG + 3
    for job_id in live_ids:
        waited = order.index(job_id) - arrived_at[job_id]
        assert 0 <= waited <= 2 * 20, (job_id, waited)


async def test_enqueue_takes_a_lane_and_claims_return_it(queue: JobQueue, pool: asyncpg.Pool):
    bulk = await enqueue(queue, "push", lane=JobLane.BULK)
    live = await enqueue(
        queue, "push", run_after=dt.datetime.now(dt.UTC) + dt.timedelta(milliseconds=1)
    )
    assert (await job_row(pool, bulk))["lane"] == 1
    await asyncio.sleep(0.01)
    async with pool.acquire() as conn:
        jobs = await queue.claim(conn, ["push"], 10)
    # The live job is newer (its run_after is later) and still goes first.
    assert [(j.id, j.lane) for j in jobs] == [(live, JobLane.LIVE), (bulk, JobLane.BULK)]


async def test_claim_reads_each_lane_in_index_order(queue: JobQueue, pool: asyncpg.Pool):
    """With statistics from an empty queue and a bulk backlog, the claim is still two short
    range scans of jobs_claim_idx, never a read of the whole backlog."""
    async with pool.acquire() as conn:
        await conn.execute("ANALYZE jobs")
        await _bulk_backlog(conn, "push")
        await queue.worker_session(conn)
        args = (["push"], 50, queue.owner, queue.cfg.lease_s, None, queue.cfg.max_attempts)
        nodes = await _plan(conn, q("claim_jobs"), *args)
        assert not WHOLE_READS & {n["Node Type"] for n in nodes}, nodes
        assert {n.get("Index Name") for n in nodes} >= {"jobs_claim_idx", "jobs_pkey"}
        nodes = await _plan(conn, q("oldest_due_job"), None)
        assert not WHOLE_READS & {n["Node Type"] for n in nodes}, nodes
        assert await queue.oldest_due_age_s() > 3000
