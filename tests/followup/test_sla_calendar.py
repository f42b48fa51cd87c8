"""Working days in the municipality's zone, and the clocks computed from history."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from aggregator.followup.sla import (
    ComplaintFacts,
    Happening,
    WorkingCalendar,
    evaluate,
    waiting_periods,
)
from schemas.config import SlaConfig

WIB = ZoneInfo("Asia/Jakarta")


def wib(y: int, m: int, d: int, h: int = 9, mi: int = 0) -> dt.datetime:
    return dt.datetime(y, m, d, h, mi, tzinfo=WIB)


def eod(y: int, m: int, d: int) -> dt.datetime:
    """End of a local day = local midnight after it."""
    return dt.datetime(y, m, d, tzinfo=WIB) + dt.timedelta(days=1)


def test_weekends_and_idul_fitri_cuti_bersama_2025() -> None:
    cal = WorkingCalendar()
    assert cal.is_working_day(dt.date(2025, 3, 27))  # Thursday before Nyepi
    assert not cal.is_working_day(dt.date(2025, 3, 28))  # cuti bersama Nyepi
    assert not cal.is_working_day(dt.date(2025, 3, 29))  # Saturday
    for day in (31,):
        assert not cal.is_working_day(dt.date(2025, 3, day))  # Idul Fitri
    for day in (1, 2, 3, 4, 7):
        assert not cal.is_working_day(dt.date(2025, 4, day)), day  # Idul Fitri + cuti bersama
    assert cal.is_working_day(dt.date(2025, 4, 8))
    assert cal.holiday_name(dt.date(2025, 4, 3))
    # A complaint on Thursday 27 March: three working days are 8, 9, 10 April.
    assert cal.add_working_days(wib(2025, 3, 27, 10), 3) == eod(2025, 4, 10)
    assert cal.working_days_between(wib(2025, 3, 27), wib(2025, 4, 10)) == 3


def test_plain_week_and_end_of_day_semantics() -> None:
    cal = WorkingCalendar()
    # Friday 6 June 2025 is Idul Adha; Monday 9 June cuti bersama. Use a plain week in July.
    assert cal.add_working_days(wib(2025, 7, 7, 23, 30), 5) == eod(2025, 7, 14)
    assert cal.add_working_days(wib(2025, 7, 12), 0) == eod(2025, 7, 14)  # Saturday → Monday
    assert cal.working_days_between(wib(2025, 7, 7, 8), wib(2025, 7, 7, 17)) == 0
    assert cal.working_days_between(wib(2025, 7, 11), wib(2025, 7, 14)) == 1
    assert cal.working_days_between(wib(2025, 7, 14), wib(2025, 7, 11)) == -1
    # Calendar days for the settlement clock.
    assert cal.add_days(wib(2025, 7, 1), 60) == eod(2025, 8, 30)


def test_time_zone_decides_the_day() -> None:
    # 18:30 UTC on Monday is 01:30 Tuesday in Jakarta: the clock starts from Tuesday.
    at = dt.datetime(2025, 7, 7, 18, 30, tzinfo=dt.UTC)
    assert WorkingCalendar().add_working_days(at, 1) == eod(2025, 7, 9)
    papua = WorkingCalendar(SlaConfig(timezone="Asia/Jayapura"))
    assert papua.local_date(dt.datetime(2025, 7, 7, 16, 0, tzinfo=dt.UTC)) == dt.date(2025, 7, 8)


def test_extra_holidays_and_working_days_from_config() -> None:
    cfg = SlaConfig(
        extra_holidays=[dt.date(2025, 7, 8)],
        extra_working_days=[dt.date(2025, 7, 12), dt.date(2025, 4, 7)],
    )
    cal = WorkingCalendar(cfg)
    assert not cal.is_working_day(dt.date(2025, 7, 8))  # a local holiday
    assert cal.is_working_day(dt.date(2025, 7, 12))  # a make-up Saturday
    assert cal.is_working_day(dt.date(2025, 4, 7))  # cuti bersama cancelled locally
    assert cal.add_working_days(wib(2025, 7, 7), 4) == eod(2025, 7, 12)


def _facts(
    *history: Happening,
    status: str = "diproses",
    waiting: bool = False,
    created: dt.datetime | None = None,
) -> ComplaintFacts:
    created = created or wib(2025, 7, 7)
    return ComplaintFacts(
        complaint_id="c",
        created_at=created,
        status=status,
        agency_id="45",
        waiting_on_reporter=waiting,
        status_at=created,
        history=history,
    )


def _by_name(states):
    return {s.clock: s for s in states}


def test_clocks_met_and_breached() -> None:
    cfg = SlaConfig()
    facts = _facts(
        Happening(wib(2025, 7, 8), "status", status="terverifikasi"),
        Happening(wib(2025, 7, 9), "disposed", agency_id="45"),
        Happening(wib(2025, 7, 10), "response", label="acknowledgement", agency_id="45"),
    )
    clocks = _by_name(evaluate(facts, wib(2025, 7, 20), cfg))
    assert clocks["verification"].met_at == wib(2025, 7, 8)
    assert clocks["verification"].breached_at is None
    fr = clocks["first_response"]
    assert fr.started_at == wib(2025, 7, 9)
    assert fr.due_at == eod(2025, 7, 16)
    assert fr.met_at is None  # an acknowledgement does not meet it
    assert fr.breached_at == eod(2025, 7, 16)
    assert fr.agency_id == "45"
    assert clocks["auto_close"].due_at == eod(2025, 7, 24)
    assert clocks["auto_close"].open
    assert clocks["settlement"].open

    later = (
        *facts.history,
        Happening(wib(2025, 7, 11), "response", label="substantive", agency_id="45"),
    )
    fr2 = _by_name(evaluate(_facts(*later), wib(2025, 7, 20), cfg))["first_response"]
    assert fr2.met_at == wib(2025, 7, 11) and fr2.breached_at is None


def test_clock_pauses_while_waiting_for_the_citizen() -> None:
    cfg = SlaConfig()
    asked = (
        Happening(wib(2025, 7, 8), "disposed", agency_id="45"),
        Happening(wib(2025, 7, 9), "info_requested"),
    )
    # Still waiting on 25 July: paused, no breach although 5 working days have passed.
    fr = _by_name(evaluate(_facts(*asked), wib(2025, 7, 25), cfg))["first_response"]
    assert fr.paused_at == wib(2025, 7, 9)
    assert fr.breached_at is None
    # The reporter answered on Monday 14 July (3 working days later): the deadline moves from
    # the end of 15 July by 3 working days to the end of 18 July.
    replied = (*asked, Happening(wib(2025, 7, 14), "reporter_replied"))
    fr = _by_name(evaluate(_facts(*replied), wib(2025, 7, 17), cfg))["first_response"]
    assert fr.paused_at is None
    assert fr.due_at == eod(2025, 7, 18)
    assert fr.paused_total == dt.timedelta(days=5)
    assert fr.breached_at is None
    fr = _by_name(evaluate(_facts(*replied), wib(2025, 7, 21), cfg))["first_response"]
    assert fr.breached_at == eod(2025, 7, 18)


def test_on_hold_status_pauses_and_closure_without_real_followup_breaches() -> None:
    facts = _facts(
        Happening(wib(2025, 7, 7, 10), "status", status="tertunda"),
        Happening(wib(2025, 7, 21), "status", status="terverifikasi"),
    )
    periods = waiting_periods(facts, wib(2025, 7, 22))
    assert periods == [(wib(2025, 7, 7, 10), wib(2025, 7, 21))]
    ver = _by_name(evaluate(facts, wib(2025, 7, 22), SlaConfig()))["verification"]
    assert ver.met_at == wib(2025, 7, 21) and ver.breached_at is None

    closed = _facts(
        Happening(wib(2025, 7, 8), "disposed", agency_id="45"),
        Happening(wib(2025, 7, 9), "response", label="acknowledgement"),
        Happening(wib(2025, 7, 10), "status", status="selesai"),
    )
    clocks = _by_name(evaluate(closed, wib(2025, 7, 11), SlaConfig()))
    assert clocks["first_response"].breached_at == wib(2025, 7, 10)
    assert clocks["auto_close"].met_at == wib(2025, 7, 10)
    assert clocks["settlement"].met_at == wib(2025, 7, 10)


def test_reporter_reply_holds_the_auto_close_clock() -> None:
    facts = _facts(
        Happening(wib(2025, 7, 8), "response", label="substantive"),
        Happening(wib(2025, 7, 9), "reporter_replied"),
    )
    ac = _by_name(evaluate(facts, wib(2025, 8, 30), SlaConfig()))["auto_close"]
    assert ac.paused_at == wib(2025, 7, 9) and ac.breached_at is None
