"""The CPU half of a backfill: parse, settle, apply the date range, decide, plan history.

:class:`Planner` turns one page of raw items into a :class:`Prepared` page: what the bulk
path writes (:class:`~aggregator.intake.bulk.HistoryRow`, sealed and with its JSON already
encoded) and what goes through the general intake. It touches no connection, so it can run
in another process: :class:`PagePool` runs it in a ``ProcessPoolExecutor`` sized to the
machine (``[backfill] workers``), one page per task, and hands the pages back *in source
order*, with at most ``pages_in_flight`` pages read from the source and not yet committed,
so memory stays bounded however far the workers could run ahead.

What a worker gets: the source's configuration (the worker builds its own, never-connected
source to parse with), the router with its fitted model, and the key material of the
process's :class:`~aggregator.crypto.Crypto`, all once, through the pool's initializer
(inherited by the fork on Linux, pickled to a spawned interpreter elsewhere); then each
page's raw items, pickled. Nothing of it is logged. A planned page comes back
through the same pipe: the rows for ``COPY`` with identities and originals already
encrypted, the raw items (their original bytes, which this process read in the first place)
and the parsed drafts of the items the general intake handles, which encrypts them as it
stores them; nothing is written to disk on the way.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import datetime as dt
import gc
import multiprocessing
import os
import signal
import stat
import sys
from collections import Counter
from collections.abc import AsyncGenerator, AsyncIterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import structlog

from aggregator.crypto import Crypto
from aggregator.errors import InvalidInput
from aggregator.intake.bulk import HistoryRow, SealCache, eligible, plan_history
from aggregator.intake.normalize import settle_draft
from aggregator.intake.pipeline import storable
from connectors.base import Batch, ConnectorContext, RawItem, load_source_class
from schemas.complaint import ComplaintDraft, Parsed

if TYPE_CHECKING:
    from aggregator.intake.routing import Router

log = structlog.get_logger(__name__)


class Deciding(Protocol):
    def decide(self, draft: ComplaintDraft, now: dt.datetime) -> tuple[str, str]: ...


@dataclass
class Prepared:
    """One page, parsed and planned. ``parsed`` holds every item that is *not* planned for
    the bulk path (those the general intake takes, and failures); a planned row the write
    hands back to the general path is parsed again there (see ``_CachedParse``)."""

    parsed: dict[str, Parsed | Exception] = field(default_factory=dict)
    kept: list[RawItem] = field(default_factory=list)
    history: list[HistoryRow] = field(default_factory=list)
    skipped: Counter[str] = field(default_factory=Counter)

    def extend(self, other: Prepared) -> None:
        self.parsed.update(other.parsed)
        self.kept += other.kept
        self.history += other.history
        self.skipped.update(other.skipped)


def parse_one(source: Any, item: RawItem) -> Parsed | Exception:
    """``source.parse`` as intake sees it: a draft settled (notes kept, site names dropped)
    once, so the policy and both write paths see the same object; a failure as a value."""
    try:
        parsed = source.parse(item)
        return settle_draft(parsed) if isinstance(parsed, ComplaintDraft) else parsed
    except InvalidInput as exc:
        return exc
    except Exception as exc:  # a parser bug quarantines the item, never the whole run
        return InvalidInput(f"parser failed: {type(exc).__name__}: {exc}")


def _when(p: Parsed) -> dt.datetime | None:
    if isinstance(p, ComplaintDraft):
        return p.submitted_at
    return getattr(p, "sent_at", None)


@dataclass
class _Tools:
    """What planning needs of intake: the router and the keys."""

    router: Router
    crypto: Crypto


class Planner:
    """Pure per-page work; the same in the event loop's process and in a worker."""

    def __init__(
        self,
        source: Any,
        router: Router,
        crypto: Crypto,
        policy: Deciding,
        now: dt.datetime,
        lo: dt.datetime | None,
        hi: dt.datetime | None,
        *,
        bulk: bool,
    ) -> None:
        self.source, self.policy, self.now = source, policy, now
        self.lo, self.hi, self.bulk = lo, hi, bulk
        self.tools = _Tools(router, crypto)
        self.seals = SealCache(crypto) if bulk else None

    def prepare(self, items: list[RawItem]) -> Prepared:
        lo, hi = self.lo, self.hi
        out = Prepared()
        bulk: list[tuple[RawItem, ComplaintDraft, str]] = []
        for item in items:
            p = parse_one(self.source, item)
            if (lo or hi) and not isinstance(p, Exception):
                when = _when(p)
                if when is None:
                    out.skipped["date_unknown_outside_range"] += 1
                    continue
                if (lo and when < lo) or (hi and when >= hi):
                    out.skipped["outside_date_range"] += 1
                    continue
            item = storable(
                RawItem(
                    item.source_ref,
                    item.payload,
                    item.received_at,
                    {**item.meta, "backfill": True},
                    item.content_type,
                )
            )
            if self.bulk and isinstance(p, ComplaintDraft) and eligible(p):
                verdict, why = self.policy.decide(p, self.now)
                if verdict == "history":
                    bulk.append((item, p, why))
                    out.parsed[item.source_ref] = p  # until planned
                    continue
            out.parsed[item.source_ref] = p
            out.kept.append(item)
        if bulk:
            assert self.seals is not None  # bulk rows are collected only with bulk on
            planned = plan_history(self.tools, self.seals, self.source, bulk)
            done = {r.item.source_ref for r in planned}
            # Empty after cleaning: the general path quarantines them with a reason.
            out.kept += [item for item, _, _ in bulk if item.source_ref not in done]
            for ref in done:
                del out.parsed[ref]
            out.history = planned
        return out


