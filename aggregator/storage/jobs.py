"""SQL of the job queue. Policy (backoff, what is permanent) lives in aggregator.queue.

The one module that inserts jobs: ``enqueue`` (one job, the queue's) and ``insert_many`` (a
batch in the caller's transaction). Both run the SQL function ``enqueue_jobs()`` (migration
0160), which the push result's statement and the forms write-back trigger call as well.

``now`` is ``None`` for the database's clock; see the header of ``aggregator/storage/sql/jobs.sql``.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg

from aggregator.storage.sqlfiles import q
from schemas.events import Job, JobLane, JobState

Now = dt.datetime | None


@dataclass(frozen=True)
class FailResult:
    job_id: int
    state: JobState
    run_after: dt.datetime


_STATES = {state.value: state for state in JobState}
_LANES = {int(lane): lane for lane in JobLane}
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
# Rows come from our own table with the types the model declares, so they skip validation.
# A copy of a finished model (pydantic's model_copy, which does not validate either) costs
# half a model_construct, which walks the fields for every row: microseconds per job on the
# claim path.
_TEMPLATE = Job.model_construct(
    id=0,
    kind="",
    payload={},
    complaint_id=None,
    state=JobState.QUEUED,
    attempts=0,
    created_at=_EPOCH,
    run_after=_EPOCH,
    last_error=None,
    lane=JobLane.LIVE,
)


def _job(row: asyncpg.Record) -> Job:
    return _TEMPLATE.model_copy(
        update={
            "id": row["id"],
            "kind": row["kind"],
            "payload": row["payload"],
            "complaint_id": row["complaint_id"],
            "state": _STATES[row["state"]],
            "attempts": row["attempts"],
            "created_at": row["created_at"],
            "run_after": row["run_after"],
            "last_error": row["last_error"],
            "lane": _LANES[row["lane"]],
        }
    )


async def enqueue(
    conn: asyncpg.Connection,
    kind: str,
    *,
    complaint_id: uuid.UUID | None,
    payload: dict[str, Any],
    dedup_key: str | None,
    run_after: dt.datetime | None,
    max_attempts: int | None,
    now: Now,
    notify: bool = True,
    lane: JobLane = JobLane.LIVE,
) -> int | None:
    if dedup_key is None:
        job_id: int | None = await conn.fetchval(
            q("enqueue_job_without_key"),
            kind,
            complaint_id,
            payload,
            run_after,
            max_attempts,
            now,
            notify,
            int(lane),
        )
    else:
        job_id = await conn.fetchval(
            q("enqueue_job"),
            kind,
            complaint_id,
            payload,
            dedup_key,
            run_after,
            max_attempts,
            now,
            notify,
            int(lane),
        )
    return job_id


async def insert_many(
    conn: asyncpg.Connection, columns: Sequence[Sequence[Any]], lane: JobLane = JobLane.LIVE
) -> int:
    """A batch of jobs, all in one lane; columns: kinds, complaint ids, payloads (JSON text),
    dedup keys and, optionally, run_after (None: now). Returns how many were inserted (taken
    keys are not)."""
    cols = [list(c) for c in columns]
    if len(cols) == 4:
        cols.append([None] * len(cols[0]))
    n: int = await conn.fetchval(q("insert_jobs"), *cols, int(lane))
    return n


async def wake(conn: asyncpg.Connection, channel: str) -> None:
    """One NOTIFY (at commit) for the jobs a batch inserted."""
    await conn.execute(q("wake_workers"), channel)


async def notify(conn: asyncpg.Connection, kinds: Sequence[str]) -> None:
    await conn.execute(q("notify_kinds"), list(kinds))


async def worker_session(conn: asyncpg.Connection) -> None:
    await conn.execute(q("worker_session"))


async def claim(
    conn: asyncpg.Connection,
    kinds: Sequence[str],
    limit: int,
    *,
    owner: str,
    lease_s: float,
    max_attempts: int,
    now: Now,
) -> list[Job]:
    rows = await conn.fetch(q("claim_jobs"), list(kinds), limit, owner, lease_s, now, max_attempts)
    jobs = [_job(r) for r in rows]
    # UPDATE … RETURNING yields rows in the table's order, not the claim's: live first.
    if any(j.lane for j in jobs):
        jobs.sort(key=lambda j: (j.lane, j.run_after, j.id))
    return jobs


async def reap_expired(
    conn: asyncpg.Connection, *, max_attempts: int, now: Now
) -> list[tuple[int, str]]:
    rows = await conn.fetch(q("reap_expired_jobs"), max_attempts, now)
    return [(r["id"], r["kind"]) for r in rows]


async def complete(conn: asyncpg.Connection, ids: Sequence[int], *, owner: str, now: Now) -> int:
    status: str = await conn.execute(q("complete_jobs"), list(ids), owner, now)
    return int(status.rsplit(" ", 1)[-1])


async def fail(
    conn: asyncpg.Connection,
    job_id: int,
    *,
    owner: str,
    retry_state: JobState,
    delay_s: float,
    error: str,
    permanent: bool,
    max_attempts: int,
    max_age_s: float,
    now: Now,
) -> FailResult | None:
    row = await conn.fetchrow(
        q("fail_job"),
        job_id,
        owner,
        retry_state.value,
        delay_s,
        error,
        permanent,
        max_attempts,
        max_age_s,
        now,
    )
    if row is None:
        return None
    return FailResult(row["id"], JobState(row["state"]), row["run_after"])


async def defer(
    conn: asyncpg.Connection,
    ids: Sequence[int],
    delays: Sequence[float],
    in_doubt: Sequence[bool],
    *,
    owner: str,
    error: str,
    now: Now,
) -> int:
    status: str = await conn.execute(
        q("defer_jobs"), list(ids), list(delays), list(in_doubt), owner, error, now
    )
    return int(status.rsplit(" ", 1)[-1])


async def extend_leases(
    conn: asyncpg.Connection, ids: Sequence[int], *, owner: str, lease_s: float, now: Now
) -> int:
    status: str = await conn.execute(q("extend_leases"), list(ids), owner, lease_s, now)
    return int(status.rsplit(" ", 1)[-1])


async def release(
    conn: asyncpg.Connection,
    ids: Sequence[int],
    *,
    owner: str,
    now: Now,
    interrupted: bool = False,
) -> int:
    status: str = await conn.execute(q("release_jobs"), list(ids), owner, now, interrupted)
    return int(status.rsplit(" ", 1)[-1])


async def release_owner(conn: asyncpg.Connection, *, owner: str, now: Now) -> int:
    status: str = await conn.execute(q("release_owner_leases"), owner, now)
    return int(status.rsplit(" ", 1)[-1])


async def retry(conn: asyncpg.Connection, job_id: int, *, actor: str, now: Now) -> bool:
    return await conn.fetchrow(q("retry_job"), job_id, actor, now) is not None


async def discard(
    conn: asyncpg.Connection, job_id: int, *, reason: str, actor: str, now: Now
) -> bool:
    return await conn.fetchval(q("discard_job"), job_id, reason, actor, now) is not None


async def depth(
    conn: asyncpg.Connection, *, include_done: bool = False
) -> dict[str, dict[str, int]]:
    rows = await conn.fetch(q("count_jobs"), include_done)
    out: dict[str, dict[str, int]] = {}
    for r in rows:
        out.setdefault(r["kind"], {})[r["state"]] = int(r["n"])
    return out


async def oldest_due(conn: asyncpg.Connection, *, now: Now) -> dt.datetime | None:
    at: dt.datetime | None = await conn.fetchval(q("oldest_due_job"), now)
    return at


async def dead(conn: asyncpg.Connection, limit: int) -> list[Job]:
    return [_job(r) for r in await conn.fetch(q("list_dead_jobs"), limit)]


async def get(conn: asyncpg.Connection, job_id: int) -> Job | None:
    row = await conn.fetchrow(q("get_job"), job_id)
    return _job(row) if row is not None else None


async def for_complaint(conn: asyncpg.Connection, complaint_id: uuid.UUID) -> list[Job]:
    return [_job(r) for r in await conn.fetch(q("list_jobs_for_complaint"), complaint_id)]


async def delete_finished(conn: asyncpg.Connection, before: dt.datetime) -> int:
    status: str = await conn.execute(q("delete_finished_jobs"), before)
    return int(status.rsplit(" ", 1)[-1])
