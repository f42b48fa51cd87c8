"""Dashboard pages with pictures and the work lists (Bahasa Indonesia).

Overview: open incidents first, one health card per channel and for LAPOR! (state, last
success, items today, a 30-day sparkline), complaints per day by channel, the status funnel.
Agencies (OPD): names from LAPOR!, working days to a real follow-up (median, p90), share of
boilerplate answers, closed without real follow-up, reopen rate, breaches; a sortable
scorecard, charts and a month-by-month trend. Work lists: search and filters, SLA by due
date, quarantine with reasons explained. Every list and the KemenPANRB/Ombudsman indicators
export as CSV.

Agency users see only their agency (their code and its LAPOR! id); receipt codes and the
reporter search are for administrators only. Counts come from counters kept by triggers
and from ``agency_monthly`` (the statistics loop), never from counting complaints.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import aiohttp_jinja2
from aiohttp import web

from aggregator.followup.stats import add_months, merge_hist, month_start, percentile
from aggregator.health.alerts import KIND_LABELS
from aggregator.health.overview import health_overview
from aggregator.lapor.health import lapor_health
from aggregator.localtime import zone_label
from aggregator.receipts import hide_in_ref
from aggregator.storage import admin as admin_repo
from aggregator.storage import dashboard as repo
from aggregator.storage import replies as held_replies
from aggregator.web import charts
from aggregator.web.auth import agency_scope, requires
from aggregator.web.keys import IDENTITY, SERVICES
from aggregator.web.labels import CHANNEL_LABELS, LABEL_TEXT, STATUS_LABELS, label
from aggregator.web.reasons import explain
from schemas.events import Role

A, OP, U, G = Role.ADMIN, Role.OPERATOR, Role.AUDITOR, Role.AGENCY
routes = web.RouteTableDef()
PAGE = 50
EXPORT_MAX = 100_000

STAGES = ("received", "pushed", "verified", "assigned", "real_followup", "closed")
STAGE_LABELS = {
    "received": "Diterima",
    "pushed": "Terkirim ke LAPOR!",
    "verified": "Terverifikasi",
    "assigned": "Didisposisi ke OPD",
    "real_followup": "Tindak lanjut nyata",
    "closed": "Selesai",
    "out": "Keluar jalur (duplikat, ditolak, dihapus)",
}
SLA_STATES = {"open": "tenggat berjalan", "breached": "tenggat dilanggar", "none": "tanpa tenggat"}
SORT_KEYS = (
    "agency_name",
    "received",
    "median",
    "p90",
    "ack_share",
    "closed_wo",
    "reopen_rate",
    "breaches",
    "reassignments",
    "suggested",
)


# ---- scope and time -------------------------------------------------------------------------
def scope(request: web.Request) -> list[str] | None:
    """The agency ids this user may see; None for roles that see every agency."""
    return agency_scope(request)


def _tz(request: web.Request) -> str:
    return str(request.app[SERVICES].settings.sla.timezone)


def _today(request: web.Request) -> dt.date:
    return request.app[SERVICES].clock().astimezone(ZoneInfo(_tz(request))).date()


def _local_midnight(day: dt.date, tz: str) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), ZoneInfo(tz)).astimezone(dt.UTC)


def _csv(name: str, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> web.Response:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(header)
    for r in rows:
        w.writerow(["" if v is None else _cell(v) for v in r])
    # A BOM so spreadsheet programs in Indonesian locales read UTF-8 correctly.
    return web.Response(
        body=("\ufeff" + buf.getvalue()).encode(),
        content_type="text/csv",
        charset="utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
    )


def _cell(v: Any) -> str:
    s = str(v)
    # Spreadsheets run cells that start like a formula; a citizen's text must not.
    return "'" + s if s[:1] in ("=", "+", "-", "@", "\t", "\r") else s


# ---- overview -------------------------------------------------------------------------------
def _funnel(counts: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], int, dict[str, int]]:
    at: dict[str, int] = defaultdict(int)
    by_status: dict[str, int] = defaultdict(int)
    for r in counts:
        at[r["stage"]] += r["n"]
        by_status[r["status"]] += r["n"]
    out = []
    for i, stage in enumerate(STAGES):
        reached = sum(at[s] for s in STAGES[i:])
        out.append(
            {
                "stage": stage,
                "label": STAGE_LABELS[stage],
                "reached": reached,
                "stalled": at[stage] if stage != "closed" else 0,
                "here": at[stage],
            }
        )
    return out, at["out"], dict(by_status)


@routes.get("/dasbor")
@requires(A, OP, U, G)
@aiohttp_jinja2.template("overview.html")
async def overview(request: web.Request) -> dict[str, Any]:
    services = request.app[SERVICES]
    agencies = scope(request)
    tz = _tz(request)
    today = _today(request)
    days = [today - dt.timedelta(days=29 - i) for i in range(30)]
    async with services.pool.acquire() as conn:
        counts = await repo.counts(conn, agencies)
        series = await repo.daily(conn, agencies, _local_midnight(days[0], tz), tz)
        lapor = await lapor_health(conn)
        health = await health_overview(conn, services.settings, services.clock())
        status = await admin_repo.status_overview(conn, dead_limit=200)
        quarantined = await repo.quarantined_count(conn) if agencies is None else 0
        held = await held_replies.held_count(conn) if agencies is None else 0
    funnel, out, by_status = _funnel(counts)
    per_source: dict[str, dict[dt.date, int]] = defaultdict(lambda: defaultdict(int))
    per_channel: dict[str, dict[dt.date, int]] = defaultdict(lambda: defaultdict(int))
    pushed: dict[dt.date, int] = defaultdict(int)
    for r in series:
        per_source[r["source"]][r["day"]] += r["received"]
        per_channel[r["channel"]][r["day"]] += r["received"]
        pushed[r["day"]] += r["pushed"]
    components = health["components"]
    if agencies is not None:
        components = [c for c in components if c["kind"] != "source"]
    cards = []
    for c in components:
        if c["kind"] == "source":
            vals = [per_source[c["name"]][d] for d in days]
        elif c["kind"] == "lapor":
            vals = [pushed[d] for d in days]
        else:
            continue
        name = "LAPOR!" if c["kind"] == "lapor" else c["name"]
        cards.append(
            {
                **c,
                "title": name,
                "today": vals[-1],
                "total30": sum(vals),
                "spark": charts.sparkline(
                    vals, label=f"{name}: {sum(vals)} dalam 30 hari, {vals[-1]} hari ini"
                ),
            }
        )
    day_labels = [d.strftime("%d/%m") for d in days]
    chart = charts.line_chart(
        day_labels,
        [
            (label(CHANNEL_LABELS, ch), [per_channel[ch][d] for d in days])
            for ch in sorted(per_channel)
        ],
        label="Pengaduan per hari menurut kanal, 30 hari terakhir",
    )
    funnel_svg = charts.funnel(
        [(f["label"], f["reached"], f["stalled"]) for f in funnel],
        label="Alur status pengaduan: dari diterima sampai selesai",
    )
    dead = len(status["dead_jobs"]) if agencies is None else 0
    return {
        "identity": request[IDENTITY],
        "municipality": services.settings.municipality,
        "incidents": health["incidents"] if agencies is None else [],
        "incident_labels": KIND_LABELS,
        "cards": cards,
        "health": components,
        "chart": chart,
        "funnel": funnel,
        "funnel_svg": funnel_svg,
        "out": out,
        "by_status": by_status,
        "total": sum(by_status.values()),
        "backlog": status["backlog"] if agencies is None else None,
        "queue": status["queue"] if agencies is None else [],
        "dead": dead,
        "quarantined": quarantined,
        "held_replies": held,
        "lapor": lapor["breaker"],
        "zone": zone_label(tz),
    }


# ---- agencies -------------------------------------------------------------------------------
def _scorecard(
    monthly: list[dict[str, Any]], names: dict[str, str], configured: dict[str, str]
) -> list[dict[str, Any]]:
    by_agency: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in monthly:
        by_agency[r["agency_id"]].append(r)
    code_of = {v: k for k, v in configured.items()}
    rows = []
    for agency, months in by_agency.items():
        hist = merge_hist(m["days_hist"] for m in months)
        tot = {
            k: sum(m[k] for m in months)
            for k in (
                "received",
                "followed_up",
                "real_followup",
                "done",
                "answered",
                "ack_only",
                "closed_ever",
                "reopened",
                "closed_without_real_followup",
                "breaches",
                "reassignments",
                "suggested",
            )
        }
        name = names.get(agency) or next(
            (m["agency_name"] for m in months if m["agency_name"]), None
        )
        if not agency:
            name = "(belum didisposisi)"
        elif not name:
            name = code_of.get(agency) or f"OPD {agency}"
        rows.append(
            {
                "agency_id": agency,
                "agency_name": name,
                "code": code_of.get(agency),
                **tot,
                "median": percentile(hist, 0.5),
                "p90": percentile(hist, 0.9),
                "ack_share": tot["ack_only"] / tot["answered"] if tot["answered"] else None,
                "reopen_rate": tot["reopened"] / tot["closed_ever"] if tot["closed_ever"] else None,
                "closed_wo": tot["closed_without_real_followup"],
            }
        )
    return rows


def _sort(rows: list[dict[str, Any]], key: str, desc: bool) -> list[dict[str, Any]]:
    present = [r for r in rows if r[key] is not None]
    missing = [r for r in rows if r[key] is None]
    present.sort(key=lambda r: r[key].lower() if isinstance(r[key], str) else r[key], reverse=desc)
    return present + missing


async def _agency_data(request: web.Request, months_back: int) -> dict[str, Any]:
    services = request.app[SERVICES]
    agencies = scope(request)
    this_month = month_start(_today(request))
    start = add_months(this_month, -(months_back - 1))
    end = add_months(this_month, 1)
    async with services.pool.acquire() as conn:
        monthly = await repo.agency_monthly(conn, start, end, agencies)
        names = await repo.agency_names(conn)
        fetched = await repo.agencies_fetched_at(conn)
    rows = _scorecard(monthly, names, dict(services.settings.agencies))
    return {
        "monthly": monthly,
        "rows": rows,
        "start": start,
        "end": end,
        "names": names,
        "names_fetched_at": fetched,
        "computed_at": max((m["computed_at"] for m in monthly), default=None),
    }


def _months_param(request: web.Request) -> int:
    raw = request.query.get("bulan", "12")
    return int(raw) if raw.isdigit() and 1 <= int(raw) <= 36 else 12


@routes.get("/dasbor/opd")
@requires(A, OP, U, G)
@aiohttp_jinja2.template("agencies.html")
async def agencies_page(request: web.Request) -> dict[str, Any]:
    months = _months_param(request)
    data = await _agency_data(request, months)
    key = request.query.get("urut", "received")
    key = key if key in SORT_KEYS else "received"
    desc = request.query.get("arah", "turun") != "naik"
    rows = _sort(data["rows"], key, desc)
    ranked = _sort([r for r in data["rows"] if r["agency_id"]], "median", True)[:15]
    median_svg = charts.bar_chart(
        [
            (
                r["agency_name"],
                r["median"] or 0,
                f"median {r['median']:g}, p90 {r['p90']:g} hari kerja"
                if r["median"] is not None
                else "belum ada tindak lanjut nyata",
            )
            for r in ranked
        ],
        label="Median hari kerja sampai tindak lanjut nyata per OPD",
    )
    ack_rows = _sort([r for r in data["rows"] if r["agency_id"]], "ack_share", True)[:15]
    ack_svg = charts.bar_chart(
        [
            (
                r["agency_name"],
                (r["ack_share"] or 0) * 100,
                f"{(r['ack_share'] or 0) * 100:.0f}% basa-basi",
            )
            for r in ack_rows
        ],
        label="Porsi jawaban basa-basi per OPD",
        colour=charts.PALETTE[1],
    )
    month_list = []
    m = data["start"]
    while m < data["end"]:
        month_list.append(m)
        m = add_months(m, 1)
    per_month: dict[dt.date, list[dict[str, Any]]] = defaultdict(list)
    for r in data["monthly"]:
        per_month[r["month"]].append(r)
    trend_rows = []
    for mo in month_list:
        ms = per_month[mo]
        hist = merge_hist(r["days_hist"] for r in ms)
        trend_rows.append(
            {
                "month": mo,
                "received": sum(r["received"] for r in ms),
                "followed_up": sum(r["followed_up"] for r in ms),
                "real_followup": sum(r["real_followup"] for r in ms),
                "done": sum(r["done"] for r in ms),
                "breaches": sum(r["breaches"] for r in ms),
                "median": percentile(hist, 0.5),
                "p90": percentile(hist, 0.9),
            }
        )
    labels = [mo.strftime("%m/%Y") for mo in month_list]
    trend_svg = charts.line_chart(
        labels,
        [
            ("diterima", [t["received"] for t in trend_rows]),
            ("ditindaklanjuti", [t["followed_up"] for t in trend_rows]),
            ("tindak lanjut nyata", [t["real_followup"] for t in trend_rows]),
            ("selesai", [t["done"] for t in trend_rows]),
        ],
        label="Tren bulanan: diterima, ditindaklanjuti, tindak lanjut nyata, selesai",
    )
    days_svg = charts.line_chart(
        labels,
        [
            ("median", [t["median"] or 0 for t in trend_rows]),
            ("persentil 90", [t["p90"] or 0 for t in trend_rows]),
        ],
        label="Tren bulanan hari kerja sampai tindak lanjut nyata",
        y_unit=" hk",
        height=200,
    )
    return {
        "identity": request[IDENTITY],
        "rows": rows,
        "sort": key,
        "desc": desc,
        "months": months,
        "median_svg": median_svg,
        "ack_svg": ack_svg,
        "trend_svg": trend_svg,
        "days_svg": days_svg,
        "trend": trend_rows,
        "computed_at": data["computed_at"],
        "names_fetched_at": data["names_fetched_at"],
        "sort_keys": SORT_KEYS,
    }


AGENCY_CSV = (
    "agency_id",
    "agency_name",
    "received",
    "followed_up",
    "real_followup",
    "done",
    "median",
    "p90",
    "ack_share",
    "closed_wo",
    "reopen_rate",
    "breaches",
    "reassignments",
    "suggested",
)


@routes.get("/dasbor/opd.csv")
@requires(A, OP, U, G)
async def agencies_csv(request: web.Request) -> web.Response:
    data = await _agency_data(request, _months_param(request))
    return _csv(
        "kinerja-opd",
        [
            "id_opd",
            "nama_opd",
            "diterima",
            "ditindaklanjuti",
            "tindak_lanjut_nyata",
            "selesai",
            "median_hari_kerja",
            "p90_hari_kerja",
            "porsi_basa_basi",
            "ditutup_tanpa_tl_nyata",
            "tingkat_dibuka_kembali",
            "pelanggaran_tenggat",
            "dipindahkan_lapor",
            "usulan_rute_belum_didisposisi",
        ],
        (
            [r[k] if not isinstance(r[k], float) else round(r[k], 3) for k in AGENCY_CSV]
            for r in _sort(data["rows"], "agency_name", False)
        ),
    )


@routes.get("/dasbor/indikator.csv")
@requires(A, OP, U, G)
async def indicators_csv(request: web.Request) -> web.Response:
    """KemenPANRB / Ombudsman: complaints received, followed up and done per agency per
    month (the months of the agency statistics)."""
    data = await _agency_data(request, _months_param(request))
    names = {r["agency_id"]: r["agency_name"] for r in data["rows"]}
    return _csv(
        "indikator-kemenpanrb",
        ["bulan", "id_opd", "nama_opd", "pengaduan_diterima", "ditindaklanjuti", "selesai"],
        (
            [
                r["month"].strftime("%Y-%m"),
                r["agency_id"],
                names.get(r["agency_id"]),
                r["received"],
                r["followed_up"],
                r["done"],
            ]
            for r in data["monthly"]
        ),
    )


# ---- work lists -----------------------------------------------------------------------------
def _uuid_or_none(raw: str | None) -> uuid.UUID | None:
    try:
        return uuid.UUID(raw) if raw else None
    except ValueError:
        return None


def _filter(request: web.Request) -> tuple[repo.ComplaintFilter, dict[str, str]]:
    """The filter asked for, and the query parameters that were valid (for links)."""
    qs = request.query
    admin = request[IDENTITY]["role"] == Role.ADMIN.value
    kept: dict[str, str] = {}

    def take(name: str, allowed: Iterable[str] | None = None, limit: int = 200) -> str | None:
        v = (qs.get(name) or "").strip()[:limit]
        if not v or (allowed is not None and v not in allowed):
            return None
        kept[name] = v
        return v

    text = take("q")
    tracking = receipt = None
    if text and text.isdigit() and len(text) >= 5:
        tracking = text  # a LAPOR! Tracking ID is a number
    elif (
        text
        and admin
        and len(text) <= 40
        and text.replace("-", "").isalnum()
        and (any(ch.isdigit() for ch in text) and any(ch.isalpha() for ch in text))
    ):
        receipt = text  # looks like a receipt code; the text search still runs if none
    return repo.ComplaintFilter(
        status=take("status", STATUS_LABELS),
        channel=take("kanal", CHANNEL_LABELS),
        agency=take("opd", limit=40) if scope(request) is None else None,
        text=text if not (tracking or receipt) else None,
        tracking_id=tracking,
        receipt_code=receipt,
        cluster=_uuid_or_none(take("klaster")),
        label=take("label", LABEL_TEXT),
        sla=take("sla", SLA_STATES),
    ), kept


def _after(request: web.Request) -> tuple[dt.datetime, uuid.UUID] | None:
    raw = request.query.get("setelah", "")
    at, _, cid = raw.partition("_")
    try:
        return dt.datetime.fromisoformat(at), uuid.UUID(cid)
    except ValueError:
        return None


async def _search(
    request: web.Request, limit: int, after: tuple[dt.datetime, uuid.UUID] | None
) -> tuple[list[dict[str, Any]], dict[str, str], str | None]:
    services = request.app[SERVICES]
    f, kept = _filter(request)
    reporter = (request.query.get("pelapor") or "").strip()[:200]
    note = None
    async with services.pool.acquire() as conn:
        if reporter and request[IDENTITY]["role"] == Role.ADMIN.value:
            kept["pelapor"] = reporter
            ids = await repo.reporters_by_hash(
                conn,
                services.crypto.match_hash("email", reporter),
                services.crypto.match_hash("phone", reporter),
            )
            f = repo.ComplaintFilter(**{**f.__dict__, "reporter_ids": ids})
        items = await repo.worklist(conn, f, scope(request), after=after, limit=limit)
        if not items and f.receipt_code:
            # Not a receipt code after all: search it as text.
            f = repo.ComplaintFilter(**{**f.__dict__, "receipt_code": None, "text": kept.get("q")})
            items = await repo.worklist(conn, f, scope(request), after=after, limit=limit)
        elif f.receipt_code:
            note = "Ditemukan dengan kode tanda terima."
    return items, kept, note


@routes.get("/dasbor/pengaduan")
@requires(A, OP, U, G)
@aiohttp_jinja2.template("complaints.html")
async def complaints(request: web.Request) -> dict[str, Any]:
    items, kept, note = await _search(request, PAGE, _after(request))
    nxt = None
    if len(items) == PAGE:
        last = items[-1]
        cursor = f"{last['received_at'].isoformat()}_{last['id']}"
        nxt = "?" + urlencode({**kept, "setelah": cursor})
    return {
        "identity": request[IDENTITY],
        "items": items,
        "q": kept,
        "note": note,
        "statuses": list(STATUS_LABELS),
        "channels": list(CHANNEL_LABELS),
        "labels": list(LABEL_TEXT),
        "sla_states": SLA_STATES,
        "next": nxt,
        "export": "/dasbor/pengaduan.csv?" + urlencode(kept),
        "scoped": scope(request) is not None,
    }


COMPLAINT_CSV = (
    "received_at",
    "lapor_tracking_id",
    "channel",
    "source",
    "status",
    "agency_id",
    "agency_name",
    "title",
    "closed_without_real_followup",
    "first_real_followup_at",
)


def _local(value: dt.datetime | None, tz: str) -> str | None:
    if value is None:
        return None
    return f"{value.astimezone(ZoneInfo(tz)).strftime('%Y-%m-%d %H:%M:%S')} {zone_label(tz)}"


@routes.get("/dasbor/pengaduan.csv")
@requires(A, OP, U, G)
async def complaints_csv(request: web.Request) -> web.StreamResponse:
    """Every complaint the filter finds (at most EXPORT_MAX), streamed page by page."""
    tz = _tz(request)
    resp = web.StreamResponse(
        headers={
            "Content-Type": "text/csv; charset=utf-8",
            "Content-Disposition": 'attachment; filename="pengaduan.csv"',
        }
    )
    await resp.prepare(request)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(
        [
            "diterima",
            "tracking_id",
            "kanal",
            "sumber",
            "status",
            "id_opd",
            "nama_opd",
            "judul",
            "ditutup_tanpa_tl_nyata",
            "tindak_lanjut_nyata_pertama",
        ]
    )
    await resp.write(("\ufeff" + buf.getvalue()).encode())
    after = None
    sent = 0
    while sent < EXPORT_MAX:
        items, _, _ = await _search(request, 1000, after)
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\r\n")
        for c in items:
            w.writerow(
                [
                    _local(c["received_at"], tz),
                    c["lapor_tracking_id"],
                    c["channel"],
                    c["source"],
                    label(STATUS_LABELS, c["status"]),
                    c["agency_id"],
                    c["agency_name"],
                    _cell(c["title"] or ""),
                    "ya" if c["closed_without_real_followup"] else "tidak",
                    _local(c["first_real_followup_at"], tz),
                ]
            )
        await resp.write(buf.getvalue().encode())
        sent += len(items)
        if len(items) < 1000:
            break
        after = (items[-1]["received_at"], items[-1]["id"])
    await resp.write_eof()
    return resp


def _sla_after(request: web.Request) -> tuple[dt.datetime, uuid.UUID, str] | None:
    parts = request.query.get("setelah", "").split("_")
    if len(parts) != 3:
        return None
    try:
        return dt.datetime.fromisoformat(parts[0]), uuid.UUID(parts[1]), parts[2]
    except ValueError:
        return None


@routes.get("/dasbor/tenggat")
@requires(A, OP, U, G)
@aiohttp_jinja2.template("sla.html")
async def sla_page(request: web.Request) -> dict[str, Any]:
    services = request.app[SERVICES]
    async with services.pool.acquire() as conn:
        items = await repo.sla_list(conn, scope(request), after=_sla_after(request), limit=PAGE)
    nxt = None
    if len(items) == PAGE:
        last = items[-1]
        nxt = "?setelah=" + f"{last['due_at'].isoformat()}_{last['complaint_id']}_{last['clock']}"
    return {"identity": request[IDENTITY], "items": items, "next": nxt, "now": services.clock()}


@routes.get("/dasbor/tenggat.csv")
@requires(A, OP, U, G)
async def sla_csv(request: web.Request) -> web.Response:
    from aggregator.web.labels import SLA_CLOCK_LABELS

    tz = _tz(request)
    async with request.app[SERVICES].pool.acquire() as conn:
        items = await repo.sla_list(conn, scope(request), limit=EXPORT_MAX)
    return _csv(
        "tenggat",
        ["jatuh_tempo", "tenggat", "tracking_id", "judul", "status", "id_opd", "nama_opd", "mulai"],
        (
            [
                _local(r["due_at"], tz),
                label(SLA_CLOCK_LABELS, r["clock"]),
                r["lapor_tracking_id"],
                r["title"],
                label(STATUS_LABELS, r["status"]),
                r["agency_id"],
                r["agency_name"],
                _local(r["started_at"], tz),
            ]
            for r in items
        ),
    )


@routes.get("/dasbor/karantina")
@requires(A, OP)
@aiohttp_jinja2.template("quarantine.html")
async def quarantine(request: web.Request) -> dict[str, Any]:
    raw = request.query.get("sebelum", "")
    before = int(raw) if raw.isdigit() and len(raw) < 19 else None
    async with request.app[SERVICES].pool.acquire() as conn:
        items = await repo.quarantine_list(conn, before_id=before, limit=PAGE)
    for r in items:
        r["why"] = explain(r["reason"])
        r["source_ref"] = hide_in_ref(r["source_ref"])  # a receipt code in a ref stays secret
    nxt = f"?sebelum={items[-1]['id']}" if len(items) == PAGE else None
    return {
        "identity": request[IDENTITY],
        "items": items,
        "next": nxt,
        "message": request.query.get("pesan"),
    }


@routes.get("/dasbor/karantina.csv")
@requires(A, OP)
async def quarantine_csv(request: web.Request) -> web.Response:
    tz = _tz(request)
    async with request.app[SERVICES].pool.acquire() as conn:
        items = await repo.quarantine_list(conn, limit=EXPORT_MAX)

    def row(r: dict[str, Any]) -> list[Any]:
        why = explain(r["reason"])
        return [
            r["id"],
            r["source"],
            hide_in_ref(r["source_ref"]),
            _local(r["received_at"], tz),
            _local(r["ingested_at"], tz),
            why.code,
            why.text,
            why.hint,
            why.original,
            r["size"],
        ]

    return _csv(
        "karantina",
        [
            "id",
            "kanal",
            "referensi",
            "diterima",
            "masuk_sistem",
            "kode_alasan",
            "alasan",
            "saran",
            "alasan_asli",
            "ukuran_byte",
        ],
        (row(r) for r in items),
    )


@routes.get("/dasbor/antrian.csv")
@requires(A, OP)
async def jobs_csv(request: web.Request) -> web.Response:
    from aggregator.web.labels import JOB_LABELS

    tz = _tz(request)
    dead = await request.app[SERVICES].queue.dead_jobs(10_000)
    return _csv(
        "pekerjaan-gagal",
        ["id", "jenis", "pengaduan", "percobaan", "dibuat", "galat_terakhir"],
        (
            [
                j.id,
                label(JOB_LABELS, j.kind),
                j.complaint_id,
                j.attempts,
                _local(j.created_at, tz),
                j.last_error,
            ]
            for j in dead
        ),
    )