# -- the worker processes ----------------------------------------------------------------

_PLANNER: Planner | None = None


@dataclass(frozen=True)
class WorkerSetup:
    """Everything a worker needs, sent once through the pool's initializer (never logged:
    it carries key material)."""

    source_cfg: Any  # schemas.config.SourceConfig
    timezone: str
    router: Any  # aggregator.intake.routing.Router, detached, with its fitted model
    keys: dict[str, bytes] = field(repr=False)
    current_id: str = ""
    hmac_key: bytes = field(default=b"", repr=False)
    policy: Any = None
    now: dt.datetime | None = None
    lo: dt.datetime | None = None
    hi: dt.datetime | None = None
    bulk: bool = True
    parent_pid: int = 0


def _detach_from_parent(parent: int) -> None:
    """A forked worker holds copies of the parent's sockets (its PostgreSQL and form database
    connections): closing them here leaves the parent's connections as they are (a socket
    ends with its last descriptor) and means a worker can never keep a killed parent's
    transaction open. Then the worker asks to die with its parent, so a ``kill -9`` of the
    backfill leaves no worker behind."""
    with contextlib.suppress(OSError):
        for name in os.listdir("/proc/self/fd"):
            fd = int(name)
            with contextlib.suppress(OSError):
                if stat.S_ISSOCK(os.fstat(fd).st_mode):
                    os.close(fd)
    with contextlib.suppress(Exception):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)


_PR_SET_PDEATHSIG = 1


def _init_worker(setup: WorkerSetup) -> None:
    global _PLANNER
    if setup.parent_pid and sys.platform.startswith("linux"):
        _detach_from_parent(setup.parent_pid)
    cfg = setup.source_cfg
    # A source of its own, for parse() only: it never connects (parse is pure for the
    # sources that declare ``backfill_parse_anywhere``).
    source = load_source_class(cfg.kind)(
        cfg, ConnectorContext(source=cfg.name, timezone=setup.timezone)
    )
    crypto = Crypto(dict(setup.keys), setup.current_id, setup.hmac_key)
    assert setup.now is not None
    _PLANNER = Planner(
        source,
        setup.router,
        crypto,
        setup.policy,
        setup.now,
        setup.lo,
        setup.hi,
        bulk=setup.bulk,
    )


def _prepare_in_worker(items: list[RawItem]) -> Prepared:
    assert _PLANNER is not None, "worker not initialised"
    return _PLANNER.prepare(items)


def default_workers(configured: int | None) -> int:
    """``[backfill] workers``: unset → one per CPU this process may run on."""
    if configured is not None:
        return configured
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def _context() -> Any:
    """Workers are forked (Linux): they start at once, with the planning code already
    imported and the fitted model already in memory, shared copy-on-write with this
    process. They are forked when the pool is made, before the pool's own manager thread
    starts, from an event loop whose other threads are idle; a worker never touches the
    loop, the connections or the locks it inherits, and leaves with ``os._exit``. Elsewhere:
    ``spawn`` (a fresh interpreter that imports what it needs)."""
    if sys.platform.startswith("linux"):
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context("spawn")


