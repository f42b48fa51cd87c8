"""The router's model in a child process, so intake's event loop never computes it.

Routing a complaint costs about as much CPU as storing it (normalisation, n-grams, the
linear model, the policy's rules). Computed on the event loop it would slow intake by half
or more; computed in a thread it fights the loop for the interpreter lock. So the daemon
starts one child process (``spawn``: nothing of the parent's state is copied) that loads
the fitted model from the cache of fitted models (or fits it, off the loop, at start-up;
the follow-up labeller's too, which the daemon then loads from the cache) and routes whole
batches, and reads the junk filter's verdicts and the places of a batch's texts
(``screen.py``) before routing it. A fit in a thread would not do: scikit-learn holds the
interpreter lock while it fits, and the loop would stop for the second or two it takes. Intake sends a batch's texts
as soon as the batch arrives and collects the decisions after its own database writes, so
the two run side by side (on two cores; on one, the child uses the time the loop spends
waiting for the database).

Any failure of the child (it died, it cannot start) is logged and that batch is routed in
the daemon's own process: a complaint is never held up by the helper.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import multiprocessing
import os
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import structlog

from aggregator.judgement import cache, screen
from aggregator.judgement.router import Decision, Router

log = structlog.get_logger(__name__)

_ROUTER: Router | None = None


def _init(
    router: Router, nice: int, cpus: frozenset[int] | None, followup: Any, directory: Any
) -> None:
    global _ROUTER
    if nice:
        with contextlib.suppress(OSError):
            os.nice(nice)
    if cpus and hasattr(os, "sched_setaffinity"):
        with contextlib.suppress(OSError):
            os.sched_setaffinity(0, cpus)
    _ROUTER = router
    cache.set_directory(directory)
    router.model  # noqa: B018 - loaded (or fitted) once, at the child's start
    if followup is not None:
        # Fitted here too and written to the cache: the daemon then only loads it.
        from aggregator.judgement.labeller import Labeller

        Labeller(followup).model  # noqa: B018


def _route(texts: Sequence[str]) -> list[Decision]:
    assert _ROUTER is not None
    return _ROUTER.route_many(texts)


def _screen(
    texts: Sequence[str], junk: str | None, with_places: bool
) -> list[tuple[str | None, str | None]]:
    return screen.screen_many(texts, junk, with_places)


class ModelProcess:
    """One child process holding the router's model; ``route_many`` awaits its answer."""

    def __init__(
        self,
        router: Router,
        *,
        nice: int = 0,
        cpus: frozenset[int] | None = None,
        followup: Any = None,
    ) -> None:
        self.router = router
        self.followup = followup  # a FollowupConfig: fit the labeller there as well
        self.nice = nice
        self.cpus = cpus  # pin the child (benchmarks); None: wherever the OS puts it
        self._pool: ProcessPoolExecutor | None = None
        self._warm: asyncio.Future[Any] | None = None
        self.failures = 0

    def start(self) -> None:
        """Start the child and its model load; returns at once (the load runs there)."""
        if self._pool is not None:
            return
        self._pool = ProcessPoolExecutor(
            max_workers=1,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_init,
            # without its fitted model: the child loads it from the cache (or fits it)
            initargs=(
                dataclasses.replace(self.router),
                self.nice,
                self.cpus,
                self.followup,
                self.router.directory,
            ),
        )
        loop = asyncio.get_running_loop()
        self._warm = loop.run_in_executor(self._pool, _route, ["mulai"])

    async def ready(self) -> None:
        """Wait (without blocking the loop) until the child has its model."""
        if self._warm is None:
            self.start()
        assert self._warm is not None
        with contextlib.suppress(Exception):
            await asyncio.shield(self._warm)

    async def route_many(self, texts: Sequence[str]) -> list[Decision]:
        if not texts:
            return []
        if self._pool is None:
            self.start()
        assert self._pool is not None
        try:
            return await asyncio.get_running_loop().run_in_executor(self._pool, _route, list(texts))
        except Exception as exc:  # the child died or cannot start: route here, restart it
            self.failures += 1
            log.warning("model_process_failed", error=f"{type(exc).__name__}: {exc}"[:300])
            self._restart()
            return await asyncio.to_thread(self.router.route_many, texts)

    async def screen_many(
        self, texts: Sequence[str], junk: str | None, with_places: bool
    ) -> list[tuple[str | None, str | None]]:
        """``screen.screen_many`` in the child: the batch's junk verdicts and place keys,
        asked for before its routing (the child answers in order), since intake needs
        them sooner. A failure of the child: computed here, in a thread."""
        if not texts:
            return []
        if self._pool is None:
            self.start()
        assert self._pool is not None
        args = (list(texts), junk, with_places)
        try:
            return await asyncio.get_running_loop().run_in_executor(self._pool, _screen, *args)
        except Exception as exc:
            self.failures += 1
            log.warning("model_process_failed", error=f"{type(exc).__name__}: {exc}"[:300])
            self._restart()
            return await asyncio.to_thread(screen.screen_many, *args)

    async def cpu_time(self) -> float:
        """The child's CPU seconds so far (what routing costs besides intake's own CPU)."""
        if self._pool is None:
            self.start()
        assert self._pool is not None
        return await asyncio.get_running_loop().run_in_executor(self._pool, time.process_time)

    def _restart(self) -> None:
        pool, self._pool, self._warm = self._pool, None, None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)

    async def aclose(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            await asyncio.to_thread(pool.shutdown, True, cancel_futures=True)
