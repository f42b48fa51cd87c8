"""Agency statistics per month for the dashboard, and the names of agencies from LAPOR!.

Working days to a real follow-up need the holiday calendar (Python), so they cannot be kept
by a trigger: the statistics loop recomputes the recent months every pass (default every
10 minutes) and every month once a day, into ``agency_monthly``. The dashboard reads only
that table, so the agency page costs the same with a thousand complaints or a million.

The agency is LAPOR!'s, as in ``satukanal report sla`` (``report.assignment``): a complaint
counts for the agency LAPOR! last disposed it to; one LAPOR! never disposed counts as
unassigned (agency ``""``), and our routing guess for it only adds to that agency's
``suggested``. An agency's days run from its own last disposition to the first substantive
response after it; ``reassignments`` counts LAPOR!'s moves of the complaints it ended with.

Per month and agency: received; followed up (a response of the agency's, KemenPANRB's
"ditindaklanjuti"); real follow-up (a substantive response since the agency's disposition);
done (``selesai``); answered and acknowledgement-only (every response since its disposition
boilerplate); closed at least once and reopened; closed without a real follow-up; SLA
breaches; reassignments; suggested; and a histogram of working days from the disposition
to the first real follow-up (bucket i: i working days; the last bucket: that many or more),
from which medians and 90th percentiles over any span of months are exact.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import structlog

from aggregator.errors import TransientError
from aggregator.followup.report import assignment, own_responses
from aggregator.followup.sla import WorkingCalendar
from aggregator.storage import dashboard as repo
from aggregator.storage import followup as followup_repo

log = structlog.get_logger(__name__)

HIST_BUCKETS = 61  # 0 … 59 working days, and 60 or more
RECENT_MONTHS = 3


def month_start(day: dt.date) -> dt.date:
    return day.replace(day=1)


def add_months(day: dt.date, n: int) -> dt.date:
    m = day.month - 1 + n
    return dt.date(day.year + m // 12, m % 12 + 1, 1)


def local_midnight(day: dt.date, tz: str) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), ZoneInfo(tz)).astimezone(dt.UTC)


@dataclass
class MonthAgg:
    agency_name: str | None = None
    received: int = 0
    followed_up: int = 0
    real_followup: int = 0
    done: int = 0
    answered: int = 0
    ack_only: int = 0
    closed_ever: int = 0
    reopened: int = 0
    closed_without_real_followup: int = 0
    breaches: int = 0
    reassignments: int = 0
    suggested: int = 0
    days_hist: list[int] = field(default_factory=lambda: [0] * HIST_BUCKETS)


def aggregate(
    rows: Iterable[repo.AgencyMonthRow],
    cal: WorkingCalendar,
    dispositions: Iterable[followup_repo.Disposition] = (),
    substantive: Iterable[followup_repo.SubstantiveTime] = (),
    responses: Iterable[followup_repo.ResponseTime] = (),
) -> dict[str, MonthAgg]:
    """Per agency (LAPOR!'s last disposition; ``""`` when none) the month's figures.
    ``dispositions``, ``substantive`` and ``responses`` are the complaints' LAPOR!
    dispositions, substantive response times and responses with their labels, each in time
    order (``report_dispositions``, ``report_substantive_times``,
    ``report_response_times``)."""
    disp: dict[Any, list[followup_repo.Disposition]] = defaultdict(list)
    for move in dispositions:
        disp[move.complaint_id].append(move)
    real_at: dict[Any, list[dt.datetime]] = defaultdict(list)
    for f in substantive:
        real_at[f.complaint_id].append(f.at)
    said: dict[Any, list[followup_repo.ResponseTime]] = defaultdict(list)
    for resp in responses:
        said[resp.complaint_id].append(resp)
    out: dict[str, MonthAgg] = defaultdict(MonthAgg)
    for r in rows:
        who = assignment(disp.get(r.id, []))
        a = out[who.agency_id]
        if who.agency_name:
            a.agency_name = who.agency_name
        elif not who.agency_id and r.agency_id:
            out[r.agency_id].suggested += 1  # our routing guess, never LAPOR!'s decision
        a.received += 1
        a.reassignments += who.reassignments
        # Answered by this agency: its responses since LAPOR! gave it the complaint.
        n, acks = own_responses(said.get(r.id, []), who.since)
        if n:
            a.followed_up += 1
            a.answered += 1
            if acks == n:
                a.ack_only += 1
        # The agency's own real follow-up: the first substantive answer since LAPOR! gave
        # it the complaint (an earlier agency's answer is not this one's).
        since = who.since
        first_real = next((t for t in real_at.get(r.id, []) if since is None or t >= since), None)
        if first_real is not None:
            a.real_followup += 1
            if since is not None:
                d = max(cal.working_days_between(since, first_real), 0)
                a.days_hist[min(d, HIST_BUCKETS - 1)] += 1
        if r.status == "selesai":
            a.done += 1
        if r.ever_closed:
            a.closed_ever += 1
            if r.reopen_count > 0:
                a.reopened += 1
        if r.closed_without_real_followup:
            a.closed_without_real_followup += 1
        a.breaches += r.breaches
    return out


def percentile(hist: Sequence[int], p: float) -> float | None:
    """The ``p`` quantile (0–1) of the working days a histogram holds (nearest rank)."""
    total = sum(hist)
    if not total:
        return None
    rank = max(1, math.ceil(p * total - 1e-9))
    seen = 0
    for days, n in enumerate(hist):
        seen += n
        if seen >= rank:
            return float(days)
    return float(len(hist) - 1)


def merge_hist(hists: Iterable[Sequence[int]]) -> list[int]:
    padded = [list(h[:HIST_BUCKETS]) + [0] * (HIST_BUCKETS - len(h)) for h in hists]
    return [sum(col) for col in zip(*padded, strict=True)] if padded else [0] * HIST_BUCKETS


async def refresh_months(
    pool: asyncpg.Pool,
    cal: WorkingCalendar,
    tz: str,
    first: dt.date,
    last: dt.date,
    now: dt.datetime,
) -> int:
    """Recompute months ``first`` … ``last`` (first days of months, local); rows written."""
    written = 0
    month = month_start(first)
    while month <= last:
        nxt = add_months(month, 1)
        async with pool.acquire() as conn:
            lo, hi = local_midnight(month, tz), local_midnight(nxt, tz)
            rows = await repo.agency_month_source(conn, lo, hi)
            aggs = aggregate(
                rows,
                cal,
                await followup_repo.report_dispositions(conn, lo, hi),
                await followup_repo.report_substantive_times(conn, lo, hi),
                await followup_repo.report_response_times(conn, lo, hi),
            )
            await repo.replace_agency_months(
                conn,
                month,
                nxt,
                [
                    (
                        month,
                        agency,
                        a.agency_name,
                        a.received,
                        a.followed_up,
                        a.real_followup,
                        a.done,
                        a.answered,
                        a.ack_only,
                        a.closed_ever,
                        a.reopened,
                        a.closed_without_real_followup,
                        a.breaches,
                        a.days_hist,
                        now,
                        a.reassignments,
                        a.suggested,
                    )
                    for agency, a in aggs.items()
                ],
            )
        written += len(aggs)
        month = nxt
    return written


async def refresh_agency_names(pool: asyncpg.Pool, port: Any) -> int:
    """Agency names from LAPOR!'s ``GET /agencies``, cached; 0 when the port has none."""
    agencies = await port.agencies()
    if not agencies:
        return 0
    async with pool.acquire() as conn:
        return await repo.store_agencies(conn, agencies)


class StatsLoop:
    """Keeps ``agency_monthly`` and ``lapor_agencies`` fresh for the dashboard."""

    name = "dashboard_stats"

    def __init__(
        self,
        services: Any,
        port: Any = None,
        *,
        interval_s: float = 600.0,
        full_every_s: float = 86_400.0,
        names_every_s: float = 86_400.0,
    ) -> None:
        self.services = services
        self.port = port
        self.interval_s = interval_s
        self.full_every_s = full_every_s
        self.names_every_s = names_every_s
        self._last_full: dt.datetime | None = None
        self._last_names: dt.datetime | None = None
        self._last_run: dt.datetime | None = None

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            self._last_run = None  # the wait below is the interval
            try:
                await self.run_once()
            except (OSError, asyncpg.PostgresError, TransientError) as exc:
                log.warning("dashboard_stats_failed", error=str(exc))
            try:
                await asyncio.wait_for(stop.wait(), timeout=self.interval_s)
            except TimeoutError:
                pass

    async def run_once(self) -> int:
        """Recompute when due (every ``interval_s``); rows written, 0 when not due — so a
        runner calling every loop until all are idle sees this one idle after one pass."""
        now: dt.datetime = self.services.clock()
        if self._last_run is not None and (now - self._last_run).total_seconds() < self.interval_s:
            return 0
        self._last_run = now
        settings = self.services.settings
        tz = settings.sla.timezone
        n = 0
        if self.port is not None and (
            self._last_names is None
            or (now - self._last_names).total_seconds() >= self.names_every_s
        ):
            try:
                n += await refresh_agency_names(self.services.pool, self.port)
                self._last_names = now
            except Exception as exc:
                log.warning("lapor_agencies_failed", error=f"{type(exc).__name__}: {exc}")
        today = now.astimezone(ZoneInfo(tz)).date()
        last = month_start(today)
        first = add_months(last, -(RECENT_MONTHS - 1))
        if self._last_full is None or (now - self._last_full).total_seconds() >= self.full_every_s:
            async with self.services.pool.acquire() as conn:
                oldest = await repo.oldest_complaint(conn)
            if oldest is not None:
                first = min(first, month_start(oldest.astimezone(ZoneInfo(tz)).date()))
            self._last_full = now
        n += await refresh_months(
            self.services.pool, WorkingCalendar(settings.sla), tz, first, last, now
        )
        return n
