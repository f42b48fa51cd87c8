"""The job queue: an outbox table in PostgreSQL, claimed with ``FOR UPDATE SKIP LOCKED``.

``JobQueue`` is the policy (leases, backoff, what is permanent) over the SQL in
``aggregator/storage/jobs.py``; ``Worker`` runs handlers for the jobs it claims.

Delivery is at least once: a job whose process dies is taken again when its lease runs out,
so handlers make their effect idempotent (LAPOR! pushes carry an Idempotency-Key and check
first when the payload says ``"in_doubt": true``).

The hot path is lean on purpose: a worker holds one connection for its whole run (the pool
resets a connection on every release), claims a batch in one statement, completes successes
in one statement per batch — in the transaction of the next claim, so a busy worker commits
(waits for a WAL flush) once per batch — enforces ``job_timeout_s`` with one timer per
worker rather than one per job, and writes timeline events only for dead, retried and
discarded jobs. Idle workers sleep on ``LISTEN satukanal_jobs`` (one connection per
process, shared) with polling every ``poll_s`` as the fallback.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import inspect
import random
import time
import uuid
from collections import deque
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

import asyncpg
import structlog

from aggregator.errors import (
    Deferred,
    InDoubtError,
    InvalidInput,
    PermanentError,
    TransientError,
)
from aggregator.health.outage import DB_DOWN, OutageLog
from aggregator.logging import redact_text
from aggregator.storage import jobs as repo
from aggregator.storage.db import PoolTimeout, database_now, describe_database_error
from schemas.config import QueueConfig
from schemas.events import Job, JobLane, JobState

log = structlog.get_logger(__name__)

CHANNEL = "satukanal_jobs"
_ACQUIRE_TIMEOUT_S = 5.0
_DB_RETRY_S = 1.0  # after the database failed under the worker, try again this soon
_FLUSH_AFTER_S = 0.1
# A worker holds at most the jobs it can start within this many seconds (by the handlers'
# recent run time): free slots for slow jobs (a killed process strands nothing it had not
# begun), a whole batch for jobs that take a millisecond.
_HOLD_HORIZON_S = 0.25
_ERROR_MAX = 2000
# The event loop runs a timer up to its clock's resolution early.
_CLOCK_SLACK_S = 0.001

Handler = Callable[[Job], Awaitable[None]]
OutcomeHook = Callable[[str, str], None]
Clock = Callable[[], dt.datetime]

# Losing the database connection is an outage to ride out, not a bug to crash on.
_DB_DOWN = DB_DOWN
_DB_FAILED: tuple[type[BaseException], ...] = (*_DB_DOWN, asyncpg.PostgresError)
_NO_CONNECTION: tuple[type[BaseException], ...] = (*_DB_DOWN, TimeoutError)
# A handler that found no pooled connection, or whose statement PostgreSQL cut off, may have
# acted before (a sent SMS, a LAPOR! create): its attempt is in doubt, the next checks first.
_DB_CUT_OFF: tuple[type[BaseException], ...] = (PoolTimeout, asyncpg.QueryCanceledError)


def backoff_delay(
    attempts: int,
    cfg: QueueConfig,
    retry_after: float | None = None,
    rng: random.Random | None = None,
) -> float:
    """Seconds to wait before attempt ``attempts + 1``: exponential, capped, with "equal
    jitter" (half fixed, half random, so retries of a burst spread out but never come back
    at once), and never sooner than the peer's ``Retry-After``."""
    exp = cfg.backoff_base_s * (2 ** max(attempts - 1, 0))
    capped = min(cfg.backoff_max_s, exp)
    delay = capped / 2 + (rng or random).uniform(0, capped / 2)
    if retry_after is not None:
        delay = max(delay, retry_after)
    return delay


def _describe(exc: BaseException) -> str:
    if isinstance(exc, TransientError | PermanentError | InvalidInput):
        text = f"{type(exc).__name__}: {exc}"
    elif isinstance(exc, asyncpg.QueryCanceledError):
        text = describe_database_error(exc)  # a statement timeout names its setting
    else:
        text = repr(exc)
    # last_error is shown to operators: it is held to the same rule as a log line.
    return redact_text(text)[:_ERROR_MAX]


