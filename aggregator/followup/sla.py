"""Working-day calendar and SLA clock arithmetic, in the municipality's time zone.

A working day is Monday to Friday, minus Indonesian public holidays and *cuti bersama*
(the ``holidays`` package, categories public + government), minus the configured
``sla.extra_holidays``, plus the configured ``sla.extra_working_days`` (a Saturday made a
working day to compensate a bridge holiday). Cuti bersama changes yearly by SKB of three
ministers, which is why the override lists exist.

Deadlines are *end of day*: a limit of N working days from an event is the end of the N-th
working day after the event's local date (so an event at 16:59 on Monday does not lose
Monday's afternoon to the clock, and one at 08:00 gains nothing either). Instants are
aware datetimes; the database holds them in UTC.
"""

from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import dataclass
from functools import cached_property
from zoneinfo import ZoneInfo

import holidays

from schemas.config import SlaClock, SlaConfig
from schemas.events import EventKind

CLOCKS = ("verification", "first_response", "auto_close", "settlement")


class WorkingCalendar:
    def __init__(self, cfg: SlaConfig | None = None) -> None:
        self.cfg = cfg or SlaConfig()
        self.tz = ZoneInfo(self.cfg.timezone)
        self._extra_off = frozenset(self.cfg.extra_holidays)
        self._extra_on = frozenset(self.cfg.extra_working_days)

    @cached_property
    def _holidays(self) -> holidays.HolidayBase:
        # expand=True (the default) fills in each year on first look-up.
        return holidays.country_holidays("ID", categories=("public", "government"))

    def holiday_name(self, day: dt.date) -> str | None:
        if day in self._extra_on:
            return None
        if day in self._extra_off:
            return "libur (konfigurasi)"
        name: str | None = self._holidays.get(day)
        return name

    def is_working_day(self, day: dt.date) -> bool:
        if day in self._extra_on:
            return True
        if day.weekday() >= 5 or day in self._extra_off:
            return False
        return day not in self._holidays

    def local_date(self, at: dt.datetime) -> dt.date:
        return _aware(at).astimezone(self.tz).date()

    def end_of_day(self, day: dt.date) -> dt.datetime:
        """The instant the local day ends (local midnight after it), in UTC."""
        nxt = day + dt.timedelta(days=1)
        return dt.datetime.combine(nxt, dt.time(0), self.tz).astimezone(dt.UTC)

    def add_working_days(self, start: dt.datetime, n: int) -> dt.datetime:
        """End of the ``n``-th working day after ``start``'s local date (``n`` ≥ 0; 0 = the
        end of ``start``'s own day if it is a working day, else of the next one)."""
        day = self.local_date(start)
        if n == 0:
            while not self.is_working_day(day):
                day += dt.timedelta(days=1)
            return self.end_of_day(day)
        counted = 0
        while counted < n:
            day += dt.timedelta(days=1)
            if self.is_working_day(day):
                counted += 1
        return self.end_of_day(day)

    def add_days(self, start: dt.datetime, n: int) -> dt.datetime:
        """End of the ``n``-th calendar day after ``start``'s local date."""
        return self.end_of_day(self.local_date(start) + dt.timedelta(days=n))

    def working_days_between(self, start: dt.datetime, end: dt.datetime) -> int:
        """Working days after ``start``'s local date up to and including ``end``'s: a reply
        the same day is 0, the next working day 1. Negative when ``end`` is earlier."""
        a, b = self.local_date(start), self.local_date(end)
        if b < a:
            return -self.working_days_between(end, start)
        days = 0
        day = a
        while day < b:
            day += dt.timedelta(days=1)
            if self.is_working_day(day):
                days += 1
        return days

    def due(self, clock: SlaClock, start: dt.datetime) -> dt.datetime:
        if clock.unit == "days":
            return self.add_days(start, clock.limit)
        return self.add_working_days(start, clock.limit)

    def extend(
        self, clock: SlaClock, due_at: dt.datetime, paused_from: dt.datetime, paused_to: dt.datetime
    ) -> dt.datetime:
        """Move a deadline by a pause (waiting for the citizen): by the working days the
        pause covered (``working_days_between``) for a working-day clock, by its length for
        a calendar-day clock."""
        if paused_to <= paused_from:
            return due_at
        if clock.unit == "days":
            return due_at + (paused_to - paused_from)
        k = self.working_days_between(paused_from, paused_to)
        if k <= 0:
            return due_at
        return self.add_working_days(due_at - dt.timedelta(microseconds=1), k)


