"""Workers under real concurrency: exactly once, no blocking, NOTIFY wake-ups, clean stops."""

from __future__ import annotations

import asyncio
import collections
import time
from collections.abc import Callable

import asyncpg

from aggregator.errors import TransientError
from aggregator.queue import JobQueue, Worker
from schemas.config import QueueConfig
from schemas.events import Job

from .conftest import enqueue, job_row


async def _states(pool: asyncpg.Pool) -> dict[str, int]:
    async with pool.acquire() as conn:
        rows = await conn.fetch("SELECT state::text, count(*) FROM jobs GROUP BY state")
    return {r["state"]: r["count"] for r in rows}


async def _wait_for(predicate: Callable[[], bool], within: float = 60.0) -> None:
    deadline = time.monotonic() + within
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.02)


async def test_four_workers_run_8000_jobs_exactly_once(pool: asyncpg.Pool, cfg: QueueConfig):
    """Producers and four workers (four processes' worth of connections) race on one table."""
    n_workers, per_worker = 4, 2000
    total = n_workers * per_worker
    calls: collections.Counter[int] = collections.Counter()
    by_worker: collections.Counter[int] = collections.Counter()

    def handler_for(w: int):  # type: ignore[no-untyped-def]
        async def handle(job: Job) -> None:
            calls[job.id] += 1
            by_worker[w] += 1
            if job.id % 7 == 0:
                await asyncio.sleep(0)  # interleave claim and completion round trips

        return handle

    queues = [JobQueue(pool, cfg, owner=f"host:{w}") for w in range(n_workers)]
    workers = [
        Worker(q, {"push": handler_for(w)}, concurrency=4, batch_size=25)
        for w, q in enumerate(queues)
    ]
    stop = asyncio.Event()
    runs = [asyncio.create_task(w.run(stop)) for w in workers]

    async def produce(p: int) -> list[int]:
        ids = []
        async with pool.acquire() as conn:
            for i in range(0, per_worker, 50):
                async with conn.transaction():
                    for k in range(50):
                        job_id = await queues[p].enqueue(conn, "push", payload={"n": i + k})
                        assert job_id is not None
                        ids.append(job_id)
        return ids

    produced = await asyncio.gather(*[produce(p) for p in range(n_workers)])
    await _wait_for(lambda: sum(calls.values()) >= total)
    stop.set()
    await asyncio.gather(*runs)

    all_ids = {i for ids in produced for i in ids}
    assert len(all_ids) == total
    assert set(calls) == all_ids
    assert max(calls.values()) == 1  # exactly once
    assert await _states(pool) == {"done": total}
    assert sum(by_worker.values()) == total


async def test_poison_job_dies_without_blocking_the_others(queue: JobQueue, pool: asyncpg.Pool):
    poison = await enqueue(queue, payload={"poison": True})
    good = [await enqueue(queue, payload={"i": i}) for i in range(50)]
    calls: collections.Counter[int] = collections.Counter()

    async def handle(job: Job) -> None:
        calls[job.id] += 1
        if job.payload.get("poison"):
            raise RuntimeError("cannot parse agency response")

    worker = Worker(queue, {"push": handle}, concurrency=2, batch_size=10)
    # The first round does every good job although the poison one came first (and may
    # already have retried it: the backoff here is a few milliseconds).
    assert await worker.run_once() >= 51
    assert all(calls[i] == 1 for i in good)
    for _ in range(100):
        if (await job_row(pool, poison))["state"] == "dead":
            break
        await asyncio.sleep(0.03)
        await worker.run_once()
    row = await job_row(pool, poison)
    assert (row["state"], row["attempts"]) == ("dead", queue.cfg.max_attempts)
    assert row["last_error"] == "RuntimeError('cannot parse agency response')"
    assert calls[poison] == queue.cfg.max_attempts
    assert await _states(pool) == {"done": 50, "dead": 1}