def _ready() -> None:
    """A no-op task: submitted once at start so the workers are forked then."""


@dataclass
class InFlight:
    """Pages read from the source and not yet committed: now and at most."""

    now: int = 0
    peak: int = 0

    def up(self) -> None:
        self.now += 1
        self.peak = max(self.peak, self.now)

    def down(self) -> None:
        self.now -= 1


class PagePool:
    """Pages prepared by worker processes, handed back in the order they were read.

    ``steps(batches)`` reads a page only when fewer than ``limit`` pages are read and not yet
    committed (a page counts until the consumer asks for the next one, i.e. after it wrote
    that page with its checkpoint), submits it to a worker and yields ``(batch, prepared)``
    in source order. ``in_flight.peak`` tells how many pages were held at once."""

    def __init__(self, setup: WorkerSetup, workers: int, limit: int) -> None:
        self.workers = max(1, workers)
        self.limit = max(1, limit)
        self.in_flight = InFlight()
        # What exists now is never collected in the workers: frozen, it is left out of
        # their collections (which would touch, and so copy, every shared page) and out of
        # this process's while the pool runs (results arrive as many small objects).
        gc.freeze()
        self._pool = ProcessPoolExecutor(
            max_workers=self.workers,
            mp_context=_context(),
            initializer=_init_worker,
            initargs=(setup,),
        )
        self._pool.submit(_ready)  # fork now, while nothing else runs

    def worker_pids(self) -> list[int]:
        procs = getattr(self._pool, "_processes", None) or {}
        return list(procs)

    async def steps(
        self, batches: AsyncIterator[Batch]
    ) -> AsyncGenerator[tuple[Batch, Prepared], None]:
        loop = asyncio.get_running_loop()
        room = asyncio.Semaphore(self.limit)
        queue: asyncio.Queue[tuple[Batch, asyncio.Future[Prepared]] | BaseException | None] = (
            asyncio.Queue()
        )  # unbounded: the semaphore bounds it

        async def produce() -> None:
            try:
                it = aiter(batches)
                while True:
                    await room.acquire()
                    try:
                        batch = await anext(it)
                    except StopAsyncIteration:
                        room.release()
                        break
                    self.in_flight.up()
                    fut = loop.run_in_executor(self._pool, _prepare_in_worker, batch.items)
                    await queue.put((batch, fut))
                await queue.put(None)
            except asyncio.CancelledError:
                raise
            except BaseException as exc:  # raised in the consumer, in order
                await queue.put(exc)

        task = asyncio.create_task(produce())
        pending: list[asyncio.Future[Prepared]] = []
        try:
            while True:
                got = await queue.get()
                if got is None:
                    return
                if isinstance(got, BaseException):
                    raise got
                batch, fut = got
                pending.append(fut)
                prepared = await fut
                pending.remove(fut)
                yield batch, prepared
                # The consumer asked for the next page: this one is committed.
                self.in_flight.down()
                room.release()
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            while not queue.empty():  # submitted, never awaited
                left = queue.get_nowait()
                if isinstance(left, tuple):
                    pending.append(left[1])
            for f in pending:
                f.cancel()
            aclose = getattr(batches, "aclose", None)
            if aclose is not None:
                with contextlib.suppress(Exception):
                    await aclose()

    def close(self) -> None:
        """Stop the workers; a page still being prepared is dropped (it was never
        committed, so the next run reads it again)."""
        self._pool.shutdown(wait=True, cancel_futures=True)
        gc.unfreeze()


def worker_setup(
    source: Any,
    router: Router,
    crypto: Crypto,
    timezone: str,
    policy: Deciding,
    now: dt.datetime,
    lo: dt.datetime | None,
    hi: dt.datetime | None,
    *,
    bulk: bool,
) -> WorkerSetup:
    return WorkerSetup(
        source_cfg=source.cfg,
        timezone=timezone,
        router=router.detached(),
        keys=dict(crypto.keys),
        current_id=crypto.current_id,
        hmac_key=crypto.hmac_key,
        policy=policy,
        now=now,
        lo=lo,
        hi=hi,
        bulk=bulk,
        parent_pid=os.getpid(),
    )


def parses_anywhere(source: Any) -> bool:
    """Whether the source's ``parse`` is pure (needs only its configuration), so that a
    backfill may parse in worker processes."""
    return bool(getattr(source, "backfill_parse_anywhere", False))
