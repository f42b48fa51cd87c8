"""The router's model in a child process, so intake's event loop never computes it.

Routing a complaint costs about as much CPU as storing it (normalisation, n-grams, the
linear model, the policy's rules). Computed on the event loop it would slow intake by half
or more; computed in a thread it fights the loop for the interpreter lock. So the daemon
starts one child process (``spawn``: nothing of the parent's state is copied) that loads
the fitted model from the cache of fitted models (or fits it, off the loop, at start-up;
the follow-up labeller's too, which the daemon then loads from the cache) and routes whole
batches, and reads the junk filter's verdicts and the places of a batch's texts
(``screen.py``) before routing it. A fit in a thread would not do: scikit-learn holds the
interpreter lock while it fits, and the loop would stop for the second or two it takes.
Intake sends a batch's texts as soon as the batch arrives and collects the answers after its
own database writes, so the two run side by side (on two cores; on one, the child uses the
time the loop spends waiting for the database).

The child and the event loop talk over one pipe, which the loop reads when it is readable
(``add_reader``): no thread of the daemon's is woken for a call. A process pool's manager
and feeder threads cost the loop's process about 0.3-0.9 ms of CPU per call on a busy
machine (a tenth of what intake spends on a batch of a hundred), and each of their wake-ups
waits for a core. The calls made in one turn of the loop go in one write, and nothing more
is written until the child has answered them, so the child is always reading when the loop
writes (a write never blocks the loop for longer than the child takes to read it).

Any failure of the child (it died, it cannot start) is logged and that batch is routed in
the daemon's own process: a complaint is never held up by the helper.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import itertools
import multiprocessing
import os
import time
from collections.abc import Sequence
from multiprocessing.connection import Connection
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


_CALLS: dict[str, Any] = {"route": _route, "screen": _screen, "cpu": time.process_time}


def _serve(conn: Connection, *init: Any) -> None:
    """The child: load the models, then answer each call of each message, in order, one
    answer per call ``(id, ok, result or error)``, until the pipe closes."""
    _init(*init)
    while True:
        try:
            calls = conn.recv()
        except (EOFError, OSError):
            return
        if calls is None:
            return
        for cid, name, args in calls:
            try:
                out = (cid, True, _CALLS[name](*args))
            except Exception as exc:
                out = (cid, False, f"{type(exc).__name__}: {exc}"[:300])
            conn.send(out)


class ModelProcessError(RuntimeError):
    """The child failed a call, died, or could not start."""


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
        self._proc: Any = None  # the child (a spawn context's Process)
        self._conn: Connection | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ids = itertools.count()
        self._pending: dict[int, asyncio.Future[Any]] = {}  # written, not answered yet
        self._outbox: list[tuple[int, str, tuple[Any, ...]]] = []  # not written yet
        self._flushing = False
        self._warm: asyncio.Future[Any] | None = None
        self.failures = 0

    def start(self) -> None:
        """Start the child and its model load; returns at once (the load runs there)."""
        if self._proc is not None:
            return
        ctx = multiprocessing.get_context("spawn")
        mine, theirs = ctx.Pipe()
        proc = ctx.Process(
            target=_serve,
            # without its fitted model: the child loads it from the cache (or fits it)
            args=(
                theirs,
                dataclasses.replace(self.router),
                self.nice,
                self.cpus,
                self.followup,
                self.router.directory,
            ),
            daemon=True,
            name="satukanal-model",
        )
        proc.start()
        theirs.close()
        self._proc, self._conn = proc, mine
        self._loop = asyncio.get_running_loop()
        self._loop.add_reader(mine.fileno(), self._readable)
        self._warm = self._call("route", (["mulai"],))

    @property
    def pid(self) -> int | None:
        """The child's process id (None: not started, or gone)."""
        return self._proc.pid if self._proc is not None else None

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
        try:
            return await self._call("route", (list(texts),))  # type: ignore[no-any-return]
        except Exception as exc:  # the child died or cannot start: route here
            self._failed(exc)
            return await asyncio.to_thread(self.router.route_many, texts)

    async def screen_many(
        self, texts: Sequence[str], junk: str | None, with_places: bool
    ) -> list[tuple[str | None, str | None]]:
        """``screen.screen_many`` in the child: the batch's junk verdicts and place keys,
        asked for before its routing (answered first, in the same write when both are
        asked in one turn of the loop). A failure of the child: computed here, in a thread."""
        if not texts:
            return []
        args = (list(texts), junk, with_places)
        try:
            return await self._call("screen", args)  # type: ignore[no-any-return]
        except Exception as exc:
            self._failed(exc)
            return await asyncio.to_thread(screen.screen_many, *args)

    async def cpu_time(self) -> float:
        """The child's CPU seconds so far (what routing costs besides intake's own CPU)."""
        return await self._call("cpu", ())  # type: ignore[no-any-return]

    def _call(self, name: str, args: tuple[Any, ...]) -> asyncio.Future[Any]:
        if self._proc is None:
            self.start()
        assert self._loop is not None
        cid = next(self._ids)
        fut: asyncio.Future[Any] = self._loop.create_future()
        self._pending[cid] = fut
        self._outbox.append((cid, name, args))
        if not self._flushing:  # the other calls of this turn of the loop go along
            self._flushing = True
            self._loop.call_soon(self._flush)
        return fut

    def _flush(self) -> None:
        """Write the calls waiting, once the child has answered the ones written before."""
        self._flushing = False
        if not self._outbox or self._conn is None:
            return
        written = {cid for cid, _, _ in self._outbox}
        if any(cid not in written for cid in self._pending):
            return  # the child is busy: these go when it has answered
        calls, self._outbox = self._outbox, []
        try:
            self._conn.send(calls)
        except (OSError, ValueError) as exc:
            self._broken(f"{type(exc).__name__}: {exc}")

    def _readable(self) -> None:
        conn = self._conn
        try:
            while conn is not None and conn.poll():
                cid, ok, value = conn.recv()
                fut = self._pending.pop(cid, None)
                if fut is not None and not fut.done():
                    if ok:
                        fut.set_result(value)
                    else:
                        fut.set_exception(ModelProcessError(value))
        except (EOFError, OSError) as exc:
            self._broken(f"the model's process ended ({type(exc).__name__})")
            return
        if (
            self._outbox
            and not self._flushing
            and all(cid in {c for c, _, _ in self._outbox} for cid in self._pending)
        ):
            self._flush()

    def _failed(self, exc: BaseException) -> None:
        self.failures += 1
        log.warning("model_process_failed", error=f"{type(exc).__name__}: {exc}"[:300])
        if not isinstance(exc, ModelProcessError):  # could not start, or a broken pipe
            self._broken(str(exc))

    def _broken(self, why: str, *, kill: bool = True) -> None:
        """The child is gone (or its pipe): every call waiting fails (each is then computed
        in the daemon's process) and the next call starts a new child."""
        proc, conn, loop = self._proc, self._conn, self._loop
        self._proc = self._conn = None
        self._warm = None
        pending, self._pending, self._outbox = self._pending, {}, []
        if conn is not None:
            if loop is not None and not loop.is_closed():
                loop.remove_reader(conn.fileno())
            conn.close()
        if kill and proc is not None and proc.is_alive():
            proc.kill()
        for fut in pending.values():
            if not fut.done():
                fut.set_exception(ModelProcessError(why))

    async def aclose(self) -> None:
        proc, conn = self._proc, self._conn
        if conn is not None:
            with contextlib.suppress(OSError, ValueError):
                conn.send(None)
        self._broken("the model's process was closed", kill=False)  # it reads the None
        if proc is not None:
            await asyncio.to_thread(proc.join, 5)
            if proc.is_alive():
                proc.kill()