async def test_notify_wakes_an_idle_worker_long_before_the_poll(pool: asyncpg.Pool):
    cfg = QueueConfig(poll_s=60.0)
    queue = JobQueue(pool, cfg, owner="test:1")
    handled: list[float] = []

    async def handle(job: Job) -> None:
        handled.append(time.monotonic())

    worker = Worker(queue, {"notify": handle})
    stop = asyncio.Event()
    run = asyncio.create_task(worker.run(stop))
    try:
        await asyncio.sleep(0.5)  # the worker found nothing and sleeps on LISTEN
        for n in range(3):
            sent = time.monotonic()
            await enqueue(queue, "notify", payload={"n": n})
            await _wait_for(lambda n=n: len(handled) > n, within=10)  # type: ignore[misc]
            assert handled[n] - sent < 5.0  # the poll would have taken 60 s
            await asyncio.sleep(0.2)
    finally:
        stop.set()
        await run


async def test_a_burst_of_enqueues_wakes_the_worker_for_every_job(pool: asyncpg.Pool):
    """Within a burst only the first transaction NOTIFYs; the rest get one trailing wake-up
    after they commit, so the last job of the burst does not wait for the poll."""
    queue = JobQueue(pool, QueueConfig(poll_s=60.0), owner="test:1", notify_interval_s=0.2)
    handled: set[int] = set()

    async def handle(job: Job) -> None:
        handled.add(job.id)

    stop = asyncio.Event()
    run = asyncio.create_task(Worker(queue, {"push": handle}).run(stop))
    try:
        await asyncio.sleep(0.5)
        for _round in range(3):
            ids = set()
            async with pool.acquire() as conn:
                for i in range(20):
                    async with conn.transaction():
                        ids.add(await queue.enqueue(conn, "push", payload={"i": i}))
                        await asyncio.sleep(0.01)  # a transaction that takes a moment
            await _wait_for(lambda ids=ids: ids <= handled, within=10)  # type: ignore[misc]
    finally:
        stop.set()
        await run
        await queue.aclose()


async def test_polling_finds_jobs_when_notify_was_missed(pool: asyncpg.Pool):
    cfg = QueueConfig(poll_s=0.3)
    queue = JobQueue(pool, cfg, owner="test:1")
    handled: list[int] = []

    async def handle(job: Job) -> None:
        handled.append(job.id)

    worker = Worker(queue, {"push": handle})
    stop = asyncio.Event()
    run = asyncio.create_task(worker.run(stop))
    try:
        await asyncio.sleep(0.2)
        async with pool.acquire() as conn:  # a writer that does not NOTIFY
            job_id = await conn.fetchval("INSERT INTO jobs (kind) VALUES ('push') RETURNING id")
        await _wait_for(lambda: handled == [job_id], within=10)
    finally:
        stop.set()
        await run


async def test_a_finished_job_is_written_while_its_batch_still_runs(pool: asyncpg.Pool):
    """Successes wait to share the next claim's statement, but not for long: if the process
    died now, a job that finished would otherwise run (and text the citizen) again."""
    queue = JobQueue(pool, QueueConfig(poll_s=60), owner="test:1")
    fast = await enqueue(queue, payload={"slow": False})
    slow = [await enqueue(queue, payload={"slow": True}) for _ in range(3)]
    release = asyncio.Event()

    async def handle(job: Job) -> None:
        if job.payload["slow"]:
            await release.wait()
        else:
            await asyncio.sleep(0.2)  # finishes once the worker has settled into waiting

    await asyncio.sleep(0.3)  # the burst's trailing NOTIFY has gone out: no claim is coming
    stop = asyncio.Event()
    run = asyncio.create_task(Worker(queue, {"push": handle}, concurrency=4).run(stop))
    try:
        for _ in range(200):
            if (await job_row(pool, fast))["state"] == "done":
                break
            await asyncio.sleep(0.025)
        assert (await job_row(pool, fast))["state"] == "done"
        assert [(await job_row(pool, i))["state"] for i in slow] == ["running"] * 3
    finally:
        release.set()
        stop.set()
        await run
    assert await _states(pool) == {"done": 4}


