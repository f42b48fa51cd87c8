"""The notify job end to end: LAPOR! events applied, jobs run by the real worker, messages
rendered from the templates and handed to a sink."""

from __future__ import annotations

import datetime as dt

import pytest

from aggregator.errors import PermanentError, TransientError
from aggregator.notify.handler import make_notify_handler
from aggregator.notify.segments import count_parts
from aggregator.queue import Worker
from aggregator.storage.followup import notifications_for
from connectors.base import Origin, OutboundMessage, SendResult
from schemas.complaint import Reporter

from .helpers import (
    Clock,
    RecordingSink,
    add_complaint,
    apply_events,
    event,
    make_services,
    notify_jobs,
)

# Ahead of the real clock: jobs other parts enqueue with the database's now() are due.
T0 = dt.datetime(2027, 7, 5, 2, 0, tzinfo=dt.UTC)  # Monday 09:00 WIB
AGENCY = {"id": "45", "name": "Dinas PUPR Kota Palangka Raya"}
LONG_RESPONSE = (
    "Terima kasih atas laporan Saudara. Menindaklanjuti laporan tersebut, pada tanggal "
    "8 Juli 2025 Tim UPT Pemeliharaan Jalan dan Jembatan telah melakukan penambalan lubang "
    "sepanjang 40 meter di Jl. RTA Milono km 5 depan SDN 4 Langkai, serta memasang rambu "
    "peringatan sementara. Pekerjaan pengaspalan ulang akan dilanjutkan setelah musim hujan. "
    "Apabila masih terdapat kerusakan silakan sampaikan kembali melalui kanal ini. Salam, "
    "Admin Penghubung Dinas PUPR."
)


def _settings(window: float = 0.0, **notify: object) -> dict:
    return {
        "notify": {"merge_window_s": window, **notify},
        "http": {"public_base_url": "https://lapor.palangkaraya.go.id/"},
    }


async def _run(services, sinks) -> int:
    worker = Worker(services.queue, {"notify": make_notify_handler(services, sinks)})
    return await worker.run_once()


async def test_ack_by_email_with_tracking_id_subject_and_html(pool) -> None:
    clock = Clock(T0)
    services = make_services(pool, clock, **_settings())
    sink = RecordingSink()
    cid = await add_complaint(
        services,
        reporter=Reporter(email="warga@example.org", name="Budi"),
        origin={"subject": "Jalan rusak", "message_id": "<a@b>"},
    )
    async with pool.acquire() as conn:
        await services.queue.enqueue(
            conn,
            "notify",
            complaint_id=cid,
            payload={"event": "lapor_pushed", "tracking_id": "1916449"},
            dedup_key=f"notify:pushed:{cid}",
        )
    assert await _run(services, {"mail": sink}) == 1
    assert len(sink.sent) == 1
    origin, msg = sink.sent[0]
    assert origin.address == "warga@example.org"
    assert origin.thread["message_id"] == "<a@b>"
    assert msg.kind == "ack"
    assert msg.subject.startswith("[LAPOR! #1916449]")
    assert "#1916449" in msg.text and "Yth. Budi" in msg.text
    assert "https://lapor.palangkaraya.go.id/status/1916449" in msg.text
    assert msg.html and "<p>" in msg.html and "1916449" in msg.html
    async with pool.acquire() as conn:
        rows = await notifications_for(conn, cid, services.crypto)
        events = await conn.fetch("SELECT kind, data FROM events WHERE complaint_id = $1", cid)
    assert [(r["kind"], r["channel"], r["state"]) for r in rows] == [("ack", "email", "sent")]
    assert rows[0]["body"] == msg.text and rows[0]["sent_at"] == T0
    assert rows[0]["external_id"] == f"ext-{msg.notification_id}"
    assert str(rows[0]["id"]) == msg.notification_id
    assert [e["kind"] for e in events] == ["notification_sent"]


