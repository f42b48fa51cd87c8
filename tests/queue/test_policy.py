"""What happens to a job: enqueue, dedup, failures, backoff, in-doubt, dead, operator actions."""

from __future__ import annotations

import asyncio
import datetime as dt
import random

import asyncpg
import pytest
import structlog

from aggregator.errors import InDoubtError, InvalidInput, PermanentError, TransientError
from aggregator.queue import JobQueue, Worker, backoff_delay
from schemas.config import QueueConfig
from schemas.events import Job, JobState

from .conftest import enqueue, job_row, make_complaint


async def _events(pool: asyncpg.Pool, kind: str) -> list[asyncpg.Record]:
    async with pool.acquire() as conn:
        return await conn.fetch("SELECT * FROM events WHERE kind = $1 ORDER BY id", kind)


# -- enqueue -------------------------------------------------------------------------------


async def test_enqueue_is_part_of_the_callers_transaction(queue: JobQueue, pool: asyncpg.Pool):
    async with pool.acquire() as conn:
        tx = conn.transaction()
        await tx.start()
        job_id = await queue.enqueue(conn, "push", payload={"a": 1})
        await tx.rollback()
    assert job_id is not None
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM jobs") == 0


async def test_dedup_key_makes_enqueue_idempotent(queue: JobQueue, pool: asyncpg.Pool):
    cid = await make_complaint(pool)
    first = await enqueue(queue, "push", complaint_id=cid, dedup_key=f"push:{cid}")
    async with pool.acquire() as conn, conn.transaction():
        again = await queue.enqueue(conn, "push", complaint_id=cid, dedup_key=f"push:{cid}")
        also = await queue.enqueue(conn, "push", complaint_id=cid, dedup_key=f"push:{cid}")
    assert again is None and also is None
    # Done jobs keep their key: a re-ingested complaint is not pushed twice.
    assert await Worker(queue, {"push": _ok}).run_once() == 1
    async with pool.acquire() as conn, conn.transaction():
        assert await queue.enqueue(conn, "push", dedup_key=f"push:{cid}") is None
        other = await queue.enqueue(conn, "push", dedup_key="push:other")
    async with pool.acquire() as conn:
        rows = await conn.fetch("SELECT id, dedup_key FROM jobs ORDER BY id")
    assert [r["id"] for r in rows] == [first, other]


async def test_enqueue_keeps_what_it_was_given(queue: JobQueue, pool: asyncpg.Pool):
    cid = await make_complaint(pool)
    later = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
    job_id = await enqueue(
        queue,
        "notify",
        complaint_id=str(cid),
        payload={"event": "ack", "n": [1, 2]},
        run_after=later,
        max_attempts=7,
    )
    row = await job_row(pool, job_id)
    assert row["kind"] == "notify"
    assert row["complaint_id"] == cid
    assert row["payload"] == {"event": "ack", "n": [1, 2]}
    assert row["state"] == "queued"
    assert row["max_attempts"] == 7
    assert abs((row["run_after"] - later).total_seconds()) < 0.001
    # Not due yet: nothing to claim.
    assert await Worker(queue, {"notify": _ok}).run_once() == 0


async def test_claim_sets_the_lease_and_counts_the_attempt(queue: JobQueue, pool: asyncpg.Pool):
    ids = [await enqueue(queue, "push", payload={"i": i}) for i in range(3)]
    await enqueue(queue, "notify")
    async with pool.acquire() as conn:
        jobs = await queue.claim(conn, ["push"], 2)
        assert [j.id for j in jobs] == ids[:2]
        assert all(j.state is JobState.RUNNING and j.attempts == 1 for j in jobs)
        assert [j.payload for j in jobs] == [{"i": 0}, {"i": 1}]
        row = await conn.fetchrow(
            "SELECT lease_owner, lease_until - now() AS left FROM jobs WHERE id = $1", ids[0]
        )
        assert row["lease_owner"] == "test:1"
        assert dt.timedelta(seconds=25) < row["left"] <= dt.timedelta(seconds=30)
        # Only the kinds asked for; running jobs with a live lease are not taken again.
        rest = await queue.claim(conn, ["push"], 10)
        assert [j.id for j in rest] == ids[2:]
        assert await queue.claim(conn, ["push"], 10) == []
        assert await queue.depth() == {"notify": {"queued": 1}, "push": {"running": 3}}
        assert await queue.complete(conn, [j.id for j in jobs + rest]) == 3
    assert await queue.depth() == {"notify": {"queued": 1}}
    assert await queue.depth(include_done=True) == {"notify": {"queued": 1}, "push": {"done": 3}}


