"""The agency on the scorecard is LAPOR!'s: a complaint counts for an agency only once LAPOR!
assigned it there (our routing guess is shown as a suggestion), an agency's time runs from
the last disposition to it, and reassignments are counted."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from aggregator.followup.loop import SlaLoop
from aggregator.followup.report import sla_report
from aggregator.followup.stats import StatsLoop, merge_hist, percentile
from aggregator.storage import dashboard as dashboard_repo
from aggregator.web.views import _scorecard

from .helpers import Clock, add_complaint, apply_events, event, make_services

WIB = ZoneInfo("Asia/Jakarta")
KEC = {"id": "60", "name": "Kecamatan Jekan Raya"}
PUPR = {"id": "45", "name": "Dinas PUPR"}
REAL = (
    "Lubang di Jl. RTA Milono km 5 telah ditambal oleh UPT Pemeliharaan Jalan pada "
    "14 Juli 2027 pukul 10.00."
)


def wib(d: int, h: int = 9) -> dt.datetime:
    return dt.datetime(2027, 7, d, h, tzinfo=WIB)


async def _story(services):  # type: ignore[no-untyped-def]
    """Two complaints our router sent to DLH (47): LAPOR! archives one unassigned, and
    moves the other from the kecamatan to PUPR, which answers for real."""
    # Our router guessed DLH (47); LAPOR! archived it before assigning anyone.
    guessed = await add_complaint(services, tracking_id="500", created_at=wib(5), agency_id="47")
    await apply_events(services, event("500", "status_changed", wib(6), status="arsip"))
    # Guessed DLH too, but LAPOR! gave it to the kecamatan, which passed it on to PUPR on
    # Monday 12 July; PUPR answered for real on Wednesday 14 July.
    moved = await add_complaint(services, tracking_id="501", created_at=wib(5), agency_id="47")
    await apply_events(
        services,
        event("501", "status_changed", wib(5, 10), status="terverifikasi"),
        event("501", "disposed", wib(6), agency=KEC),
        event("501", "status_changed", wib(6), status="terdisposisi", agency=KEC),
        event("501", "status_changed", wib(9), status="bukan_wewenang", agency=KEC),
        event("501", "disposed", wib(12), agency=PUPR),
        event("501", "status_changed", wib(12), status="terdisposisi", agency=PUPR),
        event("501", "response_posted", wib(14), agency=PUPR, text=REAL),
    )
    await SlaLoop(services).run_once()
    return guessed, moved


async def test_scorecard_counts_lapor_assignments_not_our_guess(pool) -> None:
    clock = Clock(wib(30))
    services = make_services(pool, clock)
    guessed, moved = await _story(services)
    rows = {
        r.agency_id: r
        for r in await sla_report(pool, services.settings.sla, wib(1, 0), wib(31, 23))
    }
    assert "60" not in rows  # the kecamatan does not keep a complaint LAPOR! moved on
    pupr = rows["45"]
    assert (pupr.complaints, pupr.reassignments) == (1, 1)
    # From its own disposition (12 July), not the first one to the kecamatan (6 July).
    assert pupr.median_working_days_to_substantive == 2.0
    dlh = rows["47"]
    assert (dlh.complaints, dlh.suggested_not_assigned, dlh.breaches) == (0, 1, 0)
    unassigned = rows["-"]
    assert unassigned.complaints == 1 and unassigned.agency_name == "(belum didisposisi)"
    async with pool.acquire() as conn:
        clocks = await conn.fetch(
            "SELECT complaint_id, clock, agency_id, started_at"
            " FROM sla_clocks WHERE complaint_id = ANY($1::uuid[])",
            [guessed, moved],
        )
    by = {(r["complaint_id"], r["clock"]): r for r in clocks}
    assert all(r["agency_id"] != "47" for r in clocks)
    assert by[(guessed, "settlement")]["agency_id"] is None
    assert by[(moved, "first_response")]["agency_id"] == "45"
    assert by[(moved, "first_response")]["started_at"] == wib(12)


async def test_agency_page_statistics_follow_the_same_rule(pool) -> None:
    """The dashboard's agency page reads ``agency_monthly`` (the statistics loop), not the
    report: the same rule must hold there."""
    clock = Clock(wib(30))
    services = make_services(pool, clock)
    await _story(services)
    assert await StatsLoop(services).run_once() > 0
    async with pool.acquire() as conn:
        monthly = await dashboard_repo.agency_monthly(
            conn, dt.date(2027, 7, 1), dt.date(2027, 8, 1), None
        )
    by = {m["agency_id"]: m for m in monthly}
    assert "60" not in by  # the kecamatan LAPOR! moved it away from
    assert (by["45"]["received"], by["45"]["reassignments"], by["45"]["real_followup"]) == (
        1,
        1,
        1,
    )
    # From PUPR's own disposition (Mon 12 July) to its answer (Wed 14 July).
    assert percentile(merge_hist([by["45"]["days_hist"]]), 0.5) == 2.0
    assert (by["47"]["received"], by["47"]["suggested"], by["47"]["breaches"]) == (0, 1, 0)
    assert by[""]["received"] == 1  # archived before LAPOR! assigned anyone
    rows = {r["agency_id"]: r for r in _scorecard(monthly, {}, {"DLH": "47"})}
    assert rows[""]["agency_name"] == "(belum didisposisi)"
    assert (rows["47"]["received"], rows["47"]["suggested"], rows["47"]["code"]) == (0, 1, "DLH")
    assert (rows["45"]["received"], rows["45"]["reassignments"], rows["45"]["median"]) == (
        1,
        1,
        2.0,
    )


async def test_an_agency_is_not_answered_by_the_one_before_it(pool) -> None:
    """The kecamatan answers with boilerplate, then LAPOR! moves the complaint to PUPR,
    which has not answered yet: PUPR is neither answered nor boilerplate-only for it."""
    clock = Clock(wib(30))
    services = make_services(pool, clock)
    await add_complaint(services, tracking_id="502", created_at=wib(5), agency_id="47")
    await apply_events(
        services,
        event("502", "disposed", wib(6), agency=KEC),
        event("502", "status_changed", wib(6), status="terdisposisi", agency=KEC),
        event(
            "502",
            "response_posted",
            wib(7),
            agency=KEC,
            text="Terima kasih atas laporan Anda, akan kami tindaklanjuti.",
        ),
        event("502", "status_changed", wib(8), status="bukan_wewenang", agency=KEC),
        event("502", "disposed", wib(12), agency=PUPR),
        event("502", "status_changed", wib(12), status="terdisposisi", agency=PUPR),
    )
    async with pool.acquire() as conn:
        labels = await conn.fetch("SELECT label::text FROM followups WHERE kind = 'response'")
    assert [r["label"] for r in labels] == ["acknowledgement"]
    await SlaLoop(services).run_once()
    rows = {
        r.agency_id: r
        for r in await sla_report(pool, services.settings.sla, wib(1, 0), wib(31, 23))
    }
    pupr = rows["45"]
    assert (pupr.complaints, pupr.answered, pupr.ack_only_share) == (1, 0, None)
    assert await StatsLoop(services).run_once() > 0
    async with pool.acquire() as conn:
        monthly = await dashboard_repo.agency_monthly(
            conn, dt.date(2027, 7, 1), dt.date(2027, 8, 1), None
        )
    by = {m["agency_id"]: m for m in monthly}
    assert (by["45"]["received"], by["45"]["followed_up"], by["45"]["ack_only"]) == (1, 0, 0)