async def test_stop_drains_in_flight_work_and_releases_the_rest(pool: asyncpg.Pool):
    cfg = QueueConfig(batch_size=10, poll_s=60)
    queue = JobQueue(pool, cfg, owner="test:1")
    ids = [await enqueue(queue, payload={"i": i}) for i in range(10)]
    started: list[int] = []
    finished: list[int] = []
    outcomes: collections.Counter[str] = collections.Counter()

    async def slow(job: Job) -> None:
        started.append(job.id)
        await asyncio.sleep(0.5)
        finished.append(job.id)

    worker = Worker(
        queue,
        {"push": slow},
        concurrency=2,
        grace_s=10,
        on_outcome=lambda kind, o: outcomes.update([o]),
    )
    stop = asyncio.Event()
    run = asyncio.create_task(worker.run(stop))
    await _wait_for(lambda: len(started) == 2)
    stop.set()  # what SIGTERM does in the daemon
    await asyncio.wait_for(run, 10)

    assert sorted(finished) == sorted(started) == ids[:2]
    async with pool.acquire() as conn:
        rows = {r["id"]: r for r in await conn.fetch("SELECT * FROM jobs")}
        now = await conn.fetchval("SELECT now()")
    assert all(rows[i]["state"] == "done" for i in ids[:2])
    # The worker claimed only what it could start: the rest were never taken.
    for i in ids[2:]:
        assert rows[i]["state"] == "queued" and rows[i]["attempts"] == 0
        assert rows[i]["lease_until"] is None and rows[i]["run_after"] <= now
    assert outcomes == {"done": 2}


async def test_claims_only_free_slots_and_gives_back_what_it_did_not_start(pool: asyncpg.Pool):
    """A batch claimed with free slots is started at once; a stop hands back at once any
    job claimed but not started (here: the slots freed while the claim was out)."""
    cfg = QueueConfig(batch_size=50, poll_s=60)
    queue = JobQueue(pool, cfg, owner="test:1")
    ids = [await enqueue(queue, payload={"i": i}) for i in range(20)]
    started: list[int] = []
    gate = asyncio.Event()

    async def held(job: Job) -> None:
        started.append(job.id)
        await gate.wait()

    worker = Worker(queue, {"push": held}, concurrency=4, grace_s=10)
    stop = asyncio.Event()
    run = asyncio.create_task(worker.run(stop))
    await _wait_for(lambda: len(started) == 4)
    await asyncio.sleep(0.3)  # time to claim more, were it going to
    async with pool.acquire() as conn:
        running = await conn.fetchval("SELECT count(*) FROM jobs WHERE state = 'running'")
    assert running == 4 and len(started) == 4
    gate.set()
    await _wait_for(lambda: len(started) == 20)
    stop.set()
    await asyncio.wait_for(run, 10)
    assert sorted(started) == sorted(ids)
    assert await _states(pool) == {"done": 20}


async def test_stop_cuts_off_a_hung_handler_as_in_doubt(pool: asyncpg.Pool):
    cfg = QueueConfig(poll_s=60)
    queue = JobQueue(pool, cfg, owner="test:1")
    job_id = await enqueue(queue, payload={"complaint": "c1"})
    started = asyncio.Event()
    cancelled: list[bool] = []

    async def hangs(job: Job) -> None:
        started.set()
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            cancelled.append(True)
            raise

    worker = Worker(queue, {"push": hangs}, grace_s=0.3)
    stop = asyncio.Event()
    run = asyncio.create_task(worker.run(stop))
    await asyncio.wait_for(started.wait(), 10)
    t0 = time.monotonic()
    stop.set()
    await asyncio.wait_for(run, 10)
    assert time.monotonic() - t0 < 5
    assert cancelled == [True]
    row = await job_row(pool, job_id)
    # It may have reached LAPOR! already: whoever runs it next checks first.
    assert row["state"] == "in_doubt"
    assert row["payload"] == {"complaint": "c1", "in_doubt": True}
    assert row["lease_until"] is None


