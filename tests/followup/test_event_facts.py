"""Messages say what the event said, not what the complaint's row says by the time the
notify job runs: a backlog of feed events applied at once (assign, not our authority,
reassign, response) before any notification is sent."""

from __future__ import annotations

import datetime as dt
import re

from aggregator.notify.handler import make_notify_handler
from aggregator.queue import Worker
from schemas.complaint import Reporter

from .helpers import Clock, RecordingSink, add_complaint, apply_events, event, make_services

T0 = dt.datetime(2027, 7, 5, 2, 0, tzinfo=dt.UTC)
KEC = {"id": "60", "name": "Kecamatan Jekan Raya"}
PUPR = {"id": "45", "name": "Dinas PUPR Kota Palangka Raya"}


def _at(minutes: int) -> dt.datetime:
    return T0 + dt.timedelta(minutes=minutes)


def _burst(tracking_id: str, *, decline_names_agency: bool) -> list:
    decline = {"agency": KEC} if decline_names_agency else {}
    return [
        event(tracking_id, "disposed", _at(1), agency=KEC),
        event(tracking_id, "status_changed", _at(2), status="terdisposisi", agency=KEC),
        event(tracking_id, "status_changed", _at(3), status="bukan_wewenang", **decline),
        event(tracking_id, "disposed", _at(4), agency=PUPR),
        event(tracking_id, "status_changed", _at(5), status="terdisposisi", agency=PUPR),
        event(
            tracking_id,
            "response_posted",
            _at(6),
            agency=PUPR,
            author="Admin Penghubung Dinas PUPR",
            text="Telah dilakukan penambalan lubang pada 8 Juli 2025 sepanjang 40 meter.",
        ),
    ]


async def _drain(services, sinks) -> None:
    worker = Worker(services.queue, {"notify": make_notify_handler(services, sinks)})
    while await worker.run_once():
        pass


def _sentences(text: str) -> list[str]:
    return [s for s in re.split(r"(?<=[.;])\s+|\n+", text) if s.strip()]


async def test_backlog_burst_by_sms_names_the_agency_of_each_event(pool) -> None:
    services = make_services(pool, Clock(T0), notify={"merge_window_s": 0})
    sink = RecordingSink()
    await add_complaint(
        services,
        channel="sms",
        source="gammu",
        tracking_id="1916501",
        reporter=Reporter(phone="+6281234500001"),
        status="terverifikasi",
    )
    # The whole backlog is applied before any notify job runs.
    await apply_events(services, *_burst("1916501", decline_names_agency=True))
    await _drain(services, {"gammu": sink})
    # Jobs of one burst run together and may share one message: read it item by item.
    items = [
        part
        for _o, m in sink.sent
        for part in re.split(r"\s+(?=Laporan #|Tanggapan )", m.text)
        if part.startswith(("Laporan #", "Tanggapan "))
    ]
    assert len(items) == 4, items
    assert "diteruskan kepada Kecamatan Jekan Raya" in items[0]
    assert "bukan kewenangan Kecamatan Jekan Raya" in items[1]
    assert "diteruskan kepada Dinas PUPR Kota Palangka Raya" in items[2]
    assert items[3].startswith("Tanggapan Dinas PUPR Kota Palangka Raya")
    # No sentence about the kecamatan's part names PUPR, and the reverse.
    for text in items[:2]:
        assert "PUPR" not in text
    for text in items[2:]:
        assert "Kecamatan" not in text


async def test_merged_burst_by_email_keeps_each_agency_in_its_sentence(pool) -> None:
    clock = Clock(T0)
    services = make_services(pool, clock, notify={"merge_window_s": 60})
    sink = RecordingSink()
    await add_complaint(
        services,
        channel="email",
        source="mail",
        tracking_id="1916502",
        reporter=Reporter(email="warga@example.org"),
        status="terverifikasi",
    )
    # LAPOR! leaves the agency out of the "not our authority" event: the agency it applies
    # to is the one the complaint had at that moment, not the one it was moved to after.
    await apply_events(services, *_burst("1916502", decline_names_agency=False))
    await _drain(services, {"mail": sink})
    assert sink.sent == []
    clock.now = T0 + dt.timedelta(minutes=2)
    await _drain(services, {"mail": sink})
    ((_o, msg),) = sink.sent
    sentences = _sentences(msg.text)
    about = {
        "diteruskan kepada Kecamatan Jekan Raya": 1,
        "bukan kewenangan Kecamatan Jekan Raya": 1,
        "diteruskan kepada Dinas PUPR Kota Palangka Raya": 1,
    }
    for phrase, n in about.items():
        assert sum(phrase in s for s in sentences) == n, (phrase, msg.text)
    assert not [s for s in sentences if "bukan kewenangan" in s and "PUPR" in s]
    order = [msg.text.index(p) for p in about]
    assert order == sorted(order)
    assert "Telah dilakukan penambalan" in msg.text


async def test_status_job_payload_carries_agency_status_and_response_id(pool) -> None:
    services = make_services(pool, Clock(T0))
    cid = await add_complaint(
        services,
        channel="sms",
        source="gammu",
        tracking_id="1916503",
        reporter=Reporter(phone="+6281234500003"),
        status="terverifikasi",
    )
    burst = _burst("1916503", decline_names_agency=False)
    await apply_events(services, *burst)
    async with pool.acquire() as conn:
        rows = await conn.fetch(
            "SELECT payload FROM jobs WHERE kind = 'notify' AND complaint_id = $1 ORDER BY id", cid
        )
    payloads = [dict(r["payload"]) for r in rows]
    assert [(p["event"], p.get("status"), p["agency_name"]) for p in payloads] == [
        ("status_changed", "terdisposisi", KEC["name"]),
        ("status_changed", "bukan_wewenang", KEC["name"]),
        ("status_changed", "terdisposisi", PUPR["name"]),
        ("response_posted", None, PUPR["name"]),
    ]
    assert payloads[-1]["response_id"] == burst[-1].event_id
    assert payloads[1]["agency_id"] == KEC["id"]
