"""The worker's statements keep to small, ordered index scans whatever the statistics say.

Statistics taken while the queue was empty (or held only finished jobs) make the planner
expect a handful of due jobs; a backlog arriving after that must not be read whole, sorted,
or scanned through every lease for each batch of 50, or draining it goes quadratic.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import asyncpg

from aggregator.queue import JobQueue
from aggregator.storage.sqlfiles import q

BACKLOG = 5000
WHOLE_READS = {"Seq Scan", "Bitmap Heap Scan", "Bitmap Index Scan", "Sort"}


def _nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", []):
        yield from _nodes(child)


async def _plan(conn: asyncpg.Connection, sql: str, *args: object) -> list[dict[str, Any]]:
    out = await conn.fetchval("EXPLAIN (FORMAT JSON) " + sql, *args)
    doc = json.loads(out) if isinstance(out, str) else out
    return list(_nodes(doc[0]["Plan"]))


async def _backlog_after_empty_statistics(conn: asyncpg.Connection) -> None:
    await conn.execute("ANALYZE jobs")  # the queue was empty when last analysed
    await conn.execute(
        "INSERT INTO jobs (kind, payload, run_after)"
        " SELECT 'push', jsonb_build_object('i', g),"
        "        now() - interval '1 hour' + g * interval '1 ms'"
        " FROM generate_series(1, $1) AS g",
        BACKLOG,
    )


async def test_claim_takes_the_backlog_in_index_order(queue: JobQueue, pool: asyncpg.Pool):
    async with pool.acquire() as conn:
        await _backlog_after_empty_statistics(conn)
        await queue.worker_session(conn)
        args = (["push"], 50, queue.owner, queue.cfg.lease_s, None, queue.cfg.max_attempts)
        nodes = await _plan(conn, q("claim_jobs"), *args)
        assert not WHOLE_READS & {n["Node Type"] for n in nodes}, nodes
        assert {n.get("Index Name") for n in nodes} >= {"jobs_claim_idx", "jobs_pkey"}

        jobs = await queue.claim(conn, ["push"], 50)
        first = await conn.fetchval("SELECT min(id) FROM jobs")
        assert [j.id for j in jobs] == list(range(first, first + 50))


async def test_finished_jobs_are_looked_up_by_id(queue: JobQueue, pool: asyncpg.Pool):
    async with pool.acquire() as conn:
        await _backlog_after_empty_statistics(conn)
        await queue.worker_session(conn)
        running = [j.id for j in await queue.claim(conn, ["push"], 1000)]
        batch = running[:50]
        for sql, args in (
            (q("complete_jobs"), (batch, queue.owner, None)),
            (q("extend_leases"), (batch, queue.owner, queue.cfg.lease_s, None)),
            (q("release_jobs"), (batch, queue.owner, None, False)),
            (
                q("defer_jobs"),
                (
                    batch,
                    [1.0] * len(batch),
                    [False] * len(batch),
                    queue.owner,
                    "deferred: breaker open",
                    None,
                ),
            ),
        ):
            nodes = await _plan(conn, sql, *args)
            # A sequential scan of a table this small is fair; its cost shows in its estimate.
            assert not (WHOLE_READS - {"Seq Scan"}) & {n["Node Type"] for n in nodes}, nodes
            assert {n.get("Index Name") for n in nodes} <= {None, "jobs_pkey"}, nodes
        assert await queue.complete(conn, batch) == 50