async def test_sms_response_is_shortened_within_parts_with_link(pool) -> None:
    clock = Clock(T0)
    services = make_services(pool, clock, **_settings(sms_max_parts=2))
    sink = RecordingSink()
    cid = await add_complaint(
        services,
        channel="sms",
        source="gammu",
        reporter=Reporter(phone="+6281234567890"),
        anonymous=True,
    )
    await apply_events(
        services,
        event(
            "1916449",
            "response_posted",
            T0,
            agency=AGENCY,
            author="Admin Penghubung",
            text=LONG_RESPONSE,
        ),
    )
    assert await _run(services, {"gammu": sink}) == 1
    origin, msg = sink.sent[0]
    # anonymous towards LAPOR!, still answered on their own number
    assert origin.address == "+6281234567890"
    assert msg.kind == "response"
    assert count_parts(msg.text) <= 2
    assert msg.text.rstrip().endswith("https://lapor.palangkaraya.go.id/status/1916449")
    assert "Dinas PUPR" in msg.text and "..." in msg.text
    assert "Terima kasih atas laporan Saudara. Menindaklanjuti" in msg.text
    # the full text is in the follow-up; the SMS body stored is what was sent
    async with pool.acquire() as conn:
        (row,) = await notifications_for(conn, cid, services.crypto)
    assert row["body"] == msg.text and row["channel"] == "sms"


async def test_email_gets_the_full_response(pool) -> None:
    services = make_services(pool, Clock(T0), **_settings())
    sink = RecordingSink()
    await add_complaint(services, reporter=Reporter(email="w@example.org"))
    await apply_events(
        services,
        event(
            "1916449",
            "response_posted",
            T0,
            agency=AGENCY,
            text=LONG_RESPONSE,
            attachments=[{"url": "https://x/1.jpg", "content_type": "image/jpeg"}],
        ),
    )
    await _run(services, {"mail": sink})
    ((_o, msg),) = sink.sent
    assert LONG_RESPONSE in msg.text
    assert "1 lampiran" in msg.text
    assert msg.subject == "[LAPOR! #1916449] Tanggapan Dinas PUPR Kota Palangka Raya"
    assert "5 Juli 2027 09.00" in msg.text  # Jakarta time


async def test_burst_is_merged_into_one_message(pool) -> None:
    clock = Clock(T0)
    services = make_services(pool, clock, **_settings(window=60))
    sink = RecordingSink()
    cid = await add_complaint(
        services, channel="sms", source="gammu", reporter=Reporter(phone="+6281234567890")
    )
    async with pool.acquire() as conn:
        await services.queue.enqueue(
            conn, "notify", complaint_id=cid, payload={"event": "lapor_pushed"}, dedup_key="a"
        )
    await apply_events(
        services,
        event("1916449", "status_changed", T0 + dt.timedelta(seconds=1), status="terverifikasi"),
        event(
            "1916449",
            "status_changed",
            T0 + dt.timedelta(seconds=2),
            status="terdisposisi",
            agency=AGENCY,
        ),
        event("1916449", "status_changed", T0 + dt.timedelta(seconds=3), status="diproses"),
    )
    assert await _run(services, {"gammu": sink}) == 4
    assert sink.sent == []  # waiting for the window to close
    jobs = await notify_jobs(pool)
    flushes = [j for j in jobs if j["payload"]["event"] == "flush"]
    assert len(flushes) == 1 and flushes[0]["run_after"] == T0 + dt.timedelta(seconds=60)
    clock.now = T0 + dt.timedelta(seconds=61)
    assert await _run(services, {"gammu": sink}) == 1
    ((_o, msg),) = sink.sent
    assert (
        msg.text.index("#1916449") < msg.text.index("diverifikasi") < msg.text.index("Dinas PUPR")
    )
    assert "diproses" not in msg.text  # not news to a citizen
    async with pool.acquire() as conn:
        rows = await notifications_for(conn, cid, services.crypto)
    states = sorted((r["kind"], r["state"]) for r in rows)
    assert states == [
        ("ack", "sent"),
        ("status_changed", "sent"),
        ("status_changed", "sent"),
        ("status_changed", "skipped"),
    ]
    heads = [r for r in rows if r["body"]]
    assert len(heads) == 1 and str(heads[0]["id"]) == msg.notification_id
    assert all(r["merged_into"] == heads[0]["id"] for r in rows if r["state"] == "sent")


async def test_retried_send_keeps_its_notification_id(pool) -> None:
    services = make_services(pool, Clock(T0), **_settings())
    sink = RecordingSink(fail_times=1)
    cid = await add_complaint(services, reporter=Reporter(email="w@example.org"))
    await apply_events(services, event("1916449", "status_changed", T0, status="terverifikasi"))
    handler = make_notify_handler(services, {"mail": sink})
    (job,) = [j for j in await _jobs_as_models(services)]
    with pytest.raises(TransientError):
        await handler(job)
    await handler(job)
    await handler(job)  # a redelivered job after success sends nothing more
    assert len(sink.attempts) == 2 and sink.attempts[0] == sink.attempts[1]
    assert len(sink.sent) == 1
    async with pool.acquire() as conn:
        rows = await notifications_for(conn, cid, services.crypto)
    assert [r["state"] for r in rows] == ["sent"]