@dataclass(frozen=True)
class ClockState:
    """One clock as the loop computes it from the complaint's history."""

    clock: str
    started_at: dt.datetime
    due_at: dt.datetime
    paused_at: dt.datetime | None = None
    paused_total: dt.timedelta = dt.timedelta(0)
    met_at: dt.datetime | None = None
    breached_at: dt.datetime | None = None
    agency_id: str | None = None

    @property
    def open(self) -> bool:
        return self.met_at is None and self.breached_at is None


def clock_config(cfg: SlaConfig, name: str) -> SlaClock:
    clock: SlaClock = getattr(cfg, name)
    return clock


def _aware(at: dt.datetime) -> dt.datetime:
    return at if at.tzinfo is not None else at.replace(tzinfo=dt.UTC)


# -- clocks from a complaint's history -----------------------------------------------------

SUBSTANTIVE = frozenset({"substantive", "substantive_with_evidence"})
VERIFIED_STATUSES = frozenset(
    {
        "terverifikasi",
        "terdisposisi",
        "diproses",
        "ditindaklanjuti",
        "selesai",
        "arsip",
        "bukan_wewenang",
        "dihapus",
    }
)
# Closed by a decision that is not the agency's to answer: its clocks stop without a breach.
STOPPED_STATUSES = frozenset({"arsip", "bukan_wewenang", "dihapus"})


@dataclass(frozen=True)
class Happening:
    """One thing in a complaint's history that moves a clock."""

    at: dt.datetime
    kind: str  # status | disposed | response | info_requested | reporter_replied
    status: str | None = None
    agency_id: str | None = None
    label: str | None = None


@dataclass(frozen=True)
class ComplaintFacts:
    complaint_id: object
    created_at: dt.datetime | None  # LAPOR!'s created_at (the push)
    status: str
    agency_id: str | None
    waiting_on_reporter: bool
    status_at: dt.datetime
    history: tuple[Happening, ...]


def waiting_periods(
    facts: ComplaintFacts, now: dt.datetime
) -> list[tuple[dt.datetime, dt.datetime | None]]:
    """When the complaint waited for the citizen: on hold (``tertunda``) until the next
    status, and from a request for information until the reporter's reply."""
    periods: list[tuple[dt.datetime, dt.datetime | None]] = []
    hold_from: dt.datetime | None = None
    ask_from: dt.datetime | None = None
    for h in sorted(facts.history, key=lambda h: h.at):
        if h.kind == "status":
            if h.status == "tertunda" and hold_from is None:
                hold_from = h.at
            elif h.status != "tertunda" and hold_from is not None:
                periods.append((hold_from, h.at))
                hold_from = None
        elif h.kind == "info_requested" and ask_from is None:
            ask_from = h.at
        elif h.kind == EventKind.REPORTER_REPLIED and ask_from is not None:
            periods.append((ask_from, h.at))
            ask_from = None
    for open_from in (hold_from, ask_from):
        if open_from is not None:
            periods.append((open_from, None))
    if facts.waiting_on_reporter and not any(end is None for _, end in periods):
        periods.append((facts.status_at, None))
    return _merge(periods, now)


def _merge(
    periods: list[tuple[dt.datetime, dt.datetime | None]], now: dt.datetime
) -> list[tuple[dt.datetime, dt.datetime | None]]:
    out: list[tuple[dt.datetime, dt.datetime | None]] = []
    for start, end in sorted(periods, key=lambda p: p[0]):
        if out:
            last_start, last_end = out[-1]
            if last_end is None or start <= last_end:
                merged = None if last_end is None or end is None else max(last_end, end)
                out[-1] = (last_start, merged)
                continue
        out.append((start, end))
    return [(s, e) for s, e in out if s <= now]


