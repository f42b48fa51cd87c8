"""Backfill: import a legacy archive through the same intake as live traffic, resumably.

``satukanal backfill SOURCE`` drives the source's own ``pull()`` from the cursor saved in
``backfill_runs`` and hands each batch to the core intake *inside one transaction together
with the new backfill cursor*, so a Ctrl-C or a crash loses at most the batch in flight and
the next run continues after the last committed one; ``(source, source_ref)`` makes a batch
that was committed but not yet recorded harmless.

A policy decides, per complaint, whether it is pushed to LAPOR! (a ``push`` job, as live) or
kept as local *history* (status ``history``, no job): by default only complaints still open
upstream and submitted within ``push_if_open_newer_than_days`` are pushed. Memory stays
bounded: the source reads by keyset pages, and at most ``[backfill] pages_in_flight`` pages
are read and not yet committed. Where the source's parse is pure (the form database), pages
are parsed, routed and sealed by ``[backfill] workers`` processes
(:mod:`aggregator.intake.backfill_prep`) and written here in source order.

Backfilled raw items carry ``meta.backfill`` so that ``satukanal report migration`` can
tell the archive from what still arrives on the old channel.

Complaints kept as history take the bulk path (:mod:`aggregator.intake.bulk`): planned in
Python while the previous batch is being written, then COPYed; everything else in the batch
goes through the general intake in the same transaction. Both paths store the same rows
(tests/forms/test_backfill_bulk.py holds them to it).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import time
from collections import Counter
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import asyncpg
import structlog

from aggregator.errors import ConfigError
from aggregator.intake.backfill_prep import (
    PagePool,
    Planner,
    Prepared,
    default_workers,
    parse_one,
    parses_anywhere,
    worker_setup,
)
from aggregator.intake.bulk import HistoryRow, write_history
from aggregator.storage import backfill as repo
from aggregator.storage import sources as sources_repo
from aggregator.storage.db import allow_long_statements
from connectors.base import Batch, RawItem, abilities
from schemas.complaint import ComplaintDraft, ComplaintStatus, Parsed
from schemas.events import JobLane

if TYPE_CHECKING:
    from aggregator.wiring.services import Services

log = structlog.get_logger(__name__)

Decision = Literal["push", "history"]
_T = TypeVar("_T")
_CLOSED_UPSTREAM = {
    ComplaintStatus.SELESAI,
    ComplaintStatus.ARSIP,
    ComplaintStatus.BUKAN_WEWENANG,
    ComplaintStatus.DIHAPUS,
    ComplaintStatus.HISTORY,
    ComplaintStatus.DUPLICATE,
}
_MAX_REASONS = 25


@dataclass(frozen=True)
class Policy:
    """What is pushed to LAPOR! and what is kept as local history."""

    push_if_open_newer_than_days: int | None = 90
    push_closed: bool = False

    @classmethod
    def from_options(cls, options: dict[str, Any], **override: Any) -> Policy:
        raw = dict(options.get("backfill") or {})
        raw.update({k: v for k, v in override.items() if v is not None})
        try:
            return cls(
                push_if_open_newer_than_days=raw.get("push_if_open_newer_than_days", 90),
                push_closed=bool(raw.get("push_closed", False)),
            )
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"backfill policy: {exc}") from exc

    def decide(self, draft: ComplaintDraft, now: dt.datetime) -> tuple[Decision, str]:
        closed = False
        if draft.legacy_status:
            try:
                closed = ComplaintStatus(draft.legacy_status) in _CLOSED_UPSTREAM
            except ValueError:
                closed = False
        if closed and not self.push_closed:
            return "history", "closed_upstream"
        days = self.push_if_open_newer_than_days
        if days is None:
            return "push", "policy_push_all"
        if days == 0:
            return "history", "policy_push_none"
        if draft.submitted_at is None:
            return "history", "date_unknown"
        if now - draft.submitted_at > dt.timedelta(days=days):
            return "history", f"older_than_{days}_days"
        return "push", "open_and_recent"


@dataclass
class Summary:
    source: str
    read: int = 0
    imported: int = 0  # complaints created (pushed + history + duplicates)
    pushed: int = 0  # push job queued
    history: int = 0
    duplicates: int = 0
    replies: int = 0
    ignored: int = 0
    quarantined: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    quarantine_reasons: Counter[str] = field(default_factory=Counter)
    decisions: Counter[str] = field(default_factory=Counter)
    dry_run: bool = False
    finished: bool = False
    resumed: bool = False
    elapsed_s: float = 0.0
    workers: int = 0  # processes that parsed and planned (0: the event loop's own)
    pages_in_flight_peak: int = 0  # most pages read and not yet committed, with workers

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            k: getattr(self, k)
            for k in (
                "read",
                "imported",
                "pushed",
                "history",
                "duplicates",
                "replies",
                "ignored",
                "quarantined",
            )
        }
        out["skipped"] = dict(self.skipped)
        out["quarantine_reasons"] = dict(self.quarantine_reasons.most_common(_MAX_REASONS))
        out["decisions"] = dict(self.decisions)
        return out

    @classmethod
    def from_json(cls, source: str, data: dict[str, Any] | None) -> Summary:
        s = cls(source)
        for k, v in (data or {}).items():
            if k in ("skipped", "quarantine_reasons", "decisions"):
                getattr(s, k).update(v)
            elif hasattr(s, k) and isinstance(v, int):
                setattr(s, k, v)
        return s


class _Progress:
    """A rich bar on a terminal, a plain line every few seconds otherwise."""

    def __init__(
        self, source: str, total: int | None, done: int, *, tty: bool | None = None, out: Any = None
    ) -> None:
        import sys

        self.out = out or sys.stderr
        self.tty = self.out.isatty() if tty is None else tty
        self.source, self.total, self.done = source, total, done
        self.started = time.monotonic()
        self.last_line = 0.0
        self._bar: Any = None
        if self.tty:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            self._bar = Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[rate]}"),
                TimeElapsedColumn(),
                TimeRemainingColumn(),
                console=Console(file=self.out),
            )
            self._bar.start()
            self._task = self._bar.add_task(
                f"backfill {source}", total=total, completed=done, rate=""
            )

    def advance(self, n: int, summary: Summary) -> None:
        self.done += n
        elapsed = max(time.monotonic() - self.started, 1e-6)
        rate = (
            f"{(summary.read - self._start_read) / elapsed:,.0f} rows/s"
            if hasattr(self, "_start_read")
            else ""
        )
        if self._bar is not None:
            self._bar.update(self._task, completed=self.done, rate=rate)
            return
        self._summary, self._rate = summary, rate
        now = time.monotonic()
        if now - self.last_line >= 2.0:
            self.last_line = now
            self._line()

    def _line(self) -> None:
        s = getattr(self, "_summary", None)
        if s is None:
            return
        of = f"/{self.total}" if self.total is not None else ""
        print(
            f"backfill {self.source}: {self.done}{of} rows read, {s.imported} imported, "
            f"{s.quarantined} quarantined {self._rate}",
            file=self.out,
            flush=True,
        )

    def start_at(self, summary: Summary) -> None:
        self._start_read = summary.read

    def stop(self) -> None:
        if self._bar is not None:
            self._bar.stop()
        elif self.last_line:
            self._line()  # where it ended, also when interrupted


class _CachedParse:
    """The source as intake sees it: ``parse`` answers from what the backfill already parsed
    (to apply the date range), so no item is parsed twice; an item planned for the bulk path
    and handed back by its write (a duplicate to link, a fallback) is parsed here."""

    def __init__(self, source: Any, parsed: dict[str, Parsed | Exception]) -> None:
        self._source = source
        self._parsed = parsed
        self.name, self.kind, self.cfg = source.name, source.kind, source.cfg

    def parse(self, item: RawItem) -> Parsed:
        p = self._parsed.get(item.source_ref)
        if p is None:
            p = self._parsed[item.source_ref] = parse_one(self._source, item)
        if isinstance(p, Exception):
            raise p
        return p


async def run_backfill(
    services: Services,
    source: Any,
    *,
    since: dt.date | None = None,
    until: dt.date | None = None,
    dry_run: bool = False,
    policy: Policy | None = None,
    progress: bool | None = None,
    out: Any = None,
    on_batch: Callable[[Summary], None] | None = None,
    bulk: bool = True,
    workers: int | None = None,
    pages_in_flight: int | None = None,
) -> Summary:
    """Import ``source``'s archive; return the run's summary (cumulative across resumes).
    ``bulk=False`` sends every item through the general intake path (the bulk path's
    reference: the two must store the same). ``workers``: processes that parse and plan
    (default ``[backfill] workers``, one per CPU; 0: all in this process);
    ``pages_in_flight``: pages read and not yet committed, at most (default
    ``[backfill] pages_in_flight``)."""
    if abilities(source).pulling is None:
        raise ConfigError(
            f"source {source.name!r} has no archive to read: its channel pushes "
            "to us (nothing to backfill)"
        )
    policy = policy or Policy.from_options(source.cfg.options)
    pool = services.pool
    now = services.clock()
    zone = _zone(services)
    lo = dt.datetime.combine(since, dt.time(), zone) if since else None
    hi = dt.datetime.combine(until + dt.timedelta(days=1), dt.time(), zone) if until else None
    intake = services.intake
    decisions: dict[int, tuple[Decision, str]] = {}

    def decide(d: ComplaintDraft) -> Decision:
        verdict = policy.decide(d, now)
        decisions[id(d)] = verdict
        return verdict[0]

    if dry_run:
        async with pool.acquire() as conn:
            row = await repo.get_run(conn, source.name)
        cursor = row.cursor if row and row.finished_at is None else None
        summary = Summary(source.name, dry_run=True)
    else:
        async with pool.acquire() as conn:
            run = await repo.start_run(conn, source.name, {})
        cursor = run.cursor
        summary = Summary.from_json(source.name, run.counts)
        summary.resumed = cursor is not None
    archive = abilities(source).backfill
    pull_cursor = archive.backfill_cursor(cursor) if archive is not None else cursor
    total = None
    if archive is not None:
        total = await archive.count_remaining(cursor)
        total = None if total is None else total + summary.read
    started = time.monotonic()
    last_cursor: dict[str, Any] | None = cursor
    # Read ahead only where the source says ack() does not interfere with pulling (an IMAP
    # session cannot take two commands at once; a read-only form DB can). There the next
    # batches are also parsed and planned while the current one is being written, so Python
    # and the two database servers work at the same time: in worker processes where the
    # source's parse is pure, else in this process between writes.
    ahead = 2 if archive is not None and archive.backfill_read_ahead else 0
    cfg = services.settings.backfill
    n_workers = default_workers(cfg.workers if workers is None else workers)
    if not (ahead and parses_anywhere(source)):
        n_workers = 0
    limit = pages_in_flight or cfg.pages_in_flight or 2 * max(1, n_workers)
    plan_bulk = bulk and not dry_run
    pages: PagePool | None = None
    if n_workers:
        setup = worker_setup(
            source,
            # Detached from this process's model child; its learned model is loaded (or
            # fitted) here, once, before the workers fork: no worker fits it again.
            intake.router,
            intake.crypto,
            services.settings.sla.timezone,
            policy,
            now,
            lo,
            hi,
            bulk=plan_bulk,
        )
        pages = PagePool(setup, n_workers, limit)
        steps: AsyncIterator[_Step] = _pooled(pages.steps(source.pull(pull_cursor)))
    else:
        planner = Planner(source, intake.router, intake.crypto, policy, now, lo, hi, bulk=plan_bulk)
        steps = _prefetch(
            _Preparer(planner).steps(_prefetch(source.pull(pull_cursor), depth=ahead)),
            depth=1 if ahead else 0,
        )
    summary.workers = n_workers
    log.info("backfill_started", source=source.name, workers=n_workers, pages_in_flight=limit)
    bar = _Progress(source.name, total, summary.read, tty=progress, out=out)
    bar.start_at(summary)
    try:
        async for step in steps:
            summary.read += len(step.batch.items)
            summary.skipped.update(step.skipped)
            if dry_run:
                _count_dry(summary, [step.parsed[i.source_ref] for i in step.kept], policy, now)
            else:
                await _ingest(services, intake, source, step, decide, decisions, summary)
                await source.ack(step.batch)
            last_cursor = step.batch.cursor
            bar.advance(len(step.batch.items), summary)
            if on_batch is not None:
                on_batch(summary)
        summary.finished = True
    except (asyncio.CancelledError, KeyboardInterrupt):
        log.warning("backfill_interrupted", source=source.name, read=summary.read)
        raise
    finally:
        bar.stop()
        summary.elapsed_s = time.monotonic() - started
        if pages is not None:
            # Closed here, not when collected: an interrupted run stops reading at once.
            aclose = getattr(steps, "aclose", None)
            if aclose is not None:
                with contextlib.suppress(Exception):
                    await aclose()
            summary.pages_in_flight_peak = pages.in_flight.peak
            pages.close()
    if not dry_run:
        async with pool.acquire() as conn, conn.transaction():
            await repo.finish_run(conn, source.name, summary.to_json())
            if since is None and until is None and last_cursor is not None:
                live = {k: v for k, v in last_cursor.items() if k != "backfill"}
                await sources_repo.set_cursor_if_empty(conn, source.name, source.kind, live)
                # Rows the backfill read that are still open are re-scanned like live ones.
                await repo.merge_open_rows(conn, source.name, live)
    log.info(
        "backfill_finished",
        source=source.name,
        dry_run=dry_run,
        read=summary.read,
        imported=summary.imported,
        pushed=summary.pushed,
        history=summary.history,
        quarantined=summary.quarantined,
    )
    return summary


async def _prefetch(batches: AsyncIterator[_T], depth: int) -> AsyncIterator[_T]:
    """Read the next batches from the old channel while the current one is being stored:
    the two databases' waits overlap. At most ``depth`` batches wait, so memory stays flat."""
    if depth <= 0:
        async for b in batches:
            yield b
        return
    queue: asyncio.Queue[_T | BaseException | None] = asyncio.Queue(maxsize=depth)

    async def produce() -> None:
        try:
            async for b in batches:
                await queue.put(b)
            await queue.put(None)
        except asyncio.CancelledError:
            raise
        except BaseException as exc:  # handed to the consumer, raised there
            await queue.put(exc)

    task = asyncio.create_task(produce())
    try:
        while True:
            got = await queue.get()
            if got is None:
                return
            if isinstance(got, BaseException):
                raise got
            yield got
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        aclose = getattr(batches, "aclose", None)
        if aclose is not None:
            with contextlib.suppress(Exception):
                await aclose()