# -- failures ------------------------------------------------------------------------------


async def _ok(job: Job) -> None:
    return None


async def test_transient_error_backs_off_then_succeeds(queue: JobQueue, pool: asyncpg.Pool):
    calls: list[int] = []

    async def flaky(job: Job) -> None:
        calls.append(job.attempts)
        if job.attempts == 1:
            raise TransientError("LAPOR! answered 503")

    job_id = await enqueue(queue)
    worker = Worker(queue, {"push": flaky})
    assert await worker.run_once() == 1
    row = await job_row(pool, job_id)
    assert row["state"] == "queued"
    assert row["last_error"] == "TransientError: LAPOR! answered 503"
    assert row["lease_until"] is None
    await _wait_due(pool, job_id)
    assert await worker.run_once() == 1
    row = await job_row(pool, job_id)
    assert (row["state"], row["attempts"], calls) == ("done", 2, [1, 2])


async def test_backoff_honours_retry_after(queue: JobQueue, pool: asyncpg.Pool):
    async def rate_limited(job: Job) -> None:
        raise TransientError("429", retry_after=120)

    job_id = await enqueue(queue)
    async with pool.acquire() as conn:
        before = await conn.fetchval("SELECT now()")
    assert await Worker(queue, {"push": rate_limited}).run_once() == 1
    row = await job_row(pool, job_id)
    assert row["state"] == "queued"
    # Backoff alone would be ≤ 0.05 s here; the peer asked for two minutes.
    assert (row["run_after"] - before).total_seconds() >= 120
    assert await Worker(queue, {"push": rate_limited}).run_once() == 0


def test_backoff_grows_exponentially_with_jitter_and_a_cap():
    cfg = QueueConfig(backoff_base_s=5, backoff_max_s=300)
    rng = random.Random(7)
    for attempts, (lo, hi) in {1: (2.5, 5), 2: (5, 10), 3: (10, 20), 6: (80, 160)}.items():
        delays = [backoff_delay(attempts, cfg, rng=rng) for _ in range(200)]
        assert lo <= min(delays) and max(delays) <= hi
        assert max(delays) - min(delays) > (hi - lo) / 2  # jitter spreads a burst out
    assert all(150 <= backoff_delay(30, cfg, rng=rng) <= 300 for _ in range(50))
    assert backoff_delay(1, cfg, retry_after=900, rng=rng) == 900
    assert 2.5 <= backoff_delay(1, cfg, retry_after=1, rng=rng) <= 5


async def test_in_doubt_job_comes_back_marked(queue: JobQueue, pool: asyncpg.Pool):
    seen: list[dict[str, object]] = []

    async def push(job: Job) -> None:
        seen.append(dict(job.payload))
        if not job.payload.get("in_doubt"):
            raise InDoubtError("read timeout after the request was sent")

    job_id = await enqueue(queue, payload={"complaint": "x"})
    worker = Worker(queue, {"push": push})
    assert await worker.run_once() == 1
    row = await job_row(pool, job_id)
    assert row["state"] == "in_doubt"
    assert row["payload"] == {"complaint": "x", "in_doubt": True}
    assert row["last_error"] == "InDoubtError: read timeout after the request was sent"
    await _wait_due(pool, job_id)
    assert await worker.run_once() == 1
    assert (await job_row(pool, job_id))["state"] == "done"
    assert seen == [{"complaint": "x"}, {"complaint": "x", "in_doubt": True}]


@pytest.mark.parametrize(
    "exc", [PermanentError("LAPOR! rejected: 422 judul kosong"), InvalidInput("no text")]
)
async def test_permanent_error_is_dead_at_once(queue: JobQueue, pool: asyncpg.Pool, exc: Exception):
    async def reject(job: Job) -> None:
        raise exc

    cid = await make_complaint(pool)
    job_id = await enqueue(queue, complaint_id=cid)
    outcomes: list[tuple[str, str]] = []
    worker = Worker(queue, {"push": reject}, on_outcome=lambda k, o: outcomes.append((k, o)))
    assert await worker.run_once() == 1
    row = await job_row(pool, job_id)
    assert (row["state"], row["attempts"]) == ("dead", 1)
    assert row["last_error"] == f"{type(exc).__name__}: {exc}"
    assert row["finished_at"] is not None
    assert outcomes == [("push", "dead")]
    [event] = await _events(pool, "job_dead")
    assert event["complaint_id"] == cid
    assert event["data"] == {
        "job_id": job_id,
        "job_kind": "push",
        "attempts": 1,
        "error": row["last_error"],
    }