async def _jobs_as_models(services):
    claimed = []
    async with services.pool.acquire() as conn:
        claimed = await services.queue.claim(conn, ["notify"], 10)
    return claimed


async def test_closure_asks_once_whether_it_is_solved(pool) -> None:
    services = make_services(pool, Clock(T0), **_settings())
    sink = RecordingSink()
    cid = await add_complaint(
        services, reporter=Reporter(email="w@example.org"), status="ditindaklanjuti"
    )
    await apply_events(services, event("1916449", "status_changed", T0, status="selesai"))
    await _run(services, {"mail": sink})
    ((_o, msg),) = sink.sent
    assert "dinyatakan selesai" in msg.text and "SUDAH atau BELUM" in msg.text
    # reopened and closed again: no second question
    await apply_events(
        services,
        event("1916449", "status_changed", T0 + dt.timedelta(hours=1), status="diproses"),
        event("1916449", "status_changed", T0 + dt.timedelta(hours=2), status="selesai"),
    )
    await _run(services, {"mail": sink})
    assert len(sink.sent) == 2
    assert "SUDAH atau BELUM" not in sink.sent[1][1].text
    async with pool.acquire() as conn:
        asked = await conn.fetchval("SELECT solved_asked_at FROM complaints WHERE id = $1", cid)
    assert asked == T0


async def test_no_notification_before_the_tracking_id(pool) -> None:
    services = make_services(pool, Clock(T0), **_settings())
    sink = RecordingSink()
    cid = await add_complaint(
        services, reporter=Reporter(email="w@example.org"), tracking_id=None, status="received"
    )
    async with pool.acquire() as conn:
        await services.queue.enqueue(
            conn,
            "notify",
            complaint_id=cid,
            payload={"event": "info_requested", "text": "Mohon alamat"},
        )
        await services.queue.enqueue(conn, "notify", complaint_id=cid, payload={"event": "sunset"})
    await _run(services, {"mail": sink})
    assert [m.kind for _o, m in sink.sent] == ["sunset"]
    jobs = {j["payload"]["event"]: j["state"] for j in await notify_jobs(pool)}
    assert jobs["info_requested"] == "queued"  # retried later, once the push is done


async def test_without_sink_or_address_kept_for_the_status_page(pool) -> None:
    services = make_services(pool, Clock(T0), **_settings())
    cid = await add_complaint(services, channel="web", source="form", reporter=None)
    await apply_events(
        services,
        event("1916449", "info_requested", T0, agency=AGENCY, text="Mohon lampirkan foto lokasi."),
    )
    await _run(services, {})
    async with pool.acquire() as conn:
        (row,) = await notifications_for(conn, cid, services.crypto)
    assert row["channel"] == "web" and row["state"] == "sent"
    assert "Mohon lampirkan foto lokasi." in row["body"] and "formulir" in row["body"]


async def test_usage_answer_without_a_complaint(pool) -> None:
    services = make_services(pool, Clock(T0), **_settings())
    sink = RecordingSink()
    async with pool.acquire() as conn:
        await services.queue.enqueue(
            conn,
            "notify",
            payload={
                "event": "usage",
                "text": "Ketik LAPOR <isi laporan> kirim ke 0812.",
                "source": "gammu",
                "address": "+6281200000000",
            },
            dedup_key="usage:1",
        )
    await _run(services, {"gammu": sink})
    ((origin, msg),) = sink.sent
    assert origin.address == "+6281200000000" and msg.kind == "usage"
    assert msg.text == "Ketik LAPOR <isi laporan> kirim ke 0812."
    async with pool.acquire() as conn:
        n = await conn.fetchval(
            "SELECT count(*) FROM notifications WHERE state = 'sent' AND complaint_id IS NULL"
        )
    assert n == 1