@dataclass
class _Step:
    """One source batch, parsed, filtered by date and, where it can be, planned for the bulk
    path: ``history`` goes there, ``kept`` through the general intake."""

    batch: Batch
    parsed: dict[str, Parsed | Exception]
    kept: list[RawItem]
    history: list[HistoryRow]
    skipped: Counter[str]

    @classmethod
    def of(cls, batch: Batch, p: Prepared) -> _Step:
        return cls(batch, p.parsed, p.kept, p.history, p.skipped)


class _Preparer:
    """The CPU half of a backfill in the event loop's process (``workers = 0``, or a source
    whose parse needs the live source): a page in slices, yielding between them."""

    YIELD_EVERY = 100  # items between yields to the event loop, so writes keep flowing

    def __init__(self, planner: Planner) -> None:
        self.planner = planner

    async def steps(self, batches: AsyncIterator[Batch]) -> AsyncIterator[_Step]:
        async for batch in batches:
            yield await self.prepare(batch)

    async def prepare(self, batch: Batch) -> _Step:
        out = Prepared()
        items = batch.items
        for start in range(0, len(items), self.YIELD_EVERY):
            if start:
                await asyncio.sleep(0)
            out.extend(self.planner.prepare(items[start : start + self.YIELD_EVERY]))
        return _Step.of(batch, out)


