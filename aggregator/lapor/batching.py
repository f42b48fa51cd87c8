"""Coalesce the database calls of concurrent push jobs into one statement.

While one batch is at the database, the calls that arrive queue up and go together in the
next: with N jobs in flight a push costs about one N-th of a round trip instead of one.
A batch that fails is retried call by call, so one bad item cannot fail the others.

``hold`` (a pool's ``acquire``) is entered once for a run of batches, and left when no call
has come for ``linger_s``: a batch's callers have their results as soon as its statement
answers, not after the connection's release (asyncpg resets a connection on release, a
round trip of its own), and a busy batcher does not pay that reset per batch.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")
R = TypeVar("R")


class MicroBatcher(Generic[K, V, R]):
    def __init__(
        self,
        fetch: Callable[[R, Sequence[K]], Awaitable[dict[K, V]]],
        hold: Callable[[], AbstractAsyncContextManager[R]],
        *,
        max_batch: int = 64,
        linger_s: float = 0.05,
    ) -> None:
        self._fetch = fetch
        self._hold = hold
        self._max = max_batch
        self._linger_s = linger_s
        self._pending: list[tuple[K, asyncio.Future[V]]] = []
        self._task: asyncio.Task[None] | None = None
        self._arrived: asyncio.Event | None = None
        self.batches = 0
        self.holds = 0

    async def __call__(self, key: K) -> V:
        fut: asyncio.Future[V] = asyncio.get_running_loop().create_future()
        self._pending.append((key, fut))
        if self._arrived is not None:
            self._arrived.set()
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._drain())
        return await fut

    def prime(self) -> None:
        """Enter ``hold`` now if it is not held, ahead of calls known to come soon (the
        Tracking IDs of requests in flight): a connection opened while they are at LAPOR!
        is not opened after. Left after ``linger_s`` like any other."""
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._drain())

    async def _more(self) -> bool:
        """Wait up to ``linger_s`` for a call; True when one is waiting."""
        if not self._pending and self._linger_s > 0:
            self._arrived = asyncio.Event()
            try:
                async with asyncio.timeout(self._linger_s):
                    await self._arrived.wait()
            except TimeoutError:
                pass
            finally:
                self._arrived = None
            await asyncio.sleep(0)  # the callers woken in the same loop turn join too
        return bool(self._pending)

    async def _drain(self) -> None:
        await asyncio.sleep(0)  # let the callers woken in this loop turn join
        failed: list[tuple[K, asyncio.Future[V]]] = []
        primed = not self._pending
        while self._pending or failed or primed:
            primed = False
            entered = False
            try:
                async with self._hold() as held:
                    entered = True
                    self.holds += 1
                    if failed:
                        batch, failed = failed, []
                        await self._one_by_one(held, batch)
                    # A batch that failed as a whole may have broken what is held (a lost
                    # connection): the rest go under a fresh one, the failed batch's calls
                    # first, one by one.
                    ok = True
                    while ok and await self._more():
                        ok, failed = await self._batch(held)
            except Exception as exc:
                if entered:
                    continue  # leaving it failed, after its batches were answered
                # Nothing to run the batches on (no connection): the waiting calls fail.
                waiting, self._pending = failed + self._pending, []
                failed = []
                for _key, fut in waiting:
                    if not fut.done():
                        fut.set_exception(exc)

    async def _batch(self, held: R) -> tuple[bool, list[tuple[K, asyncio.Future[V]]]]:
        """Run the next batch: (False, the calls to retry one by one) when it failed."""
        batch, self._pending = self._pending[: self._max], self._pending[self._max :]
        batch = [(k, f) for k, f in batch if not f.cancelled()]
        if not batch:
            return True, []
        self.batches += 1
        try:
            results = await self._fetch(held, [k for k, _f in batch])
        except Exception as exc:
            if len(batch) > 1:
                return False, batch
            if not batch[0][1].done():
                batch[0][1].set_exception(exc)
            return False, []
        for key, fut in batch:
            if fut.done():
                continue
            if key in results:
                fut.set_result(results[key])
            else:
                fut.set_exception(KeyError(key))
        return True, []

    async def _one_by_one(self, held: R, batch: list[tuple[K, asyncio.Future[V]]]) -> None:
        for key, fut in batch:
            if fut.done():
                continue
            try:
                results = await self._fetch(held, [key])
            except Exception as exc:
                fut.set_exception(exc)
                continue
            if key in results:
                fut.set_result(results[key])
            else:
                fut.set_exception(KeyError(key))
