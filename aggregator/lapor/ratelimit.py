"""The LAPOR! rate limit: a token bucket for the process, or one shared by every replica.

Requests wait in line (a lock; in the shared bucket, for one reservation at a time, which
wakes every request in line), so the rate holds however many workers push at once. The
client's burst is half the server's: the slack absorbs network jitter that could otherwise
bunch requests together on arrival and trip the server's own bucket.

``SharedTokenBucket`` is the daemon's (``lapor.rate_limit_scope = "database"``): its schedule
lives in one PostgreSQL row (GCRA, a "theoretical arrival time"), and each process reserves
the slots its waiting requests need with one atomic UPDATE, so the limit holds across any
number of replicas. One round trip serves every request waiting at that moment, plus a
prefetch of 20 ms worth of slots, so a fast single process pays a round trip per handful of
requests, not per request. A reserved slot not used within its grace of its time is dropped
rather than sent late: late slots sent together would be a burst the schedule never allowed.
The grace is ``GRACE_S``, or half the burst tolerance when that is longer: slots sent up to
that late keep the requests within the schedule plus half the slack to the server's burst,
and a bucket with a large burst does not stall its whole line for a reservation every
``GRACE_S`` only because its prefetched slots aged.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Protocol

import asyncpg
import structlog

from aggregator.errors import TransientError
from aggregator.storage.lapor import reserve_rate_slots

log = structlog.get_logger(__name__)

# The database did not answer (down, restarting, no free connection).
_DB_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.CannotConnectNowError,
    asyncpg.TooManyConnectionsError,
    asyncpg.InterfaceError,
)


class RateLimiter(Protocol):
    rate: float
    acquired: int
    waited_s: float

    async def acquire(self) -> None: ...

    def charge(self) -> None: ...

    def pause(self, seconds: float) -> None: ...


class TokenBucket:
    def __init__(
        self, rate_per_s: float, burst: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if rate_per_s <= 0 or burst < 1:
            raise ValueError("rate must be > 0 and burst >= 1")
        self.rate = rate_per_s
        self.burst = float(burst)
        self.clock = clock
        self._tokens = float(burst)
        self._at = clock()
        self._paused_until = 0.0
        self._lock = asyncio.Lock()
        self.acquired = 0
        self.waited_s = 0.0

    def _refill(self, now: float) -> None:
        self._tokens = min(self.burst, self._tokens + (now - self._at) * self.rate)
        self._at = now

    async def acquire(self) -> None:
        async with self._lock:
            while True:
                now = self.clock()
                if now < self._paused_until:
                    wait = self._paused_until - now
                else:
                    self._refill(now)
                    if self._tokens >= 1.0:
                        self._tokens -= 1.0
                        self.acquired += 1
                        return
                    wait = (1.0 - self._tokens) / self.rate
                self.waited_s += wait
                await asyncio.sleep(wait)

    def charge(self) -> None:
        """Count a request sent without waiting its turn: the bucket may go below zero, so
        the requests after it wait that much longer."""
        self._refill(self.clock())
        self._tokens -= 1.0
        self.acquired += 1

    def pause(self, seconds: float) -> None:
        """The server said 429 / Retry-After: nobody sends until then, and the bucket empties."""
        now = self.clock()
        self._refill(now)
        self._tokens = 0.0
        self._paused_until = max(self._paused_until, now + seconds)


class SharedTokenBucket:
    """One bucket for every process that names the same ``key`` (see the module's doc).

    Without the database no slot can be reserved, so no request leaves: ``acquire`` retries
    for ``db_wait_s`` and then raises ``TransientError`` (nothing was sent, safe to retry).
    """

    GRACE_S = 0.1
    PREFETCH_S = 0.02

    def __init__(
        self,
        pool: asyncpg.Pool,
        key: str,
        rate_per_s: float,
        burst: int,
        *,
        clock: Callable[[], float] = time.monotonic,
        db_wait_s: float = 30.0,
    ) -> None:
        if rate_per_s <= 0 or burst < 1:
            raise ValueError("rate must be > 0 and burst >= 1")
        self.pool = pool
        self.key = key
        self.rate = rate_per_s
        self.burst = float(burst)
        self.interval = 1.0 / rate_per_s
        # GCRA's tolerance: a slot may go this long before its theoretical arrival time.
        self.tau = (burst - 1) * self.interval
        self.grace_s = max(self.GRACE_S, self.tau / 2)
        self.prefetch = max(1, min(1000, math.ceil(rate_per_s * self.PREFETCH_S)))
        self.clock = clock
        self.db_wait_s = db_wait_s
        self._slots: deque[float] = deque()  # local clock times at which a request may go
        self._reservation: asyncio.Future[None] | None = None
        self._waiting = 0
        self._debt = 0  # requests sent without a slot (token fetches), paid at the next reserve
        self._paused_until = 0.0
        self._hold_pending = False
        self._releases: set[asyncio.Task[None]] = set()
        self.acquired = 0
        self.waited_s = 0.0
        self.reservations = 0
        self.stalls = 0  # reservations the line waited for (it found no slot)
        self.db_errors = 0

    async def _sleep(self, seconds: float) -> None:
        self.waited_s += seconds
        await asyncio.sleep(seconds)

    def _drop_expired(self, now: float) -> None:
        while self._slots and self._slots[0] < now - self.grace_s:
            self._slots.popleft()

    async def acquire(self) -> None:
        self._waiting += 1  # callers without a slot yet: what a reservation asks for
        try:
            while True:
                now = self.clock()
                if now < self._paused_until:
                    if self._hold_pending:
                        # Tell the other replicas too: nobody sends until then.
                        await self._one_at_a_time(self._announce_pause)
                        continue
                    await self._sleep(self._paused_until - now)
                    continue
                self._drop_expired(now)
                if not self._slots:
                    await self._one_at_a_time(self._reserve_for_waiting)
                    continue
                at = self._slots.popleft()
                self._reserve_ahead(now)
                if at > now:
                    self._waiting -= 1
                    try:
                        await self._sleep(at - now)
                    finally:
                        self._waiting += 1
                    if self.clock() < self._paused_until:
                        continue  # a 429 arrived meanwhile: this slot is void
                self.acquired += 1
                return
        finally:
            self._waiting -= 1

    async def _one_at_a_time(self, reserve: Callable[[], Awaitable[None]]) -> None:
        """Wait for the reservation in progress, or start ``reserve`` as the one. Every
        caller waiting wakes in the same loop turn when it lands (a lock would hand them on
        one per turn: with a hundred in line, a convoy of a hundred turns), and its failure
        (no database for ``db_wait_s``) is theirs too."""
        if self._reservation is None or self._reservation.done():
            task = asyncio.ensure_future(reserve())
            # Retrieved even when every caller that waited for it was cancelled.
            task.add_done_callback(lambda t: t.cancelled() or t.exception())
            self._reservation = task
        await asyncio.shield(self._reservation)

    def _reserve_ahead(self, now: float) -> None:
        """A bucket that prefetches (more than 50 requests/s) reserves its next slots while
        half of these are left and none is about to age out, so its line does not stop for
        the round trip. Slower buckets reserve only what their waiting requests need."""
        if self.prefetch < 2 or (self._reservation is not None and not self._reservation.done()):
            return
        if len(self._slots) > self.prefetch // 2 and (self._slots[0] >= now - self.grace_s / 2):
            return
        task = asyncio.ensure_future(self._reserve(self.prefetch))
        task.add_done_callback(lambda t: t.cancelled() or t.exception())
        self._reservation = task

    async def _reserve_for_waiting(self) -> None:
        self.stalls += 1
        await self._reserve(max(self._waiting, self.prefetch))

    async def _announce_pause(self) -> None:
        await self._reserve(0, hold_s=max(0.0, self._paused_until - self.clock()) + self.tau)
        self._hold_pending = False

    async def _reserve(self, slots: int, *, hold_s: float = 0.0) -> None:
        debt = self._debt
        total = slots + debt
        started = self.clock()
        delay = 0.1
        while True:
            try:
                conn = await self.pool.acquire(timeout=5.0)
                try:
                    first = await reserve_rate_slots(
                        conn, self.key, total, self.interval, max(0.0, hold_s)
                    )
                finally:
                    self._release_soon(conn)
                break
            except _DB_ERRORS as exc:
                self.db_errors += 1
                waited = self.clock() - started
                if waited >= self.db_wait_s:
                    raise TransientError(
                        f"LAPOR! rate bucket unavailable for {waited:.0f} s: {type(exc).__name__}"
                    ) from exc
                if self.db_errors == 1 or delay >= 1.0:
                    log.warning("lapor_rate_bucket_unavailable", error=type(exc).__name__)
                await asyncio.sleep(delay)
                delay = min(1.0, delay * 2)
        got_at = self.clock()
        self.reservations += 1
        self._debt -= debt
        # The first ``debt`` slots paid for requests already sent.
        for i in range(debt, total):
            self._slots.append(got_at + max(0.0, first + i * self.interval - self.tau))

    def _release_soon(self, conn: asyncpg.Connection) -> None:
        """Give the connection back without the line waiting for it: asyncpg resets a
        connection on release, a round trip the reserved slots need not wait for."""
        task = asyncio.create_task(self._release(conn))
        self._releases.add(task)
        task.add_done_callback(self._releases.discard)

    async def _release(self, conn: asyncpg.Connection) -> None:
        try:
            await self.pool.release(conn)
        except Exception as exc:  # the pool replaces a connection it could not reset
            log.warning("lapor_rate_bucket_release_failed", error=type(exc).__name__)

    def charge(self) -> None:
        """Count a request sent without waiting its turn (a token fetch): it takes a slot
        already reserved, or is paid for at the next reservation."""
        self._drop_expired(self.clock())
        if self._slots:
            self._slots.popleft()
        else:
            self._debt += 1
        self.acquired += 1

    def pause(self, seconds: float) -> None:
        """The server said 429 / Retry-After: nobody sends until then, in any replica."""
        self._paused_until = max(self._paused_until, self.clock() + seconds)
        self._slots.clear()
        self._hold_pending = True