async def _pooled(pages: AsyncGenerator[tuple[Batch, Prepared], None]) -> AsyncIterator[_Step]:
    try:
        async for batch, prepared in pages:
            yield _Step.of(batch, prepared)
    finally:
        await pages.aclose()  # stops reading ahead; pages not yet written are dropped


async def _ingest(
    services: Services,
    intake: Any,
    source: Any,
    step: _Step,
    decide: Callable[[ComplaintDraft], Decision],
    decisions: dict[int, tuple[Decision, str]],
    summary: Summary,
) -> None:
    proxy = _CachedParse(source, step.parsed)
    decisions.clear()
    general = list(step.kept)
    async with services.pool.acquire() as conn, conn.transaction():
        # A batch's bulk COPY and planning are long by nature on a large archive.
        await allow_long_statements(conn, services.settings.database.long_statement_timeout_s)
        if step.history:
            try:
                async with conn.transaction():
                    done = await write_history(conn, source, step.history)
            except asyncpg.PostgresError as exc:  # e.g. live intake took a row meanwhile
                log.warning("backfill_bulk_fell_back", source=source.name, error=str(exc)[:200])
                general += [r.item for r in step.history]
            else:
                n = len(done.written)
                summary.imported += n
                summary.history += n
                summary.decisions.update(f"history:{r.why}" for r in done.written)
                if done.held:
                    summary.skipped["already_imported"] += done.held
                general += [r.item for r in done.rerouted]
        if general:
            # cursor=None: intake keeps the *live* cursor as it is; ours goes to
            # backfill_runs in this same transaction.
            result = await intake.ingest(
                proxy,
                Batch(items=general, cursor=None),  # type: ignore[arg-type]
                decide=decide,
                conn=conn,
                lane=JobLane.BULK,  # never ahead of a live complaint's push or reply
            )
            summary.imported += result.complaints
            summary.history += result.history
            summary.duplicates += result.duplicates
            summary.pushed += result.complaints - result.history - result.duplicates
            summary.replies += result.replies
            summary.ignored += result.ignored
            summary.quarantined += result.quarantined
            if result.skipped:
                summary.skipped["already_imported"] += result.skipped
            summary.quarantine_reasons.update(result.reasons)
            for verdict, why in decisions.values():
                summary.decisions[f"{verdict}:{why}"] += 1
        await repo.save_progress(conn, source.name, step.batch.cursor, summary.to_json())


