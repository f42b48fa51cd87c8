"""The SLA loop over real complaints and LAPOR! events; the SLA report and the CLI."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path
from zoneinfo import ZoneInfo

from aggregator.followup.loop import BREACHES, SlaLoop
from aggregator.followup.report import sla_report
from schemas.complaint import Reporter

from .helpers import Clock, RecordingSink, add_complaint, apply_events, event, make_services

WIB = ZoneInfo("Asia/Jakarta")
PUPR = {"id": "45", "name": "Dinas PUPR"}
DLH = {"id": "46", "name": "Dinas Lingkungan Hidup"}
ROOT = Path(__file__).resolve().parents[2]


def wib(d: int, h: int = 9, month: int = 7) -> dt.datetime:
    return dt.datetime(2027, month, d, h, tzinfo=WIB)


ACK = "Terima kasih atas laporan Anda, akan segera kami tindaklanjuti sesuai prosedur."
REAL = "Lubang di Jl. RTA Milono km 5 telah ditambal oleh UPT Pemeliharaan Jalan pada 8 Juli 2027."


async def _scenario(pool, clock):
    services = make_services(
        pool,
        clock,
        sources=[{"name": "mail", "kind": "imap"}],
        sla={"agency_contacts": {"45": "pengaduan.pupr@kota.example"}},
    )
    ids = {}
    ids["a"] = await add_complaint(
        services, tracking_id="100", created_at=wib(5), reporter=Reporter(email="a@example.org")
    )
    await apply_events(
        services,
        event("100", "status_changed", wib(6), status="terverifikasi"),
        event("100", "disposed", wib(6, 10), agency=PUPR),
        event("100", "status_changed", wib(6, 10), status="terdisposisi", agency=PUPR),
        event("100", "response_posted", wib(7), agency=PUPR, text=ACK),
    )
    ids["c"] = await add_complaint(services, tracking_id="300", created_at=wib(5))
    await apply_events(
        services,
        event("300", "status_changed", wib(5, 10), status="terverifikasi"),
        event("300", "status_changed", wib(5, 11), status="terdisposisi", agency=PUPR),
        event("300", "response_posted", wib(6), agency=PUPR, text=ACK),
        event("300", "status_changed", wib(7), status="selesai"),
    )
    ids["d"] = await add_complaint(services, tracking_id="400", created_at=wib(5))
    await apply_events(
        services,
        event("400", "status_changed", wib(6), status="terdisposisi", agency=PUPR),
        event("400", "info_requested", wib(7), agency=PUPR, text="Mohon kirim foto lokasi."),
    )
    ids["b"] = await add_complaint(services, tracking_id="200", created_at=wib(5))
    await apply_events(
        services,
        event("200", "status_changed", wib(6), status="terdisposisi", agency=DLH),
        event("200", "response_posted", wib(8), agency=DLH, text=REAL),
        event("200", "status_changed", wib(9), status="selesai"),
        event("200", "status_changed", wib(12), status="diproses"),
        event("200", "status_changed", wib(13), status="selesai"),
    )
    return services, ids


def _breaches(agency: str, clock: str) -> float:
    return BREACHES.labels(agency=agency, clock=clock)._value.get()


async def test_loop_breaches_flags_and_mails_the_agency_once(pool) -> None:
    clock = Clock(wib(19))
    services, ids = await _scenario(pool, clock)
    sink = RecordingSink()
    loop = SlaLoop(services, {"mail": sink})
    seen = []
    loop.on_breach(lambda state, cid: seen.append((cid, state.clock)))
    before = _breaches("45", "first_response")
    assert await loop.run_once() > 0

    async with pool.acquire() as conn:
        clocks = {
            (r["complaint_id"], r["clock"]): r for r in await conn.fetch("SELECT * FROM sla_clocks")
        }
        breach_events = await conn.fetch(
            "SELECT complaint_id, data, at FROM events WHERE kind = 'sla_breached'"
        )
        flagged = await conn.fetch("SELECT id FROM complaints WHERE closed_without_real_followup")
        flag_events = await conn.fetch(
            "SELECT complaint_id FROM events WHERE kind = 'closed_without_real_followup'"
        )
        reopen = await conn.fetchval("SELECT reopen_count FROM complaints WHERE id = $1", ids["b"])
    a_fr = clocks[(ids["a"], "first_response")]
    assert a_fr["started_at"] == wib(6, 10)
    assert a_fr["due_at"] == dt.datetime(2027, 7, 14, tzinfo=WIB)  # end of Tue 13 July
    assert a_fr["breached_at"] == a_fr["due_at"] and a_fr["met_at"] is None
    assert clocks[(ids["a"], "verification")]["met_at"] == wib(6)
    assert clocks[(ids["b"], "first_response")]["met_at"] == wib(8)
    assert clocks[(ids["b"], "first_response")]["breached_at"] is None
    d_fr = clocks[(ids["d"], "first_response")]
    assert d_fr["paused_at"] == wib(7) and d_fr["breached_at"] is None
    assert clocks[(ids["c"], "first_response")]["breached_at"] == wib(7)

    assert sorted((e["complaint_id"], e["data"]["clock"]) for e in breach_events) == sorted(
        [(ids["a"], "first_response"), (ids["c"], "first_response")]
    )
    assert all("regulation" in e["data"] for e in breach_events)
    assert [r["id"] for r in flagged] == [ids["c"]]
    assert [r["complaint_id"] for r in flag_events] == [ids["c"]]
    assert reopen == 1
    assert _breaches("45", "first_response") == before + 2
    assert sorted(seen) == sorted([(ids["a"], "first_response"), (ids["c"], "first_response")])

    assert len(sink.sent) == 2
    origin, msg = sink.sent[0]
    assert origin.address == "pengaduan.pupr@kota.example" and msg.kind == "sla_breach"
    assert "terlampaui" in msg.subject and "PermenPANRB" in msg.text

    # A second pass an hour later changes nothing and tells nobody again.
    clock.now = wib(19, 10)
    assert await loop.run_once() == 0
    assert len(sink.sent) == 2
    assert _breaches("45", "first_response") == before + 2
    async with pool.acquire() as conn:
        n = await conn.fetchval("SELECT count(*) FROM events WHERE kind = 'sla_breached'")
    assert n == 2


async def test_citizen_reply_resumes_a_paused_clock(pool) -> None:
    clock = Clock(wib(19))
    services, ids = await _scenario(pool, clock)
    loop = SlaLoop(services)
    await loop.run_once()
    # The reporter answers on Tuesday 20 July; the clock resumes with its deadline moved.
    async with pool.acquire() as conn:
        await conn.execute(
            "INSERT INTO reporter_replies (id, complaint_id, channel, text, sent_at)"
            " VALUES (gen_random_uuid(), $1, 'sms', 'Fotonya sudah saya kirim', $2)",
            ids["d"],
            wib(20),
        )
        await conn.execute(
            "UPDATE complaints SET waiting_on_reporter = false WHERE id = $1", ids["d"]
        )
    clock.now = wib(21)
    await loop.run_once()
    async with pool.acquire() as conn:
        fr = await conn.fetchrow(
            "SELECT * FROM sla_clocks WHERE complaint_id = $1 AND clock = 'first_response'",
            ids["d"],
        )
    # due: end of 13 July + the 9 working days waited (8..20 July) = end of 26 July
    assert fr["paused_at"] is None
    assert fr["due_at"] == dt.datetime(2027, 7, 27, tzinfo=WIB)
    assert fr["breached_at"] is None


async def test_report_per_agency(pool) -> None:
    clock = Clock(wib(19))
    services, _ids = await _scenario(pool, clock)
    await SlaLoop(services).run_once()
    rows = await sla_report(pool, services.settings.sla, wib(1, 0), wib(31, 23))
    by = {r.agency_id: r for r in rows}
    pupr, dlh = by["45"], by["46"]
    assert (
        pupr.complaints,
        pupr.answered,
        pupr.ack_only_share,
        pupr.breaches,
        pupr.closed_without_real_followup,
        pupr.reopen_rate,
    ) == (3, 2, 1.0, 2, 1, 0.0)
    assert pupr.median_working_days_to_substantive is None
    assert (
        dlh.complaints,
        dlh.median_working_days_to_substantive,
        dlh.ack_only_share,
        dlh.breaches,
        dlh.closed_without_real_followup,
        dlh.reopen_rate,
    ) == (1, 2.0, 0.0, 0, 0, 1.0)
    assert dlh.agency_name == "Dinas Lingkungan Hidup"


def _cli(*args: str, stdin: str = "", env_config: Path | None = None):
    env = {**os.environ, "COLUMNS": "200"}
    cmd = [sys.executable, "-m", "aggregator"]
    if env_config is not None:
        cmd += ["--config", str(env_config)]
    return subprocess.run(
        [*cmd, *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        check=False,
        env=env,
    )


async def test_report_sla_command_formats(pool, db_dsn, tmp_path) -> None:
    clock = Clock(wib(19))
    services, _ids = await _scenario(pool, clock)
    await SlaLoop(services).run_once()
    cfg = tmp_path / "satukanal.toml"
    cfg.write_text(f'demo = true\ndata_dir = "{tmp_path}"\n[database]\nurl = "{db_dsn}"\n')
    out = _cli(
        "report",
        "sla",
        "--from",
        "2027-07-01",
        "--to",
        "2027-07-31",
        "--format",
        "json",
        env_config=cfg,
    )
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert {a["agency_id"]: a["breaches"] for a in data["agencies"]} == {"45": 2, "46": 0}
    out = _cli(
        "report",
        "sla",
        "--from",
        "2027-07-01",
        "--to",
        "2027-07-31",
        "--format",
        "csv",
        env_config=cfg,
    )
    lines = out.stdout.splitlines()
    assert lines[0].startswith("agency_id,agency_name,complaints,")
    assert any(line.startswith("46,Dinas Lingkungan Hidup,1,2.0,") for line in lines)
    out = _cli("report", "sla", "--from", "2027-07-01", "--to", "2027-07-31", env_config=cfg)
    assert out.returncode == 0 and "Dinas PUPR" in out.stdout and "Pelanggaran" in out.stdout
    assert "2027-07-01 s.d. 2027-07-31" in out.stdout
    # An empty period is an empty report, not an error.
    out = _cli(
        "report",
        "sla",
        "--from",
        "2020-01-01",
        "--to",
        "2020-01-31",
        "--format",
        "json",
        env_config=cfg,
    )
    assert json.loads(out.stdout)["agencies"] == []


def test_followup_classify_command() -> None:
    lines = [
        {"text": "Terima kasih, akan kami tindaklanjuti.", "id": 1},
        {
            "text": "Lampu PJU di Jl. Beliang sudah diganti petugas tanggal 3 Mei.",
            "attachments": 2,
            "id": 2,
        },
        {"text": "udh kami terusin ke dishub", "attachments": [], "id": 3},
    ]
    stdin = "".join(json.dumps(x) + "\n" for x in lines)
    out = _cli("followup", "classify", stdin=stdin)
    assert out.returncode == 0, out.stderr
    got = [json.loads(x) for x in out.stdout.splitlines()]
    assert [(g["id"], g["label"]) for g in got] == [
        (1, "acknowledgement"),
        (2, "substantive_with_evidence"),
        (3, "forwarded"),
    ]
    assert got[1]["attachments"] == 2 and any(r.startswith("action:") for r in got[1]["reasons"])
    bad = _cli("followup", "classify", stdin='{"text": "ok"}\nnot json\n{"no": 1}\n')
    assert bad.returncode == 1
    assert len(bad.stdout.splitlines()) == 1
    assert "line 2" in bad.stderr and "line 3" in bad.stderr