async def test_any_other_exception_is_transient_with_its_repr(queue: JobQueue, pool: asyncpg.Pool):
    async def buggy(job: Job) -> None:
        raise KeyError("tracking_id")

    job_id = await enqueue(queue)
    await Worker(queue, {"push": buggy}).run_once()
    row = await job_row(pool, job_id)
    assert (row["state"], row["last_error"]) == ("queued", "KeyError('tracking_id')")


async def test_last_error_is_redacted(queue: JobQueue, pool: asyncpg.Pool):
    async def smtp(job: Job) -> None:
        raise PermanentError("550 mailbox budi.santoso@example.co.id unknown, sms 081234567890")

    job_id = await enqueue(queue)
    await Worker(queue, {"push": smtp}).run_once()
    last_error = (await job_row(pool, job_id))["last_error"]
    assert "budi" not in last_error and "081234567890" not in last_error
    assert last_error.startswith("PermanentError: 550 mailbox [email] unknown")


async def test_job_is_dead_after_its_max_attempts(queue: JobQueue, pool: asyncpg.Pool):
    async def down(job: Job) -> None:
        raise TransientError("connection refused")

    default = await enqueue(queue, payload={"n": "default"})  # cfg.max_attempts = 3
    own = await enqueue(queue, payload={"n": "own"}, max_attempts=5)
    worker = Worker(queue, {"push": down})
    for _ in range(40):
        await worker.run_once()
        if (await job_row(pool, own))["state"] == "dead":
            break
        await _wait_due(pool, default, own)
    a, b = await job_row(pool, default), await job_row(pool, own)
    assert (a["state"], a["attempts"]) == ("dead", 3)
    assert (b["state"], b["attempts"]) == ("dead", 5)
    assert a["last_error"] == "TransientError: connection refused"
    assert len(await _events(pool, "job_dead")) == 2
    assert [j.id for j in await queue.dead_jobs(10)] == [own, default]


async def test_job_older_than_max_age_is_dead_on_failure(pool: asyncpg.Pool, cfg: QueueConfig):
    now = dt.datetime.now(dt.UTC)
    clock = {"now": now}
    queue = JobQueue(pool, cfg, owner="test:1", clock=lambda: clock["now"])
    young = await enqueue(queue, payload={"n": 1})
    clock["now"] = now - dt.timedelta(hours=cfg.max_age_h + 1)
    old = await enqueue(queue, payload={"n": 2})
    clock["now"] = now

    async def down(job: Job) -> None:
        raise TransientError("timeout")

    assert await Worker(queue, {"push": down}).run_once() == 2
    assert (await job_row(pool, young))["state"] == "queued"
    row = await job_row(pool, old)
    assert (row["state"], row["attempts"]) == ("dead", 1)


# -- operators -----------------------------------------------------------------------------


async def test_retry_sends_a_dead_job_round_again(queue: JobQueue, pool: asyncpg.Pool):
    broken = {"on": True}

    async def push(job: Job) -> None:
        if broken["on"]:
            raise PermanentError("agency unknown")

    cid = await make_complaint(pool)
    job_id = await enqueue(queue, complaint_id=cid, payload={"k": "v"})
    worker = Worker(queue, {"push": push})
    await worker.run_once()
    assert (await job_row(pool, job_id))["state"] == "dead"

    broken["on"] = False
    assert await queue.retry(job_id, actor="token:ops") is True
    row = await job_row(pool, job_id)
    assert (row["state"], row["attempts"], row["finished_at"]) == ("queued", 0, None)
    assert row["payload"]["k"] == "v" and "retried_at" in row["payload"]
    [event] = await _events(pool, "job_retried")
    assert (event["complaint_id"], event["actor"]) == (cid, "token:ops")
    assert event["data"]["last_error"] == "PermanentError: agency unknown"
    assert await worker.run_once() == 1
    assert (await job_row(pool, job_id))["state"] == "done"
    assert await queue.retry(999_999) is False


async def test_retried_old_job_gets_a_fresh_age_limit(pool: asyncpg.Pool, cfg: QueueConfig):
    now = dt.datetime.now(dt.UTC)
    clock = {"now": now - dt.timedelta(hours=cfg.max_age_h * 2)}
    queue = JobQueue(pool, cfg, owner="test:1", clock=lambda: clock["now"])
    job_id = await enqueue(queue)
    clock["now"] = now
    assert await queue.discard(job_id, "stuck") is True
    assert await queue.retry(job_id) is True

    async def down(job: Job) -> None:
        raise TransientError("timeout")

    await Worker(queue, {"push": down}).run_once()
    assert (await job_row(pool, job_id))["state"] == "queued"


