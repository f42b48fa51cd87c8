"""``satukanal report sla``: per agency, how real the follow-up was.

A complaint counts for the agency LAPOR! last disposed it to (never for our routing guess:
until LAPOR! assigns it, it counts as unassigned and our suggestion is shown as such, in
``suggested_not_assigned``), and its time from that last disposition; ``reassignments``
counts how often LAPOR! moved the agency's complaints elsewhere before them.

Columns: complaints received in the period; median working days from assignment to the
first substantive response; the share of answered complaints whose responses (the agency's
own, since its disposition) were all acknowledgements; SLA breaches; closures without a real
follow-up; the reopen rate (of complaints closed at least once, those reopened).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import itertools
import json
import statistics
from collections import defaultdict
from dataclasses import asdict, dataclass
from typing import Any

import asyncpg

from aggregator.followup.sla import WorkingCalendar
from aggregator.storage import followup as repo
from schemas.config import SlaConfig

UNASSIGNED = "(belum didisposisi)"


@dataclass
class AgencyRow:
    agency_id: str
    agency_name: str
    complaints: int
    median_working_days_to_substantive: float | None
    answered: int
    ack_only_share: float | None
    breaches: int
    closed_without_real_followup: int
    reopen_rate: float | None
    reassignments: int = 0  # dispositions that moved a complaint from one agency to another
    suggested_not_assigned: int = 0  # our suggestion, not (yet) LAPOR!'s decision


@dataclass(frozen=True)
class Assignment:
    agency_id: str  # "" when LAPOR! never disposed the complaint
    agency_name: str | None
    since: dt.datetime | None  # the last disposition to that agency
    reassignments: int


def assignment(dispositions: list[repo.Disposition]) -> Assignment:
    """The agency LAPOR! last assigned, since when (the first event of the last run of
    dispositions to it: A, B, A counts A from its second disposition) and the moves."""
    if not dispositions:
        return Assignment("", None, None, 0)
    moves = 0
    since = dispositions[0].at
    for prev, cur in itertools.pairwise(dispositions):
        if cur.agency_id != prev.agency_id:
            moves += 1
            since = cur.at
    last = dispositions[-1]
    return Assignment(str(last.agency_id), last.agency_name, since, moves)


def own_responses(responses: list[repo.ResponseTime], since: dt.datetime | None) -> tuple[int, int]:
    """(responses, acknowledgements among them) of the agency a complaint counts for: those
    since its last disposition (all of them when LAPOR! never disposed the complaint)."""
    own = [f for f in responses if since is None or f.at >= since]
    return len(own), sum(1 for f in own if f.label == "acknowledgement")


async def sla_report(
    pool: asyncpg.Pool, cfg: SlaConfig, start: dt.datetime, end: dt.datetime
) -> list[AgencyRow]:
    cal = WorkingCalendar(cfg)
    async with pool.acquire() as conn:
        rows = await repo.report_rows(conn, start, end)
        disp: dict[Any, list[repo.Disposition]] = defaultdict(list)
        for d in await repo.report_dispositions(conn, start, end):
            disp[d.complaint_id].append(d)
        substantive: dict[Any, list[dt.datetime]] = defaultdict(list)
        for f in await repo.report_substantive_times(conn, start, end):
            substantive[f.complaint_id].append(f.at)
        responses: dict[Any, list[repo.ResponseTime]] = defaultdict(list)
        for resp in await repo.report_response_times(conn, start, end):
            responses[resp.complaint_id].append(resp)
    by_agency: dict[str, list[tuple[repo.ReportRow, Assignment]]] = defaultdict(list)
    names: dict[str, str] = {}
    suggested: dict[str, int] = defaultdict(int)
    for r in rows:
        a = assignment(disp.get(r.id, []))
        by_agency[a.agency_id].append((r, a))
        if a.agency_name:
            names[a.agency_id] = a.agency_name
        if not a.agency_id and r.agency_id:
            suggested[r.agency_id] += 1  # our routing guess, shown as a suggestion only
    for agency in suggested:
        by_agency.setdefault(agency, [])
    out = []
    for agency, pairs in sorted(by_agency.items(), key=lambda kv: (kv[0] == "", kv[0])):
        items = [r for r, _a in pairs]
        days = []
        for r, a in pairs:
            after = [t for t in substantive.get(r.id, []) if a.since and t >= a.since]
            if a.since and after:
                days.append(cal.working_days_between(a.since, after[0]))
        own = {r.id: own_responses(responses.get(r.id, []), a.since) for r, a in pairs}
        answered = [r for r in items if own[r.id][0] > 0]
        closed = [r for r in items if r.ever_closed or r.reopen_count > 0]
        out.append(
            AgencyRow(
                agency_id=agency or "-",
                agency_name=names.get(agency, UNASSIGNED if not agency else agency),
                complaints=len(items),
                median_working_days_to_substantive=(
                    float(statistics.median([max(d, 0) for d in days])) if days else None
                ),
                answered=len(answered),
                ack_only_share=(
                    _ratio(
                        sum(1 for r in answered if own[r.id][1] == own[r.id][0]),
                        len(answered),
                    )
                ),
                breaches=sum(r.breaches for r in items),
                closed_without_real_followup=sum(
                    1 for r in items if r.closed_without_real_followup
                ),
                reopen_rate=_ratio(sum(1 for r in closed if r.reopen_count > 0), len(closed)),
                reassignments=sum(a.reassignments for _r, a in pairs),
                suggested_not_assigned=suggested.get(agency, 0) if agency else 0,
            )
        )
    return out


def _ratio(n: int, d: int) -> float | None:
    return round(n / d, 3) if d else None


FIELDS = [f for f in AgencyRow.__dataclass_fields__]


def to_json(rows: list[AgencyRow], start: dt.datetime, end: dt.datetime) -> str:
    return json.dumps(
        {"from": start.isoformat(), "to": end.isoformat(), "agencies": [asdict(r) for r in rows]},
        ensure_ascii=False,
        indent=2,
    )


def to_csv(rows: list[AgencyRow]) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=FIELDS, lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({k: ("" if v is None else v) for k, v in asdict(r).items()})
    return buf.getvalue()


def to_table(rows: list[AgencyRow], start: dt.datetime, end: dt.datetime) -> Any:
    from rich.table import Table

    last = end - dt.timedelta(days=1)  # ``end`` is exclusive
    t = Table(title=f"SLA per instansi, {start:%Y-%m-%d} s.d. {last:%Y-%m-%d}")
    for col, justify in (
        ("Instansi", "left"),
        ("Laporan", "right"),
        ("Median hari kerja ke tindak lanjut nyata", "right"),
        ("Hanya ucapan terima kasih", "right"),
        ("Pelanggaran SLA", "right"),
        ("Selesai tanpa tindak lanjut nyata", "right"),
        ("Dibuka kembali", "right"),
        ("Dialihkan LAPOR!", "right"),
        ("Usulan kami, belum didisposisi", "right"),
    ):
        t.add_column(col, justify=justify)  # type: ignore[arg-type]
    for r in rows:
        t.add_row(
            r.agency_name,
            str(r.complaints),
            _fmt(r.median_working_days_to_substantive),
            _pct(r.ack_only_share),
            str(r.breaches),
            str(r.closed_without_real_followup),
            _pct(r.reopen_rate),
            str(r.reassignments),
            str(r.suggested_not_assigned),
        )
    return t


def _fmt(v: float | None) -> str:
    return "-" if v is None else f"{v:g}"


def _pct(v: float | None) -> str:
    return "-" if v is None else f"{v * 100:.0f}%"