def _count_dry(summary: Summary, parsed: list[Any], policy: Policy, now: dt.datetime) -> None:
    from schemas.complaint import ReplyDraft

    for p in parsed:
        if isinstance(p, Exception):
            summary.quarantined += 1
            summary.quarantine_reasons[str(p)[:80]] += 1
        elif isinstance(p, ReplyDraft):
            summary.replies += 1
        elif not isinstance(p, ComplaintDraft):  # ignored, or an update of a known row
            summary.ignored += 1
        else:
            verdict, why = policy.decide(p, now)
            summary.imported += 1
            summary.decisions[f"{verdict}:{why}"] += 1
            if verdict == "push":
                summary.pushed += 1
            else:
                summary.history += 1


def _zone(services: Services) -> dt.tzinfo:
    from zoneinfo import ZoneInfo

    return ZoneInfo(services.settings.sla.timezone)


async def reset_backfill(services: Services, source: str) -> None:
    async with services.pool.acquire() as conn:
        await repo.delete_run(conn, source)


# -- satukanal report migration ---------------------------------------------------------


@dataclass
class SourceMigration:
    source: str
    kind: str
    sunset: bool
    configured: bool
    found: int = 0
    complaints: int = 0
    pushed: int = 0
    waiting: int = 0
    rejected: int = 0
    history: int = 0
    duplicates: int = 0
    quarantined: int = 0
    backfilled: int = 0
    live_recent: int = 0
    last_live_at: dt.datetime | None = None
    backfill_state: str = "never run"

    @property
    def still_arriving(self) -> bool:
        return self.live_recent > 0

    def verdict(self) -> str:
        if self.waiting or self.quarantined or self.rejected:
            return "not yet: items waiting or quarantined"
        if self.still_arriving:
            return "not yet: citizens still use this channel" + (
                " (sunset notices are being sent)" if self.sunset else " (consider sunset mode)"
            )
        if self.backfill_state.startswith("running"):
            return "not yet: backfill unfinished"
        return "ready to switch off"