async def test_linked_duplicate_hears_the_original_reports_progress(pool) -> None:
    services = make_services(pool, Clock(T0), **_settings())
    mail, sms = RecordingSink(), RecordingSink()
    original = await add_complaint(services, reporter=Reporter(email="w@example.org"))
    dup = await add_complaint(
        services,
        channel="sms",
        source="gammu",
        tracking_id=None,
        status="duplicate",
        reporter=Reporter(phone="+6281311112222"),
    )
    async with pool.acquire() as conn:
        await conn.execute("UPDATE complaints SET duplicate_of = $1 WHERE id = $2", original, dup)
        await services.queue.enqueue(
            conn,
            "notify",
            complaint_id=dup,
            payload={"event": "complaint_linked", "duplicate_of": str(original)},
        )
    await _run(services, {"mail": mail, "gammu": sms})
    ((origin, msg),) = sms.sent
    assert origin.address == "+6281311112222" and "#1916449" in msg.text
    await apply_events(services, event("1916449", "status_changed", T0, status="selesai"))
    await _run(services, {"mail": mail, "gammu": sms})
    assert len(mail.sent) == 1 and "SUDAH atau BELUM" in mail.sent[0][1].text
    assert len(sms.sent) == 2
    text = sms.sent[1][1].text
    assert "Laporan #1916449 dinyatakan selesai" in text and "SUDAH" not in text


class ReportingSink(RecordingSink):
    """A sink whose channel reports delivery later (as Gammu's sentitems does)."""

    async def delivery_status(self, notification_id: str):
        from connectors.sms.gammu import DeliveryState

        return DeliveryState(
            "delivered",
            external_id=f"ext-{notification_id}",
            detail="DeliveryOK",
            at=T0 + dt.timedelta(minutes=1),
        )


async def test_delivery_reports_are_copied_onto_notifications(pool) -> None:
    from aggregator.notify.delivery import DeliveryLoop

    services = make_services(pool, Clock(T0), **_settings())
    sink = ReportingSink()
    cid = await add_complaint(
        services, channel="sms", source="gammu", reporter=Reporter(phone="+6281234567890")
    )
    await apply_events(services, event("1916449", "status_changed", T0, status="terverifikasi"))
    await _run(services, {"gammu": sink})
    loop = DeliveryLoop(services, {"gammu": sink, "mail": RecordingSink()})
    assert await loop.run_once() == 1
    assert await loop.run_once() == 0
    async with pool.acquire() as conn:
        (row,) = await notifications_for(conn, cid, services.crypto)
    assert row["state"] == "delivered" and row["delivered_at"] == T0 + dt.timedelta(minutes=1)


async def test_form_complaint_is_answered_through_its_form_sink(pool) -> None:
    services = make_services(pool, Clock(T0), **_settings())
    sink = RecordingSink()
    cid = await add_complaint(
        services, channel="web", source="form-lama", reporter=None, origin={"row_id": 77}
    )
    await apply_events(services, event("1916449", "status_changed", T0, status="terverifikasi"))
    await _run(services, {"form-lama": sink})
    ((origin, msg),) = sink.sent
    assert origin.address is None and origin.thread == {"row_id": 77}
    assert "diverifikasi" in msg.text
    async with pool.acquire() as conn:
        (row,) = await notifications_for(conn, cid, services.crypto)
    assert row["channel"] == "web" and row["external_id"] == f"ext-{msg.notification_id}"


class EchoingSink(RecordingSink):
    """A gateway that refuses the message and says whom it was for, as third-party WhatsApp
    and SMS gateways do (``{"error": "number 6281… is not on WhatsApp"}``)."""

    def __init__(self, error: type[Exception]) -> None:
        super().__init__()
        self.error = error

    async def send(self, origin: Origin, message: OutboundMessage) -> SendResult:
        raise self.error(f"gateway answered 400: number {origin.address} (budi@warga.test) invalid")


@pytest.mark.parametrize("error", [PermanentError, TransientError])
async def test_a_sink_error_naming_the_citizen_is_stored_without_it(pool, error) -> None:
    """What a sink said when it refused goes to the notification, the component's health
    (public on /readyz) and the job: none of them keeps the citizen's number or address in
    plain text, as no log line does."""
    services = make_services(pool, Clock(T0), **_settings())
    await add_complaint(
        services, channel="sms", source="gammu", reporter=Reporter(phone="+6281234567890")
    )
    await apply_events(services, event("1916449", "status_changed", T0, status="terverifikasi"))
    await _run(services, {"gammu": EchoingSink(error)})
    async with pool.acquire() as conn:
        stored = await conn.fetchval(
            "SELECT concat_ws(' | ', (SELECT string_agg(coalesce(detail, ''), ' ') FROM"
            " notifications), (SELECT string_agg(coalesce(last_error, ''), ' ') FROM"
            " component_health), (SELECT string_agg(coalesce(last_error, ''), ' ') FROM jobs),"
            " (SELECT string_agg(data::text, ' ') FROM events))"
        )
    assert "gateway answered 400" in stored, stored  # what it said is kept
    for personal in ("6281234567890", "81234567890", "budi@warga.test"):
        assert personal not in stored, stored