def run_clock(
    cal: WorkingCalendar,
    clock: SlaClock,
    name: str,
    start: dt.datetime,
    met_at: dt.datetime | None,
    pauses: list[tuple[dt.datetime, dt.datetime | None]],
    now: dt.datetime,
    agency_id: str | None,
) -> ClockState:
    """A clock from ``start`` to ``met_at`` (if reached), stretched by the pauses that fell
    inside it; breached at its deadline if it was neither met nor paused by then."""
    due = cal.due(clock, start)
    total = dt.timedelta(0)
    paused_at: dt.datetime | None = None
    stop = met_at or now
    for p_start, p_end in pauses:
        if p_end is not None and p_end <= start:
            continue
        if p_start >= stop or p_start >= due:
            continue
        p_from = max(p_start, start)
        if p_end is None or p_end > stop:
            if met_at is None:
                # Still waiting for the citizen: no breach meanwhile. ``paused_total`` counts
                # finished pauses only, so a pass that changes nothing writes nothing.
                paused_at = p_from
            else:
                total += stop - p_from
                due = cal.extend(clock, due, p_from, stop)
            break
        total += p_end - p_from
        due = cal.extend(clock, due, p_from, p_end)
    breached: dt.datetime | None = None
    if met_at is not None:
        breached = due if met_at > due else None
    elif paused_at is None and now > due:
        breached = due
    return ClockState(
        clock=name,
        started_at=start,
        due_at=due,
        paused_at=paused_at,
        paused_total=total,
        met_at=met_at,
        breached_at=breached,
        agency_id=agency_id,
    )


def evaluate(
    facts: ComplaintFacts, now: dt.datetime, cfg: SlaConfig, cal: WorkingCalendar | None = None
) -> list[ClockState]:
    """Every clock that has started for this complaint, as of ``now``."""
    cal = cal or WorkingCalendar(cfg)
    if facts.created_at is None:
        return []
    hist = sorted(facts.history, key=lambda h: h.at)
    pauses = waiting_periods(facts, now)
    stopped_at = next(
        (h.at for h in hist if h.kind == "status" and h.status in STOPPED_STATUSES), None
    )
    closed_at = next((h.at for h in hist if h.kind == "status" and h.status == "selesai"), None)
    out: list[ClockState] = []

    verified_at = next(
        (
            h.at
            for h in hist
            if (h.kind == "status" and h.status in VERIFIED_STATUSES) or h.kind == "disposed"
        ),
        None,
    )
    out.append(
        run_clock(
            cal, cfg.verification, "verification", facts.created_at, verified_at, pauses, now, None
        )
    )

    disposed = [
        h
        for h in hist
        if h.kind == "disposed" or (h.kind == "status" and h.status == "terdisposisi")
    ]
    assigned = None  # the agency LAPOR! disposed it to last; never our routing guess
    if disposed:
        # An agency's time runs from the last disposition to it (A, B, A: A's second).
        agency = next((h.agency_id for h in reversed(disposed) if h.agency_id), None)
        assigned = agency
        start = disposed[0].at
        for prev, cur in itertools.pairwise(disposed):
            if cur.agency_id and prev.agency_id and cur.agency_id != prev.agency_id:
                start = cur.at
        met = next(
            (
                h.at
                for h in hist
                if h.kind == "response" and h.label in SUBSTANTIVE and h.at >= start
            ),
            None,
        )
        if met is None and stopped_at is not None and stopped_at >= start:
            met = stopped_at
        out.append(
            run_clock(cal, cfg.first_response, "first_response", start, met, pauses, now, agency)
        )
        if met is None and closed_at is not None and closed_at >= start:
            # Closed upstream with no real follow-up: the clock can no longer be met.
            state = out[-1]
            out[-1] = ClockState(
                clock=state.clock,
                started_at=state.started_at,
                due_at=state.due_at,
                paused_total=state.paused_total,
                breached_at=min(state.breached_at or closed_at, closed_at),
                agency_id=state.agency_id,
            )

    responses = [h for h in hist if h.kind == "response"]
    if responses:
        last = responses[-1]
        replied = next(
            (h.at for h in hist if h.kind == EventKind.REPORTER_REPLIED and h.at > last.at), None
        )
        end = next(
            (
                h.at
                for h in hist
                if h.kind == "status"
                and h.at >= last.at
                and h.status in ("selesai", *STOPPED_STATUSES)
            ),
            None,
        )
        # A reply from the citizen keeps the report open (LAPOR! rule): the auto-close clock
        # waits for the agency's next follow-up.
        own_pauses: list[tuple[dt.datetime, dt.datetime | None]] = (
            [(replied, None)] if replied is not None and end is None else []
        )
        out.append(
            run_clock(
                cal,
                cfg.auto_close,
                "auto_close",
                last.at,
                end,
                own_pauses,
                now,
                last.agency_id or assigned,
            )
        )

    settled = closed_at or stopped_at
    out.append(
        run_clock(
            cal, cfg.settlement, "settlement", facts.created_at, settled, pauses, now, assigned
        )
    )
    return out