async def test_discard_gives_up_with_the_reason(queue: JobQueue, pool: asyncpg.Pool):
    cid = await make_complaint(pool)
    job_id = await enqueue(queue, complaint_id=cid)
    done_id = await enqueue(queue, kind="notify")
    assert await Worker(queue, {"notify": _ok}).run_once() == 1
    assert await queue.discard(job_id, "duplicate of #12", actor="token:ops") is True
    row = await job_row(pool, job_id)
    assert (row["state"], row["last_error"]) == ("dead", "discarded: duplicate of #12")
    assert await Worker(queue, {"push": _ok}).run_once() == 0
    [event] = await _events(pool, "job_discarded")
    assert event["complaint_id"] == cid
    assert event["data"] == {"job_id": job_id, "job_kind": "push", "reason": "duplicate of #12"}
    # A finished job stays finished; an unknown one is reported as such.
    assert await queue.discard(done_id, "too late") is False
    assert await queue.discard(999_999, "nope") is False
    assert (await queue.get(job_id)).state is JobState.DEAD  # type: ignore[union-attr]


async def test_release_leases_hands_running_jobs_back(queue: JobQueue, pool: asyncpg.Pool):
    ids = [await enqueue(queue) for _ in range(3)]
    other = JobQueue(pool, queue.cfg, owner="other:2")
    async with pool.acquire() as conn:
        mine = await queue.claim(conn, ["push"], 2)
        theirs = await other.claim(conn, ["push"], 1)
    assert await queue.release_leases() == 2
    async with pool.acquire() as conn:
        rows = {r["id"]: r["state"] for r in await conn.fetch("SELECT id, state FROM jobs")}
        assert rows == {mine[0].id: "queued", mine[1].id: "queued", theirs[0].id: "running"}
        # Released jobs are due at once, for anyone.
        again = await other.claim(conn, ["push"], 10)
    assert sorted(j.id for j in again) == sorted(ids[:2])
    assert all(j.attempts == 2 for j in again)


async def test_expired_lease_is_claimed_again(pool: asyncpg.Pool, cfg: QueueConfig):
    now = dt.datetime.now(dt.UTC)
    clock = {"now": now}
    first = JobQueue(pool, cfg, owner="dead:1", clock=lambda: clock["now"])
    second = JobQueue(pool, cfg, owner="alive:2", clock=lambda: clock["now"])
    job_id = await enqueue(first)
    async with pool.acquire() as conn:
        [job] = await first.claim(conn, ["push"], 5)
        assert await second.claim(conn, ["push"], 5) == []
        clock["now"] = now + dt.timedelta(seconds=cfg.lease_s + 1)
        [again] = await second.claim(conn, ["push"], 5)
        assert (again.id, again.attempts) == (job_id, 2)
        # The first owner lost the job: its late completion changes nothing.
        assert await first.complete(conn, [job.id]) == 0
        assert await first.fail(conn, job, TransientError("late")) is None
        assert await second.complete(conn, [job_id]) == 1


async def test_job_whose_process_died_on_its_last_attempt_is_dead(
    pool: asyncpg.Pool, cfg: QueueConfig
):
    """A job that takes its process down (OOM, segfault) must not be claimed for ever."""
    now = dt.datetime.now(dt.UTC)
    clock = {"now": now}
    crashed = JobQueue(pool, cfg, owner="crashed:1", clock=lambda: clock["now"])
    alive = JobQueue(pool, cfg, owner="alive:2", clock=lambda: clock["now"])
    cid = await make_complaint(pool)
    last_try = await enqueue(crashed, complaint_id=cid, max_attempts=1)
    async with pool.acquire() as conn:
        assert [j.id for j in await crashed.claim(conn, ["push"], 5)] == [last_try]
    retryable = await enqueue(crashed, max_attempts=2)
    async with pool.acquire() as conn:
        assert [j.id for j in await crashed.claim(conn, ["push"], 5)] == [retryable]
    clock["now"] = now + dt.timedelta(seconds=cfg.lease_s + 1)
    ran: list[int] = []

    async def handle(job: Job) -> None:
        ran.append(job.id)

    outcomes: list[tuple[str, str]] = []
    worker = Worker(alive, {"push": handle}, on_outcome=lambda k, o: outcomes.append((k, o)))
    assert await worker.run_once() == 1
    assert ran == [retryable]
    row = await job_row(pool, last_try)
    assert row["state"] == "dead"
    assert row["last_error"] == (
        "lease expired on attempt 1: the worker process died while running it"
    )
    [event] = await _events(pool, "job_dead")
    assert (event["complaint_id"], event["data"]["job_id"]) == (cid, last_try)
    assert sorted(outcomes) == [("push", "dead"), ("push", "done")]


