"""One person, one message per event: a citizen who re-sends a complaint is linked as a
duplicate and hears each later event once; a complaint re-sent after its report was closed,
archived or deleted is a new complaint, not a link to a report whose news will never come."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from aggregator.intake import Intake
from aggregator.notify.handler import make_notify_handler
from aggregator.queue import Worker
from connectors.base import Batch, RawItem
from schemas.config import SourceConfig
from tests.core.helpers import JsonLinesSource

from .helpers import Clock, RecordingSink, apply_events, event, make_services

T0 = dt.datetime(2027, 7, 5, 2, 0, tzinfo=dt.UTC)
TEXT = "Saluran air tersumbat di RT 03 Kelurahan Panarung sejak seminggu, mohon dibersihkan"
PUPR = {"id": "45", "name": "Dinas PUPR Kota Palangka Raya"}


def _line(**kw: object) -> bytes:
    return json.dumps(kw).encode()


async def _drain(services, sinks) -> None:
    worker = Worker(services.queue, {"notify": make_notify_handler(services, sinks)})
    while await worker.run_once():
        pass


async def test_duplicate_reporter_hears_each_event_once(pool) -> None:
    services = make_services(pool, Clock(T0), notify={"merge_window_s": 0})
    src = JsonLinesSource(SourceConfig(name="s", kind="jsonlines"))
    intake = Intake(services)
    first = await intake.ingest(
        src, Batch(items=[RawItem("a", _line(text=TEXT, phone="081300000001"))], cursor={})
    )
    # The same citizen sends it again, twice (an impatient resend), the same week.
    again = await intake.ingest(
        src,
        Batch(
            items=[
                RawItem("b", _line(text=TEXT, phone="+6281300000001")),
                RawItem("c", _line(text=TEXT, phone="0813-0000-0001")),
            ],
            cursor={},
        ),
    )
    assert first.complaints == 1 and again.duplicates == 2
    original = first.complaint_ids[0]
    async with pool.acquire() as conn:
        await conn.execute(
            "UPDATE complaints SET lapor_tracking_id = '1916470',"
            " status = 'belum_terverifikasi' WHERE id = $1",
            original,
        )
        await conn.execute("DELETE FROM jobs WHERE kind = 'notify'")  # the 'linked' notices
    sink = RecordingSink()
    await apply_events(
        services,
        event(
            "1916470",
            "status_changed",
            T0 + dt.timedelta(minutes=1),
            status="terdisposisi",
            agency=PUPR,
        ),
        event(
            "1916470",
            "response_posted",
            T0 + dt.timedelta(minutes=2),
            agency=PUPR,
            text="Telah dibersihkan oleh tim UPT pada 6 Juli 2027 pukul 09.00.",
        ),
        event(
            "1916470", "status_changed", T0 + dt.timedelta(minutes=3), status="selesai", agency=PUPR
        ),
    )
    await _drain(services, {"s": sink})
    to_phone = [
        m for o, m in sink.sent if o.address == "081300000001" or o.address == "+6281300000001"
    ]
    assert to_phone and len(to_phone) == len(sink.sent)
    texts = " ".join(m.text for m in to_phone)
    for phrase in ("diteruskan kepada Dinas PUPR", "Telah dibersihkan", "dinyatakan selesai"):
        assert texts.count(phrase) == 1, (phrase, [m.text for m in to_phone])
    async with pool.acquire() as conn:
        skipped = await conn.fetch(
            "SELECT n.state::text AS state, n.detail FROM notifications n JOIN complaints c"
            " ON c.id = n.complaint_id WHERE c.duplicate_of = $1",
            original,
        )
    assert skipped and all(r["state"] == "skipped" for r in skipped)
    assert all("same reporter" in r["detail"] for r in skipped)


@pytest.mark.parametrize("dead", ["selesai", "arsip", "dihapus"])
async def test_resent_after_the_report_is_dead_is_a_new_complaint(pool, dead) -> None:
    services = make_services(pool, Clock(T0))
    src = JsonLinesSource(SourceConfig(name="s", kind="jsonlines"))
    intake = Intake(services)
    first = await intake.ingest(
        src, Batch(items=[RawItem("a", _line(text=TEXT, phone="081300000002"))], cursor={})
    )
    async with pool.acquire() as conn:
        await conn.execute(
            "UPDATE complaints SET lapor_tracking_id = '1916471', status = $2 WHERE id = $1",
            first.complaint_ids[0],
            dead,
        )
    resent = await intake.ingest(
        src, Batch(items=[RawItem("c", _line(text=TEXT, phone="081300000002"))], cursor={})
    )
    assert resent.duplicates == 0 and resent.complaints == 1
    async with pool.acquire() as conn:
        row = await conn.fetchrow(
            "SELECT status::text AS status, duplicate_of FROM complaints WHERE id = $1",
            resent.complaint_ids[0],
        )
        linked = await conn.fetchval(
            "SELECT count(*) FROM jobs WHERE kind = 'notify' AND"
            " payload->>'event' = 'complaint_linked'"
        )
    assert row["status"] == "received" and row["duplicate_of"] is None
    assert linked == 0
