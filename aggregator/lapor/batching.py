"""Coalesce the database calls of concurrent push jobs into one statement.

While one batch is at the database, the calls that arrive queue up and go together in the
next: with N jobs in flight a push costs about one N-th of a round trip instead of one.
A batch that fails is retried call by call, so one bad item cannot fail the others.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable, Sequence
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class MicroBatcher(Generic[K, V]):
    def __init__(
        self, fetch: Callable[[Sequence[K]], Awaitable[dict[K, V]]], *, max_batch: int = 64
    ) -> None:
        self._fetch = fetch
        self._max = max_batch
        self._pending: list[tuple[K, asyncio.Future[V]]] = []
        self._task: asyncio.Task[None] | None = None
        self.batches = 0

    async def __call__(self, key: K) -> V:
        fut: asyncio.Future[V] = asyncio.get_running_loop().create_future()
        self._pending.append((key, fut))
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._drain())
        return await fut

    async def _drain(self) -> None:
        await asyncio.sleep(0)  # let the callers woken in this loop turn join
        while self._pending:
            batch, self._pending = self._pending[: self._max], self._pending[self._max :]
            batch = [(k, f) for k, f in batch if not f.cancelled()]
            if not batch:
                continue
            self.batches += 1
            try:
                results = await self._fetch([k for k, _f in batch])
            except Exception as exc:
                if len(batch) == 1:
                    if not batch[0][1].done():
                        batch[0][1].set_exception(exc)
                    continue
                await self._one_by_one(batch)
                continue
            for key, fut in batch:
                if fut.done():
                    continue
                if key in results:
                    fut.set_result(results[key])
                else:
                    fut.set_exception(KeyError(key))

    async def _one_by_one(self, batch: list[tuple[K, asyncio.Future[V]]]) -> None:
        for key, fut in batch:
            if fut.done():
                continue
            try:
                results = await self._fetch([key])
            except Exception as exc:
                fut.set_exception(exc)
                continue
            if key in results:
                fut.set_result(results[key])
            else:
                fut.set_exception(KeyError(key))