async def test_claim_completes_the_finished_batch_first(pool: asyncpg.Pool, cfg: QueueConfig):
    now = dt.datetime.now(dt.UTC)
    clock = {"now": now}
    queue = JobQueue(pool, cfg, owner="test:1", clock=lambda: clock["now"])
    first, second = await enqueue(queue), await enqueue(queue)
    async with pool.acquire() as conn:
        [job] = await queue.claim(conn, ["push"], 1)
        assert job.id == first
        # Even with its lease run out, a job being completed is not taken back as expired.
        clock["now"] = now + dt.timedelta(seconds=cfg.lease_s + 1)
        [nxt] = await queue.claim(conn, ["push"], 5, complete=[first])
        assert nxt.id == second
        assert await queue.claim(conn, ["push"], 5, complete=[second]) == []
    assert await queue.depth(include_done=True) == {"push": {"done": 2}}
    assert (await job_row(pool, first))["attempts"] == 1


async def test_a_busy_workers_completion_and_next_claim_commit_together(
    queue: JobQueue, pool: asyncpg.Pool
):
    """One commit (one WAL flush) per batch, not two: the finished batch is marked done in
    the transaction that claims the next, so both row versions carry one transaction id."""
    ids = [await enqueue(queue) for _ in range(4)]
    async with pool.acquire() as conn:
        first = await queue.claim(conn, ["push"], 2)
        nxt = await queue.claim(conn, ["push"], 2, complete=[j.id for j in first])
        rows = await conn.fetch(
            "SELECT id, state::text, xmin::text AS tx FROM jobs WHERE id = ANY($1) ORDER BY id",
            ids,
        )
    assert [j.id for j in first + nxt] == ids
    assert [r["state"] for r in rows] == ["done", "done", "running", "running"]
    assert len({r["tx"] for r in rows}) == 1, rows


async def test_handlers_log_with_the_jobs_context(queue: JobQueue, pool: asyncpg.Pool):
    seen: list[dict[str, object]] = []

    async def handle(job: Job) -> None:
        seen.append(structlog.contextvars.get_contextvars())

    cid = await make_complaint(pool)
    first = await enqueue(queue, complaint_id=cid)
    second = await enqueue(queue)
    assert await Worker(queue, {"push": handle}, concurrency=1).run_once() == 2
    assert seen == [
        {"job_id": first, "job_kind": "push", "attempt": 1, "complaint_id": str(cid)},
        {"job_id": second, "job_kind": "push", "attempt": 1, "complaint_id": None},
    ]
    assert structlog.contextvars.get_contextvars() == {}  # nothing leaks to the caller


async def test_oldest_due_age_and_pruning_finished_jobs(pool: asyncpg.Pool, cfg: QueueConfig):
    now = dt.datetime.now(dt.UTC)
    clock = {"now": now - dt.timedelta(minutes=10)}
    queue = JobQueue(pool, cfg, owner="test:1", clock=lambda: clock["now"])
    assert await queue.oldest_due_age_s() == 0.0
    old = await enqueue(queue)
    clock["now"] = now
    await enqueue(queue)
    await enqueue(queue, run_after=now + dt.timedelta(hours=1))  # not due: not lagging
    assert 599 <= await queue.oldest_due_age_s() <= 601
    async with pool.acquire() as conn:
        [job] = await queue.claim(conn, ["push"], 1)
        assert job.id == old
        await queue.complete(conn, [old])
    assert await queue.prune(dt.timedelta(days=1)) == 0
    clock["now"] = now + dt.timedelta(days=2)
    assert await queue.prune(dt.timedelta(days=1)) == 1
    assert await queue.get(old) is None
    assert await queue.depth() == {"push": {"queued": 2}}


async def test_two_argument_handlers_are_accepted(queue: JobQueue):
    got: list[object] = []

    async def old_style(job: Job, conn: asyncpg.Connection | None) -> None:
        got.append((job.kind, conn))

    await enqueue(queue)
    assert await Worker(queue, {"push": old_style}).run_once() == 1
    assert got == [("push", None)]


async def _wait_due(pool: asyncpg.Pool, *ids: int) -> None:
    """Sleep until the jobs' backoff (≤ 0.05 s in these tests) has passed."""
    for _ in range(100):
        async with pool.acquire() as conn:
            late = await conn.fetchval(
                "SELECT count(*) FROM jobs WHERE id = ANY($1) AND run_after > now()", list(ids)
            )
        if not late:
            return
        await asyncio.sleep(0.02)
    raise AssertionError("jobs never became due")