async def test_a_hung_handler_is_cut_off_at_job_timeout_and_retried_in_doubt(
    pool: asyncpg.Pool,
):
    """A handler that never returns (it waits on something that never comes) must not keep
    its job in `running` for ever while the heartbeat renews the lease: past job_timeout_s
    it is cancelled and the job comes back in doubt, as a failed attempt."""
    cfg = QueueConfig(job_timeout_s=0.5, lease_s=3, poll_s=0.1, backoff_base_s=0.1)
    queue = JobQueue(pool, cfg, owner="test:1")
    job_id = await enqueue(queue, payload={"complaint": "c1"})
    seen: list[dict] = []
    cancelled: list[bool] = []

    async def hangs_once(job: Job) -> None:
        seen.append(dict(job.payload))
        if len(seen) == 1:
            try:
                await asyncio.Event().wait()
            except asyncio.CancelledError:
                cancelled.append(True)
                raise

    worker = Worker(queue, {"push": hangs_once})
    stop = asyncio.Event()
    run = asyncio.create_task(worker.run(stop))
    try:
        await _wait_for(lambda: len(seen) == 2, within=15)
        await _wait_for(lambda: worker._held == {}, within=5)
    finally:
        stop.set()
        await asyncio.wait_for(run, 10)
    assert cancelled == [True]
    # The second attempt knows the first may have acted, and checks before acting.
    assert seen == [{"complaint": "c1"}, {"complaint": "c1", "in_doubt": True}]
    row = await job_row(pool, job_id)
    assert row["state"] == "done" and row["attempts"] == 2
    assert "job_timeout_s" in row["last_error"]


async def test_each_job_gets_its_own_deadline_and_a_cut_off_leaves_no_cancellation_behind(
    pool: asyncpg.Pool,
):
    """One watchdog timer serves the worker (not one timeout per job): every job still gets
    job_timeout_s from its own start, and the slot that ran a cut-off job runs the next one
    with no cancellation left over — a handler's own timeout there is its own failure, not
    a cut-off, and quick jobs after it just succeed."""
    cfg = QueueConfig(job_timeout_s=0.4, lease_s=3, poll_s=0.1, backoff_base_s=30)
    queue = JobQueue(pool, cfg, owner="test:1")
    hung = await enqueue(queue, payload={"n": "hung"})
    late = await enqueue(queue, payload={"n": "late"})
    own = await enqueue(queue, payload={"n": "own_timeout"})
    quick = [await enqueue(queue, payload={"n": f"q{i}"}) for i in range(3)]
    started: dict[str, float] = {}
    ended: dict[str, float] = {}
    outcomes: list[tuple[str, str]] = []

    async def handle(job: Job) -> None:
        n = job.payload["n"]
        started[n] = time.monotonic()
        try:
            if n == "hung":
                await asyncio.Event().wait()
            elif n == "late":
                await asyncio.sleep(0.25)  # starts after "hung": cut off at its own deadline
                await asyncio.Event().wait()
            elif n == "own_timeout":
                async with asyncio.timeout(0.05):
                    await asyncio.Event().wait()
        finally:
            ended[n] = time.monotonic()

    # One slot: every job runs in the same consumer, one after the other.
    worker = Worker(
        queue, {"push": handle}, concurrency=1, on_outcome=lambda k, o: outcomes.append((k, o))
    )
    stop = asyncio.Event()
    run = asyncio.create_task(worker.run(stop))
    try:
        await _wait_for(lambda: all(f"q{i}" in ended for i in range(3)), within=15)
        await _wait_for(lambda: worker._held == {}, within=5)
    finally:
        stop.set()
        await asyncio.wait_for(run, 10)
    for n in ("hung", "late"):
        assert 0.35 <= ended[n] - started[n] < 1.5, (n, ended[n] - started[n])
    assert ended["own_timeout"] - started["own_timeout"] < 0.35
    rows = {i: await job_row(pool, i) for i in (hung, late, own, *quick)}
    for i in (hung, late):
        assert rows[i]["state"] == "in_doubt" and "job_timeout_s" in rows[i]["last_error"]
    assert rows[own]["state"] == "queued" and "TimeoutError" in rows[own]["last_error"]
    assert "job_timeout_s" not in rows[own]["last_error"]
    assert [rows[i]["state"] for i in quick] == ["done"] * 3
    assert sorted(o for _, o in outcomes) == [
        "done",
        "done",
        "done",
        "in_doubt",
        "in_doubt",
        "retry",
    ]