async def migration_report(services: Services, *, recent_days: int = 30) -> list[SourceMigration]:
    settings = services.settings
    rows: dict[str, SourceMigration] = {
        s.name: SourceMigration(s.name, s.kind, s.sunset, True) for s in settings.sources
    }
    async with services.pool.acquire() as conn:
        raw, comp, runs = await repo.migration_counts(conn, recent_days)
    for r in raw:
        m = rows.setdefault(r.source, SourceMigration(r.source, "?", False, False))
        m.found, m.quarantined, m.backfilled = r.found, r.quarantined, r.backfilled
        m.live_recent, m.last_live_at = r.live_recent, r.last_live_at
    for c in comp:
        m = rows.setdefault(c.source, SourceMigration(c.source, "?", False, False))
        m.complaints, m.pushed, m.waiting = c.complaints, c.pushed, c.waiting
        m.rejected, m.history, m.duplicates = c.rejected, c.history, c.duplicates
    for run in runs:
        m = rows.setdefault(run.source, SourceMigration(run.source, "?", False, False))
        if run.finished_at is None:
            m.backfill_state = f"running/interrupted since {run.started_at:%Y-%m-%d %H:%M}"
        else:
            m.backfill_state = f"finished {run.finished_at:%Y-%m-%d %H:%M}"
    return [rows[k] for k in sorted(rows)]