class _Listener:
    """One ``LISTEN`` connection per queue (per process), fanned out to every idle worker."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool
        self._conn: asyncpg.Connection | None = None
        self._callbacks: set[Callable[[], None]] = set()
        self._lock = asyncio.Lock()
        self._down_logged = False

    async def add(self, callback: Callable[[], None]) -> None:
        self._callbacks.add(callback)
        await self.ensure()

    async def remove(self, callback: Callable[[], None]) -> None:
        self._callbacks.discard(callback)
        if not self._callbacks:
            await self._close()

    @property
    def alive(self) -> bool:
        if self._conn is None:
            return False
        try:
            return not self._conn.is_closed()
        except asyncpg.InterfaceError:
            # The connection died and asyncpg handed it back to the pool: the proxy we hold
            # is detached, and asking it anything raises. It is gone; ensure() reopens one
            # (this once made the worker fail every second after an outage, for good).
            return False

    async def ensure(self) -> None:
        """(Re)open the listening connection; on failure, polling carries on alone."""
        async with self._lock:
            if self.alive or not self._callbacks:
                return
            await self._close_locked()
            try:
                # Bounded: with the pool exhausted by handlers, poll rather than hang.
                conn = await self._pool.acquire(timeout=_ACQUIRE_TIMEOUT_S)
            except _NO_CONNECTION as exc:
                self._log_down(exc)
                return
            try:
                await conn.add_listener(CHANNEL, self._on_notify)
            except _DB_DOWN as exc:
                self._log_down(exc)
                with contextlib.suppress(Exception):
                    await self._pool.release(conn)
                return
            self._conn = conn
            if self._down_logged:
                log.info("job_listener_restored")
                self._down_logged = False
            # Whatever was enqueued while nobody listened is found by the caller's next claim.
            self._on_notify()

    def _log_down(self, exc: BaseException) -> None:
        if not self._down_logged:
            log.warning("job_listener_lost", error=repr(exc))
            self._down_logged = True

    def _on_notify(self, *_args: object) -> None:
        for callback in list(self._callbacks):
            callback()

    async def _close(self) -> None:
        async with self._lock:
            await self._close_locked()

    async def _close_locked(self) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        with contextlib.suppress(Exception):
            if not conn.is_closed():
                await conn.remove_listener(CHANNEL, self._on_notify)
        with contextlib.suppress(Exception):
            await self._pool.release(conn)


class _NotifyLimiter:
    """At most one in-transaction NOTIFY per kind per ``interval``; the enqueues held back in
    between get one trailing NOTIFY once their transactions have ended.

    PostgreSQL commits notifying transactions one at a time (a global lock held through the
    WAL flush), so a NOTIFY in every one-job transaction caps enqueueing at one job per disk
    flush, whatever the concurrency. The leading NOTIFY keeps a quiet queue's first job
    instant; the trailing one wakes workers for the rest of a burst within ``interval``.
    A trailing NOTIFY is sent from another connection, so it waits until the held-back
    transactions have committed (or rolled back) — up to ``patience`` s, after which polling
    is the fallback anyway.
    """

    def __init__(self, pool: asyncpg.Pool, interval: float, patience: float) -> None:
        self._pool = pool
        self.interval = interval
        self._patience = patience
        self._last: dict[str, float] = {}
        self._held: dict[str, list[asyncpg.Connection]] = {}
        self._task: asyncio.Task[None] | None = None

    def leading(self, kind: str) -> bool:
        if self.interval <= 0:
            return True
        now = time.monotonic()
        last = self._last.get(kind)
        if last is not None and now - last < self.interval:
            return False
        self._last[kind] = now
        return True

    def hold(self, kind: str, conn: asyncpg.Connection) -> None:
        conns = self._held.setdefault(kind, [])
        if not any(c is conn for c in conns):
            conns.append(conn)
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._trail(), name="satukanal-job-notify")

    async def _trail(self) -> None:
        while self._held:
            await asyncio.sleep(self.interval)
            held, self._held = self._held, {}
            deadline = time.monotonic() + self._patience
            # asyncpg has no commit callback: look at the connections' transaction state.
            while time.monotonic() < deadline and any(  # noqa: ASYNC110
                _in_transaction(c) for conns in held.values() for c in conns
            ):
                await asyncio.sleep(self.interval)
            await self._send(list(held))

    async def _send(self, kinds: list[str]) -> None:
        try:
            async with self._pool.acquire(timeout=_ACQUIRE_TIMEOUT_S) as conn:
                await repo.notify(conn, kinds)
        except Exception as exc:
            # Workers poll every poll_s; a lost wake-up only costs latency.
            log.warning("job_notify_failed", error=repr(exc))
            return
        now = time.monotonic()
        for kind in kinds:
            self._last[kind] = now

    async def flush(self) -> None:
        task, self._task = self._task, None
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        held, self._held = self._held, {}
        if held:
            await self._send(list(held))


def _in_transaction(conn: asyncpg.Connection) -> bool:
    try:
        return conn.is_in_transaction()
    except asyncpg.InterfaceError:  # released to the pool: its transaction is over
        return False


class JobQueue:
    """Enqueue, claim, complete and fail jobs; operator actions; depth for metrics.

    ``clock`` is for tests: ``None`` (the default) uses the database's ``now()``, which every
    replica agrees on whatever its own clock says.
    """

    def __init__(
        self,
        pool: asyncpg.Pool,
        cfg: QueueConfig,
        *,
        owner: str,
        clock: Clock | None = None,
        rng: random.Random | None = None,
        notify_interval_s: float = 0.05,
    ) -> None:
        self.pool = pool
        self.cfg = cfg
        self.owner = owner
        self._clock = clock
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not secrets
        self._listener = _Listener(pool)
        self._notify = _NotifyLimiter(pool, notify_interval_s, patience=cfg.poll_s)

    def _now(self) -> dt.datetime | None:
        return self._clock() if self._clock is not None else None

    # -- producing -------------------------------------------------------------------------

    async def enqueue(
        self,
        conn: asyncpg.Connection,
        kind: str,
        *,
        complaint_id: uuid.UUID | str | None = None,
        payload: Mapping[str, Any] | None = None,
        dedup_key: str | None = None,
        run_after: dt.datetime | None = None,
        max_attempts: int | None = None,
        lane: JobLane = JobLane.LIVE,
    ) -> int | None:
        """Add a job inside the caller's transaction; ``None`` when ``dedup_key`` is taken.
        ``lane``: bulk work (a backfill's) waits until no live job is due.

        Workers are woken by ``NOTIFY satukanal_jobs, '<kind>'``: sent with the transaction's
        commit, or — within ``notify_interval_s`` of the previous one, in a burst — once for
        the burst right after these transactions end (see ``_NotifyLimiter``).
        """
        cid = uuid.UUID(str(complaint_id)) if complaint_id is not None else None
        leading = self._notify.leading(kind)
        job_id = await repo.enqueue(
            conn,
            kind,
            complaint_id=cid,
            payload=dict(payload or {}),
            dedup_key=dedup_key,
            run_after=run_after,
            max_attempts=max_attempts,
            now=self._now(),
            notify=leading,
            lane=lane,
        )
        if job_id is not None and not leading:
            self._notify.hold(kind, conn)
        return job_id

    async def aclose(self) -> None:
        """Send any held-back wake-up now (call before closing the pool)."""
        await self._notify.flush()

    # -- consuming -------------------------------------------------------------------------

    async def claim(
        self,
        conn: asyncpg.Connection,
        kinds: Sequence[str],
        limit: int,
        *,
        complete: Sequence[int] = (),
    ) -> list[Job]:
        """Take up to ``limit`` due jobs (or jobs whose lease ran out) under a lease.

        ``complete``: ids of jobs this owner finished, marked done first, in the same
        transaction as the claim: one commit (one WAL flush) per batch instead of two. A
        statement of its own, before the claim: see complete_jobs in
        aggregator/storage/sql/jobs.sql for why not the same one, nor after it.
        """
        if not complete:
            return await self._claim(conn, kinds, limit)
        async with conn.transaction():
            await self.complete(conn, complete)
            return await self._claim(conn, kinds, limit)

    async def _claim(self, conn: asyncpg.Connection, kinds: Sequence[str], limit: int) -> list[Job]:
        return await repo.claim(
            conn,
            kinds,
            limit,
            owner=self.owner,
            lease_s=self.cfg.lease_s,
            max_attempts=self.cfg.max_attempts,
            now=self._now(),
        )

    async def worker_session(self, conn: asyncpg.Connection) -> None:
        """Settings for a connection a worker claims and completes on until it releases it:
        plans that stay on the partial indexes whatever the statistics say (see
        worker_session in aggregator/storage/sql/jobs.sql)."""
        await repo.worker_session(conn)

    async def reap(self, conn: asyncpg.Connection) -> list[tuple[int, str]]:
        """Dead-letter jobs whose process died on their last allowed attempt; returns
        ``(id, kind)`` of each."""
        reaped = await repo.reap_expired(conn, max_attempts=self.cfg.max_attempts, now=self._now())
        for job_id, kind in reaped:
            log.error(
                "job_died", job_id=job_id, job_kind=kind, error="lease expired on the last attempt"
            )
        return reaped

    async def complete(self, conn: asyncpg.Connection, ids: Sequence[int]) -> int:
        """Mark jobs done in one statement; returns how many this owner still held."""
        if not ids:
            return 0
        return await repo.complete(conn, ids, owner=self.owner, now=self._now())

    async def fail(self, conn: asyncpg.Connection, job: Job, exc: BaseException) -> JobState | None:
        """Record a failed attempt; returns the job's new state (``None``: lease lost).

        TransientError → queued after backoff (at least ``retry_after``); InDoubtError, and
        a handler cut off by the database (no pooled connection in time, a statement past
        its timeout) → in_doubt with ``payload["in_doubt"] = True``, same backoff; PermanentError or
        InvalidInput → dead; out of attempts or too old → dead; anything else is transient.
        """
        if isinstance(exc, Deferred):
            held = await self.defer(conn, [(job, exc)])
            if not held:
                log.warning("job_lease_lost", job_id=job.id, job_kind=job.kind)
                return None
            return (
                JobState.IN_DOUBT
                if exc.in_doubt or job.payload.get("in_doubt")
                else JobState.QUEUED
            )
        permanent = isinstance(exc, PermanentError | InvalidInput)
        in_doubt = isinstance(exc, (InDoubtError, *_DB_CUT_OFF))
        retry_state = JobState.IN_DOUBT if in_doubt else JobState.QUEUED
        retry_after = exc.retry_after if isinstance(exc, TransientError) else None
        error = _describe(exc)
        result = await repo.fail(
            conn,
            job.id,
            owner=self.owner,
            retry_state=retry_state,
            delay_s=backoff_delay(job.attempts, self.cfg, retry_after, self._rng),
            error=error,
            permanent=permanent,
            max_attempts=self.cfg.max_attempts,
            max_age_s=self.cfg.max_age_h * 3600.0,
            now=self._now(),
        )
        if result is None:
            log.warning("job_lease_lost", job_id=job.id, job_kind=job.kind)
            return None
        if result.state is JobState.DEAD:
            log.error(
                "job_died", job_id=job.id, job_kind=job.kind, attempt=job.attempts, error=error
            )
        else:
            log.warning(
                "job_failed",
                job_id=job.id,
                job_kind=job.kind,
                attempt=job.attempts,
                state=result.state.value,
                run_after=result.run_after.isoformat(),
                error=error,
            )
        return result.state

    def defer_delay(self, exc: Deferred) -> float:
        """When a deferred job comes back: the peer's ``retry_after`` (at least a second),
        spread by up to half of it (at most 5 s more) so a breaker's whole backlog does not
        return in the same instant."""
        base = max(exc.retry_after or 1.0, 1.0)
        return base + self._rng.uniform(0, min(base / 2, 5.0))

    async def defer(
        self, conn: asyncpg.Connection, deferred: Sequence[tuple[Job, Deferred]]
    ) -> int:
        """Give jobs back for later without spending the attempt their claim counted (see
        ``Deferred``); one statement for all of them. Returns how many this owner held."""
        if not deferred:
            return 0
        first = deferred[0][1]
        n = await repo.defer(
            conn,
            [job.id for job, _ in deferred],
            [self.defer_delay(exc) for _, exc in deferred],
            [exc.in_doubt for _, exc in deferred],
            owner=self.owner,
            error=f"deferred: {_describe(first)}",
            now=self._now(),
        )
        log.info(
            "jobs_deferred",
            count=len(deferred),
            job_kind=deferred[0][0].kind,
            retry_after_s=first.retry_after,
        )
        return n

    async def extend_leases(self, conn: asyncpg.Connection, ids: Sequence[int]) -> int:
        if not ids:
            return 0
        return await repo.extend_leases(
            conn, ids, owner=self.owner, lease_s=self.cfg.lease_s, now=self._now()
        )

    async def release(
        self, conn: asyncpg.Connection, ids: Sequence[int], *, interrupted: bool = False
    ) -> int:
        """Give held jobs back now (``interrupted``: they were cut off mid-run → in_doubt)."""
        if not ids:
            return 0
        return await repo.release(
            conn, ids, owner=self.owner, now=self._now(), interrupted=interrupted
        )

    async def release_leases(self) -> int:
        """Every running job of this owner back to the queue (process shutdown)."""
        async with self.pool.acquire() as conn:
            n = await repo.release_owner(conn, owner=self.owner, now=self._now())
        if n:
            log.info("job_leases_released", count=n)
        return n

    # -- operators -------------------------------------------------------------------------

    async def retry(self, job_id: int, *, actor: str = "operator") -> bool:
        """Queue a job again now with fresh attempts (usually a dead one)."""
        async with self.pool.acquire() as conn, conn.transaction():
            found = await repo.retry(conn, job_id, actor=actor, now=self._now())
        if found:
            log.info("job_retried", job_id=job_id, actor=actor)
        return found

    async def discard(self, job_id: int, reason: str, *, actor: str = "operator") -> bool:
        """Give up on a job that has not finished: dead, with ``discarded: <reason>``."""
        async with self.pool.acquire() as conn, conn.transaction():
            found = await repo.discard(conn, job_id, reason=reason, actor=actor, now=self._now())
        if found:
            log.info("job_discarded", job_id=job_id, actor=actor)
        return found

    # -- reading ---------------------------------------------------------------------------

    async def depth(self, *, include_done: bool = False) -> dict[str, dict[str, int]]:
        """``{kind: {state: count}}``; finished (done) jobs only when asked."""
        async with self.pool.acquire() as conn:
            return await repo.depth(conn, include_done=include_done)

    async def oldest_due_age_s(self) -> float:
        """How long the oldest due job has been waiting (0 when none is)."""
        async with self.pool.acquire() as conn:
            at = await repo.oldest_due(conn, now=self._now())
            if at is None:
                return 0.0
            now = self._now() or await database_now(conn)
        return max((now - at).total_seconds(), 0.0)

    async def dead_jobs(self, limit: int = 100) -> list[Job]:
        async with self.pool.acquire() as conn:
            return await repo.dead(conn, limit)

    async def get(self, job_id: int) -> Job | None:
        async with self.pool.acquire() as conn:
            return await repo.get(conn, job_id)

    async def prune(self, older_than: dt.timedelta) -> int:
        """Delete done jobs finished before ``older_than`` ago; dead jobs stay."""
        now = self._now() or dt.datetime.now(dt.UTC)
        async with self.pool.acquire() as conn:
            return await repo.delete_finished(conn, now - older_than)

    # -- wake-ups --------------------------------------------------------------------------

    async def subscribe(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` (from the event loop) whenever a job is enqueued."""
        await self._listener.add(callback)

    async def unsubscribe(self, callback: Callable[[], None]) -> None:
        await self._listener.remove(callback)

    async def ensure_listening(self) -> None:
        await self._listener.ensure()


def _adapt(handler: Callable[..., Awaitable[None]]) -> Handler:
    """Handlers take ``(job)``; ``(job, conn)`` as first documented is accepted, with
    ``conn=None`` (a handler needing the database acquires from its own pool)."""
    try:
        params = inspect.signature(handler).parameters.values()
    except (TypeError, ValueError):
        return handler
    required = [
        p
        for p in params
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.default is p.empty
    ]
    if len(required) >= 2:
        return lambda job: handler(job, None)
    return handler


class Worker:
    """Runs the handlers of some job kinds, ``concurrency`` jobs at a time.

    ``run_once()`` handles everything due now and returns (tests, ``satukanal run --once``);
    ``run(stop)`` loops until ``stop`` is set, then stops claiming, gives back claimed jobs it
    has not started, lets running ones finish for ``grace_s`` and hands back the rest as
    in_doubt. ``on_outcome(kind, outcome)`` is called with outcome ``done``, ``retry``,
    ``in_doubt``, ``deferred``, ``dead``, ``released`` or ``interrupted`` (metrics counters).

    It claims only what its slots can start within a quarter of a second at the handlers'
    recent pace (free slots for slow jobs, up to ``batch_size`` for very quick ones) and
    renews the leases of every job it holds every ``lease_s`` / 3, so leases can be short:
    a killed process's jobs are claimed again within ``lease_s``.
    """

    def __init__(
        self,
        queue: JobQueue,
        handlers: Mapping[str, Callable[..., Awaitable[None]]],
        *,
        concurrency: int = 4,
        batch_size: int | None = None,
        on_outcome: OutcomeHook | None = None,
        grace_s: float = 30.0,
        outage_log_every_s: float = 60.0,
    ) -> None:
        if not handlers:
            raise ValueError("a worker needs at least one handler")
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self.queue = queue
        self.outage_log_every_s = outage_log_every_s
        self._handlers = {kind: _adapt(h) for kind, h in handlers.items()}
        self._kinds = sorted(self._handlers)
        self.concurrency = concurrency
        self.batch_size = batch_size or queue.cfg.batch_size
        self.grace_s = grace_s
        self._on_outcome = on_outcome
        self._heartbeat_s = queue.cfg.lease_s / 3
        self.job_timeout_s = queue.cfg.job_timeout_s
        self._active = False
        # Per run: see _start().
        self._ready: asyncio.Queue[Job] = asyncio.Queue()
        self._held: dict[int, Job] = {}
        self._started: dict[int, float] = {}  # job id -> loop time its handler began
        # consumer -> loop time its handler began (a job given up on as deaf may run again
        # in another consumer while its first handler still runs: keyed by who runs it)
        self._runs: dict[asyncio.Task[None], float] = {}
        self._cut: set[asyncio.Task[None]] = set()  # cancelled by the watchdog, not yet ended
        self._watchdog: asyncio.TimerHandle | None = None
        self._done: list[Job] = []
        self._done_since = 0.0  # loop time the oldest unwritten success finished
        self._failed: deque[tuple[Job, BaseException]] = deque()
        self._running = 0
        self._handled = 0
        self._avg_run_s = _HOLD_HORIZON_S
        self._wake = asyncio.Event()
        self._notified = False
        self._consumers: list[asyncio.Task[None]] = []
        self._halt: asyncio.Event | None = None
        self._finished = asyncio.Event()

    # -- public ----------------------------------------------------------------------------

    async def run_once(self) -> int:
        """Claim and run everything due now; return how many jobs were handled."""
        self._start()
        self._halt = None
        try:
            async with self.queue.pool.acquire() as conn:
                await self._loop(conn, stop=None)
                await self._settle(conn, flush_all=True)
            return self._handled
        finally:
            await self._stop_consumers()
            self._active = False

    async def run(self, stop: asyncio.Event) -> None:
        """Work until ``stop`` is set (or ``shutdown()`` is called), then drain (see the class
        docstring)."""
        self._start()
        self._finished = asyncio.Event()
        own_stop = self._halt = asyncio.Event()
        watchers = [
            asyncio.create_task(self._relay(stop, own_stop)),
            asyncio.create_task(self._wake_on(own_stop)),
        ]
        stop = own_stop
        await self.queue.subscribe(self._on_notify)
        log.info("job_worker_started", kinds=self._kinds, concurrency=self.concurrency)
        outage = OutageLog(log, "job_worker", every_s=self.outage_log_every_s)
        try:
            while not stop.is_set():
                try:
                    async with self.queue.pool.acquire() as conn:
                        await self._loop(conn, stop=stop, connected=outage.succeeded)
                except _DB_FAILED as exc:
                    outage.failed(exc)  # once with why, then a count a minute, not each try
                    # Back within seconds of the database, not at the next poll: retry soon
                    # (each try is one connection attempt, bounded by the pool's timeout).
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(min(self.queue.cfg.poll_s, _DB_RETRY_S)):
                            await stop.wait()
            await self._shutdown()
        finally:
            for task in watchers:
                task.cancel()
            await self.queue.unsubscribe(self._on_notify)
            await self._stop_consumers()
            self._active = False
            self._finished.set()
            log.info("job_worker_stopped", handled=self._handled)

    async def shutdown(self, grace_s: float | None = None) -> None:
        """Stop a ``run()`` in progress (as its ``stop`` would) and wait for its drain; then
        hand back any job this process still holds. Safe to call when nothing runs."""
        if grace_s is not None:
            self.grace_s = grace_s
        if self._active and self._halt is not None:
            self._halt.set()
            await self._finished.wait()
        await self.queue.release_leases()

    # -- the loop --------------------------------------------------------------------------

    def _start(self) -> None:
        if self._active:
            raise RuntimeError("this worker is already running")
        self._active = True
        self._ready = asyncio.Queue()
        self._held.clear()
        self._started.clear()
        self._runs.clear()
        self._cut.clear()
        self._done = []
        self._done_since = 0.0
        self._failed.clear()
        self._running = 0
        self._handled = 0
        self._avg_run_s = _HOLD_HORIZON_S  # unknown: as slow as matters (free slots only)
        self._wake = asyncio.Event()
        self._notified = False
        self._consumers = [asyncio.create_task(self._consume()) for _ in range(self.concurrency)]

    async def _loop(
        self,
        conn: asyncpg.Connection,
        stop: asyncio.Event | None,
        connected: Callable[[], None] | None = None,
    ) -> None:
        loop = asyncio.get_running_loop()
        drained = False  # the last claim found less than it asked for
        next_poll = 0.0
        next_beat = loop.time() + self._heartbeat_s
        await self.queue.worker_session(conn)
        await self._reap(conn)
        if connected is not None:  # the connection answered: an outage is over
            connected()
        while True:
            self._wake.clear()
            if stop is not None and stop.is_set():
                return
            if drained and loop.time() >= next_poll:
                await self._reap(conn)
                drained = False
            if self._notified:
                self._notified = False
                drained = False
            target = self._hold_target()
            free = target - self._running - self._ready.qsize()
            # In batches of at least half the target, so cheap jobs are not claimed a few
            # per round trip.
            want = not drained and free >= max(1, target // 2)
            # Successes wait for the claim below, which completes them first; without one
            # coming, they are written within _FLUSH_AFTER_S, so a crash does not repeat work
            # that finished long ago (a citizen would get the same SMS twice).
            overdue = bool(self._done) and loop.time() - self._done_since >= _FLUSH_AFTER_S
            await self._settle(conn, flush_all=overdue and not want, successes=not want)
            if want:
                # The finished batch is completed right before the next one is claimed.
                done, self._done = self._done, []
                try:
                    limit = min(self.batch_size, free)
                    jobs = await self.queue.claim(
                        conn, self._kinds, limit, complete=[job.id for job in done]
                    )
                except BaseException:
                    self._done = done + self._done
                    raise
                self._completed(done)
                for job in jobs:
                    self._held[job.id] = job
                    self._ready.put_nowait(job)
                if len(jobs) < limit:
                    drained = True
                    next_poll = loop.time() + self.queue.cfg.poll_s
                if jobs:
                    continue
            idle = self._running == 0 and self._ready.empty()
            if idle and drained:
                await self._settle(conn, flush_all=True)
                if stop is None:
                    return  # burst mode: nothing left that is due
            if loop.time() >= next_beat:
                await self._give_up_deaf(conn, loop.time())
                await self.queue.extend_leases(conn, list(self._held))
                next_beat = loop.time() + self._heartbeat_s
            timeout = next_beat - loop.time()
            if self._done:
                timeout = min(timeout, self._done_since + _FLUSH_AFTER_S - loop.time())
            if drained:
                timeout = min(timeout, next_poll - loop.time())
                if stop is not None and idle:
                    await self.queue.ensure_listening()
            if self._wake.is_set():
                continue
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(max(timeout, 0.0)):
                    await self._wake.wait()

    def _hold_target(self) -> int:
        """How many jobs to hold (running + claimed, not started): what the slots can start
        within ``_HOLD_HORIZON_S`` at the handlers' recent pace, at least the slots, at
        most one batch."""
        can_start = self.concurrency * _HOLD_HORIZON_S / max(self._avg_run_s, 1e-4)
        return max(self.concurrency, min(self.batch_size, int(can_start)))

    async def _reap(self, conn: asyncpg.Connection) -> None:
        for _job_id, kind in await self.queue.reap(conn):
            if kind in self._handlers:
                self._outcome(kind, "dead")

    async def _consume(self) -> None:
        batch = self.batch_size
        loop = asyncio.get_running_loop()
        me = asyncio.current_task()
        assert me is not None
        while True:
            job = await self._ready.get()
            self._running += 1
            began = loop.time()
            self._started[job.id] = began
            self._runs[me] = began
            if self._watchdog is None:
                self._watchdog = loop.call_at(began + self.job_timeout_s, self._cut_off_overdue)
            try:
                error = await self._execute(job, me)
            finally:
                self._running -= 1
                self._avg_run_s += 0.2 * (loop.time() - began - self._avg_run_s)
                del self._runs[me]
            self._started.pop(job.id, None)
            self._handled += 1
            if error is None:
                if not self._done:
                    self._done_since = loop.time()
                    self._wake.set()  # the claimer arms its flush timer
                self._done.append(job)
                if len(self._done) >= batch or self._ready.qsize() < self.concurrency:
                    self._wake.set()
            else:
                self._failed.append((job, error))
                self._wake.set()

    async def _execute(self, job: Job, task: asyncio.Task[None]) -> BaseException | None:
        """Run the job's handler; its exception, if any. Past ``job_timeout_s`` the watchdog
        (``_cut_off_overdue``) cancels it, as ``asyncio.timeout`` would — one timer for the
        worker instead of one per job, which cost more than a quick handler itself."""
        # Each consumer task has its own context: binding overwrites the previous job's
        # values, with no unbinding needed (cheaper than bound_contextvars on the hot path).
        structlog.contextvars.bind_contextvars(
            job_id=job.id,
            job_kind=job.kind,
            attempt=job.attempts,
            complaint_id=str(job.complaint_id) if job.complaint_id is not None else None,
        )
        try:
            await self._handlers[job.kind](job)
        except asyncio.CancelledError:
            if not (self._cut and self._uncut(task)) or task.cancelling():
                raise  # stopping (too): not, or not only, the watchdog's
            return self._timed_out()
        except TimeoutError as exc:
            if self._cut and self._uncut(task):
                return self._timed_out()
            return exc  # the handler's own timeout
        except Exception as exc:
            if self._cut:
                self._uncut(task)
            return exc
        if self._cut:
            self._uncut(task)  # it finished as it was being cut off: a success
        return None

    def _timed_out(self) -> InDoubtError:
        # A hung handler must not keep its job (and its slot) for ever: cut off, the job is
        # retried in doubt — it may have acted — and its next attempt checks first.
        log.error("job_timed_out", timeout_s=self.job_timeout_s)
        return InDoubtError(f"cut off after job_timeout_s = {self.job_timeout_s:g} s")

    def _uncut(self, task: asyncio.Task[None]) -> bool:
        """Whether the watchdog cancelled this consumer's job; if so, its cancellation
        request is taken back (``Task.uncancel``, as ``asyncio.timeout`` does), so the
        consumer's next job and a handler's own timeouts see none left over."""
        if task not in self._cut:
            return False
        self._cut.discard(task)
        task.uncancel()
        return True

    def _cut_off_overdue(self) -> None:
        """The watchdog's timer: cancel each handler running past ``job_timeout_s`` (once)
        and wait for the next one's deadline. Armed when a job starts and none is."""
        self._watchdog = None
        loop = asyncio.get_running_loop()
        now = loop.time()
        limit = self.job_timeout_s
        earliest: float | None = None
        for task, began in self._runs.items():
            if task in self._cut:
                continue  # cancelled already (a handler deaf to it)
            if began + limit <= now + _CLOCK_SLACK_S:
                self._cut.add(task)
                task.cancel()
            elif earliest is None or began < earliest:
                earliest = began
        if earliest is not None:
            self._watchdog = loop.call_at(earliest + limit, self._cut_off_overdue)

    async def _give_up_deaf(self, conn: asyncpg.Connection, now: float) -> None:
        """Hand back, in doubt, the jobs whose handler still runs ``lease_s`` past
        ``job_timeout_s``: it ignored its cancellation, and no job may stay held for ever
        (its lease renewed by this heartbeat). The next attempt checks before acting."""
        limit = self.job_timeout_s + self.queue.cfg.lease_s
        deaf = [
            self._held[i]
            for i, began in self._started.items()
            if i in self._held and now - began > limit
        ]
        if not deaf:
            return
        await self.queue.release(conn, [job.id for job in deaf], interrupted=True)
        for job in deaf:
            self._held.pop(job.id, None)
            self._outcome(job.kind, "interrupted")
            log.error(
                "job_abandoned",
                job_id=job.id,
                job_kind=job.kind,
                running_s=round(now - self._started[job.id], 1),
            )

    async def _settle(
        self, conn: asyncpg.Connection, *, flush_all: bool, successes: bool = True
    ) -> None:
        """Write finished jobs: deferrals as one batch, other failures one by one (rare),
        successes as one batch."""
        deferred = [(job, exc) for job, exc in self._failed if isinstance(exc, Deferred)]
        if deferred:
            await self.queue.defer(conn, deferred)
            ids = {job.id for job, _ in deferred}
            self._failed = deque((j, e) for j, e in self._failed if j.id not in ids)
            for job, _ in deferred:
                self._held.pop(job.id, None)
                self._outcome(job.kind, "deferred")
        while self._failed:
            job, exc = self._failed[0]
            state = await self.queue.fail(conn, job, exc)
            self._failed.popleft()
            self._held.pop(job.id, None)
            if state is not None:
                self._outcome(job.kind, "retry" if state is JobState.QUEUED else state.value)
        if successes and self._done and (flush_all or len(self._done) >= self.batch_size):
            done, self._done = self._done, []
            try:
                n = await self.queue.complete(conn, [job.id for job in done])
            except BaseException:
                self._done = done + self._done
                raise
            self._completed(done)
            if n < len(done):
                log.warning("job_leases_lost", count=len(done) - n)

    def _completed(self, done: list[Job]) -> None:
        for job in done:
            self._held.pop(job.id, None)
            self._outcome(job.kind, "done")

    async def _shutdown(self) -> None:
        """Stop claiming; give back what was not started; let the rest finish or cut it off."""
        not_started: list[Job] = []
        while not self._ready.empty():
            not_started.append(self._ready.get_nowait())
        try:
            async with self.queue.pool.acquire() as conn:
                if not_started:
                    await self.queue.release(conn, [job.id for job in not_started])
                    for job in not_started:
                        self._held.pop(job.id, None)
                        self._outcome(job.kind, "released")
                loop = asyncio.get_running_loop()
                deadline = loop.time() + self.grace_s
                while self._running and loop.time() < deadline:
                    self._wake.clear()
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(deadline - loop.time()):
                            await self._wake.wait()
                cut_off = [self._held[i] for i in self._started if i in self._held]
                await self._stop_consumers()
                await self._settle(conn, flush_all=True)
                if cut_off:
                    await self.queue.release(conn, [job.id for job in cut_off], interrupted=True)
                    for job in cut_off:
                        self._held.pop(job.id, None)
                        self._outcome(job.kind, "interrupted")
                    log.warning("job_worker_cut_off", count=len(cut_off), grace_s=self.grace_s)
        except _DB_FAILED as exc:
            # The leases run out on their own; another process takes the jobs then.
            log.error("job_worker_release_failed", error=repr(exc), held=len(self._held))

    async def _stop_consumers(self) -> None:
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None
        consumers, self._consumers = self._consumers, []
        for task in consumers:
            task.cancel()
        for task in consumers:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    # -- small helpers ---------------------------------------------------------------------

    def _on_notify(self) -> None:
        self._notified = True
        self._wake.set()

    @staticmethod
    async def _relay(outer: asyncio.Event, inner: asyncio.Event) -> None:
        await outer.wait()
        inner.set()

    async def _wake_on(self, stop: asyncio.Event) -> None:
        await stop.wait()
        self._wake.set()

    def _outcome(self, kind: str, outcome: str) -> None:
        if self._on_outcome is None:
            return
        try:
            self._on_outcome(kind, outcome)
        except Exception:
            log.exception("job_outcome_hook_failed", job_kind=kind, outcome=outcome)