async def test_a_handler_deaf_to_cancellation_does_not_keep_its_job(pool: asyncpg.Pool):
    """If a cut-off handler does not even stop, its worker gives the job back in doubt
    lease_s after job_timeout_s instead of renewing its lease for good."""
    cfg = QueueConfig(job_timeout_s=0.3, lease_s=0.6, poll_s=0.1, backoff_base_s=0.1)
    queue = JobQueue(pool, cfg, owner="test:1")
    job_id = await enqueue(queue, payload={"complaint": "c1"})
    seen: list[dict] = []

    async def deaf_once(job: Job) -> None:
        seen.append(dict(job.payload))
        if len(seen) == 1:
            try:
                await asyncio.sleep(3600)
            except asyncio.CancelledError:
                await asyncio.sleep(3600)  # ignores the cut-off; the shutdown ends it

    worker = Worker(queue, {"push": deaf_once}, grace_s=0.2)
    stop = asyncio.Event()
    run = asyncio.create_task(worker.run(stop))
    try:
        await _wait_for(lambda: len(seen) == 2, within=15)
        await _wait_for(lambda: worker._held == {}, within=5)
    finally:
        stop.set()
        await asyncio.wait_for(run, 10)
    assert seen == [{"complaint": "c1"}, {"complaint": "c1", "in_doubt": True}]
    assert (await job_row(pool, job_id))["state"] == "done"


async def test_shutdown_stops_a_running_worker(pool: asyncpg.Pool):
    queue = JobQueue(pool, QueueConfig(poll_s=60), owner="test:1")
    worker = Worker(queue, {"push": _noop})
    never = asyncio.Event()
    run = asyncio.create_task(worker.run(never))
    await asyncio.sleep(0.2)
    await asyncio.wait_for(worker.shutdown(grace_s=1), 10)
    assert run.done()
    await run
    await worker.shutdown()  # idempotent


async def test_heartbeat_keeps_a_slow_jobs_lease(pool: asyncpg.Pool):
    """A handler slower than the lease is not handed to a second worker."""
    cfg = QueueConfig(lease_s=0.6, poll_s=0.1)
    calls: collections.Counter[int] = collections.Counter()

    async def slow(job: Job) -> None:
        calls[job.id] += 1
        await asyncio.sleep(2.0)

    a = Worker(JobQueue(pool, cfg, owner="a:1"), {"push": slow})
    b = Worker(JobQueue(pool, cfg, owner="b:2"), {"push": slow})
    job_id = await enqueue(a.queue)
    stop = asyncio.Event()
    runs = [asyncio.create_task(w.run(stop)) for w in (a, b)]
    await _wait_for(lambda: job_id in calls, within=10)
    await asyncio.sleep(2.5)
    stop.set()
    await asyncio.gather(*runs)
    assert calls == {job_id: 1}
    assert (await job_row(pool, job_id))["state"] == "done"


async def test_worker_rides_out_transient_failures_in_a_burst(pool: asyncpg.Pool):
    """Failures are recorded while the rest of the batch completes in one statement."""
    queue = JobQueue(pool, QueueConfig(backoff_base_s=60), owner="test:1")
    ids = [await enqueue(queue, payload={"i": i}) for i in range(30)]

    async def every_third_fails(job: Job) -> None:
        if job.payload["i"] % 3 == 0:
            raise TransientError("busy")

    assert await Worker(queue, {"push": every_third_fails}).run_once() == 30
    states = {r["id"]: r["state"] for r in await _rows(pool)}
    assert [i for i in ids if states[i] == "queued"] == ids[::3]
    assert sum(1 for s in states.values() if s == "done") == 20


async def _rows(pool: asyncpg.Pool) -> list[asyncpg.Record]:
    async with pool.acquire() as conn:
        return await conn.fetch("SELECT id, state::text FROM jobs ORDER BY id")


async def _noop(job: Job) -> None:
    return None
