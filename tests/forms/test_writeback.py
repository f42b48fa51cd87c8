"""Write-back: what LAPOR! says becomes visible in the old form's own tables."""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
import uuid
from typing import Any

import pytest

from aggregator.errors import PermanentError
from aggregator.intake.backfill import run_backfill
from aggregator.wiring.sources import build_source
from connectors.base import Origin, OutboundMessage
from schemas.events import Job, JobState
from tests.forms.helpers import form_source_config, write_back_handler
from tests.forms.legacy import LegacyDb, create_read_only_user, drop_user


def job(complaint_id: uuid.UUID) -> Job:
    now = dt.datetime.now(dt.UTC)
    return Job(
        id=1,
        kind="write_back",
        payload={},
        complaint_id=complaint_id,
        state=JobState.RUNNING,
        attempts=1,
        created_at=now,
        run_after=now,
    )


async def imported(
    services: Any, legacy: LegacyDb, url: str | None = None
) -> tuple[Any, dict[int, Any]]:
    """The runtime with the form source configured, and the imported rows' complaints."""
    cfg = form_source_config(url or legacy.url)
    services = dataclasses.replace(
        services, settings=services.settings.model_copy(update={"sources": [cfg]})
    )
    src = build_source(cfg, services)
    try:
        await run_backfill(services, src, progress=False, out=io.StringIO())
    finally:
        await src.close()
    async with services.pool.acquire() as conn:
        rows = await conn.fetch("SELECT id, (origin->>'row_id')::int AS row_id FROM complaints")
    return services, {r["row_id"]: r["id"] for r in rows}


async def followed_up(services: Any, cid: uuid.UUID) -> None:
    async with services.pool.acquire() as conn:
        await conn.execute(
            "UPDATE complaints SET lapor_tracking_id = '1916449', "
            "status = 'ditindaklanjuti' WHERE id = $1",
            cid,
        )
        await conn.execute(
            "INSERT INTO followups (complaint_id, event_id, at, agency_name, text, label) VALUES "
            "($1, 'e-1', '2025-11-19T02:00:00Z', 'Dinas PUPR', "
            "'Lubang sudah ditambal pada 18 November — tim UPT Jalan.', 'substantive')",
            cid,
        )


async def test_tracking_status_and_responses_appear_in_the_old_tables(
    legacy: LegacyDb, services: Any
) -> None:
    from aggregator.queue import Worker

    services, ids = await imported(services, legacy)
    await followed_up(services, ids[1])
    async with services.pool.acquire() as conn:
        queued = await conn.fetch(
            "SELECT payload FROM jobs WHERE kind = 'write_back' AND complaint_id = $1 ORDER BY id",
            ids[1],
        )
    # The changes queued their own write-back jobs (triggers): tracking+status, the response.
    assert [j["payload"]["reason"].split(":")[0] for j in queued] == ["state", "followup"]
    handler = write_back_handler(services)
    try:
        worker = Worker(services.queue, {"write_back": handler}, concurrency=2)
        assert await worker.run_once() == 2  # both at once: the lock keeps them apart
        await handler(job(ids[1]))  # a retried job writes nothing twice
    finally:
        await handler.close()
    async with services.pool.acquire() as conn:
        states = await conn.fetch("SELECT state::text FROM jobs WHERE kind = 'write_back'")
    assert {s["state"] for s in states} == {"done"}
    row = (
        await legacy.run("SELECT lapor_tracking_id, status FROM pengaduan WHERE id_pengaduan = 1")
    )[0]
    assert row == (b"1916449", b"proses")
    resp = await legacy.run(
        "SELECT tanggapan, id_petugas, tgl_tanggapan FROM tanggapan WHERE id_pengaduan = 1"
    )
    assert len(resp) == 1
    text, staff, day = resp[0]
    # Stored as the PHP pages expect: UTF-8 bytes through the latin1 table.
    assert text.decode("utf-8") == (
        "[Tanggapan Dinas PUPR melalui SP4N-LAPOR!] Lubang sudah "
        "ditambal pada 18 November — tim UPT Jalan."
    )
    assert staff == 1 and day == dt.date(2025, 11, 19)
    async with services.pool.acquire() as conn:
        kinds = await conn.fetch(
            "SELECT data FROM events WHERE complaint_id = $1 AND kind = 'form_written_back'", ids[1]
        )
    assert len(kinds) == 1  # the later runs found nothing new


async def test_status_never_moves_backwards(legacy: LegacyDb, services: Any) -> None:
    services, ids = await imported(services, legacy)
    await followed_up(services, ids[15])  # closed ('selesai') in the old admin long ago
    handler = write_back_handler(services)
    try:
        await handler(job(ids[15]))
    finally:
        await handler.close()
    row = (
        await legacy.run("SELECT status, lapor_tracking_id FROM pengaduan WHERE id_pengaduan = 15")
    )[0]
    assert row == (b"selesai", b"1916449")


async def test_read_only_user_makes_write_back_a_permanent_error(
    legacy: LegacyDb, services: Any
) -> None:
    user, url = await create_read_only_user(legacy)
    try:
        services, ids = await imported(services, legacy, url)
        await followed_up(services, ids[1])
        handler = write_back_handler(services)
        try:
            with pytest.raises(PermanentError, match="may not write"):
                await handler(job(ids[1]))
        finally:
            await handler.close()
    finally:
        await drop_user(user)
    assert (await legacy.run("SELECT lapor_tracking_id FROM pengaduan WHERE id_pengaduan = 1"))[
        0
    ] == (None,)


async def test_sink_answers_citizen_with_a_response_row(legacy: LegacyDb, services: Any) -> None:
    src = build_source(form_source_config(legacy), services)
    sink = src.sink()
    assert sink is not None
    msg = OutboundMessage(
        notification_id="n-1",
        kind="sunset",
        tracking_id="1916449",
        text="Kanal pengaduan ini digantikan oleh SP4N-LAPOR!. Tracking ID Anda: #1916449.",
    )
    origin = Origin(source="form-pupr", channel="web", address=None, thread={"row_id": 3})
    try:
        first = await sink.send(origin, msg)
        again = await sink.send(origin, msg)
    finally:
        await sink.close()
        await src.close()
    assert first.detail.startswith("written") and again.detail.startswith("already there")
    # Write-back is confirmed by reading the response row back: the form's page shows it.
    assert first.delivered is True and again.delivered is True
    assert "read back" in first.detail
    assert sink.recognises_resend()
    rows = await legacy.run("SELECT tanggapan FROM tanggapan WHERE id_pengaduan = 3")
    assert [r[0].decode() for r in rows] == [msg.text]


async def test_write_back_into_a_postgresql_form_database(pg_server_dsn: str) -> None:
    import asyncpg

    from connectors.forms.options import SqlTableOptions
    from connectors.forms.writeback import FormWriter
    from tests.conftest import drop_database, make_database

    dsn = await make_database(pg_server_dsn, template=None)
    try:
        conn = await asyncpg.connect(dsn)
        await conn.execute("""
            CREATE TABLE pengaduan (id_pengaduan serial PRIMARY KEY, isi_laporan text,
                                    status varchar(10), lapor_tracking_id varchar(20));
            CREATE TABLE tanggapan (id_tanggapan serial PRIMARY KEY, id_pengaduan int,
                                    tgl_tanggapan date, tanggapan text, id_petugas int);
            INSERT INTO pengaduan (isi_laporan, status) VALUES ('Jalan rusak', '0')""")
        opts = SqlTableOptions.model_validate(
            {
                "url": dsn,
                "write_back": {
                    "enabled": True,
                    "tracking_column": "lapor_tracking_id",
                    "staff_id": 7,
                },
            }
        )
        writer = FormWriter("form-pg", opts)
        try:
            at = dt.datetime(2025, 11, 19, 20, 0, tzinfo=dt.UTC)  # 20 Nov in Jakarta
            assert await writer.add_response(1, "Sudah diperbaiki — UPT Jalan.", at)
            assert not await writer.add_response(1, "Sudah diperbaiki — UPT Jalan.", at)
            assert await writer.set_tracking(1, "1916449")
            assert not await writer.set_tracking(1, "1916449")
            assert await writer.set_status(1, "diproses")
            assert not await writer.set_status(1, "received")  # never backwards
        finally:
            await writer.close()
        row = await conn.fetchrow("SELECT status, lapor_tracking_id FROM pengaduan")
        resp = await conn.fetch("SELECT tgl_tanggapan, tanggapan, id_petugas FROM tanggapan")
        await conn.close()
        assert tuple(row) == ("proses", "1916449")
        assert [tuple(r) for r in resp] == [
            (dt.date(2025, 11, 20), "Sudah diperbaiki — UPT Jalan.", 7)
        ]
    finally:
        await drop_database(pg_server_dsn, dsn)


async def test_a_row_deleted_in_the_old_database_is_left_alone(
    legacy: LegacyDb, services: Any
) -> None:
    """Staff deleted the row in the old admin; a re-scan recorded it. LAPOR! still moves the
    complaint and an agency answers: nothing is written into the old database (no status for
    a missing row, no ``tanggapan`` for a missing ``pengaduan``), and the jobs end done."""
    from structlog.testing import capture_logs

    from aggregator.intake.loop import IngestLoop
    from aggregator.queue import Worker

    now = [dt.datetime(2025, 11, 20, 3, 0, tzinfo=dt.UTC)]
    cfg = form_source_config(legacy)
    services = dataclasses.replace(
        services,
        clock=lambda: now[0],
        settings=services.settings.model_copy(update={"sources": [cfg]}),
    )
    src = build_source(cfg, services)
    loop = IngestLoop(services, src)
    try:
        assert await loop.run_once() == 15
        await legacy.run("DELETE FROM pengaduan WHERE id_pengaduan = 1")
        now[0] += dt.timedelta(hours=1)  # the next re-scan falls due
        assert await loop.run_once() == 1
    finally:
        await src.close()
    async with services.pool.acquire() as conn:
        c = await conn.fetchrow(
            "SELECT id, origin FROM complaints WHERE 'form-row:pengaduan:1' = ANY(thread_keys)"
        )
    assert c["origin"]["legacy_row_deleted"] is True and c["origin"]["row_id"] == 1
    old_db = (
        "SELECT * FROM pengaduan ORDER BY id_pengaduan",
        "SELECT * FROM tanggapan ORDER BY id_tanggapan",
    )
    before = [await legacy.run(sql) for sql in old_db]

    await followed_up(services, c["id"])  # LAPOR!: Tracking ID, a status, an agency response
    handler = write_back_handler(services)
    sink = build_source(cfg, services).sink()
    assert sink is not None
    msg = OutboundMessage(
        notification_id="n-1",
        kind="response",
        tracking_id="1916449",
        text="Tanggapan Dinas PUPR: lubang sudah ditambal.",
    )
    try:
        with capture_logs() as logs:
            worker = Worker(services.queue, {"write_back": handler}, concurrency=2)
            assert await worker.run_once() == 2  # the state change and the response
        # The notify handler hands the sink the complaint's origin as the thread.
        sent = await sink.send(
            Origin(source=cfg.name, channel="web", address=None, thread=c["origin"]), msg
        )
    finally:
        await handler.close()
        await sink.close()

    assert [await legacy.run(sql) for sql in old_db] == before
    assert sent.external_id is None and sent.detail is not None
    assert sent.detail.startswith("not written: the form row was deleted")
    async with services.pool.acquire() as conn:
        jobs = await conn.fetch(
            "SELECT state::text AS state, attempts, last_error, payload "
            "FROM jobs WHERE kind = 'write_back' ORDER BY id"
        )
        events = await conn.fetch(
            "SELECT kind, data FROM events WHERE complaint_id = $1 "
            "AND kind LIKE 'form_write%' ORDER BY id",
            c["id"],
        )
    assert [(j["state"], j["attempts"], j["last_error"]) for j in jobs] == [
        ("done", 1, None),
        ("done", 1, None),
    ]
    # The timeline says which change stayed out of the old form, and why.
    assert sorted((e["kind"], e["data"]["change"].split(":")[0]) for e in events) == [
        ("form_write_back_skipped", "followup"),
        ("form_write_back_skipped", "state"),
    ]
    assert {e["data"]["reason"] for e in events} == {"legacy_row_deleted"}
    assert {e["data"]["row_id"] for e in events} == {1}
    skipped = [e for e in logs if e["event"] == "form_write_back_skipped"]
    assert len(skipped) == 2 and not [e for e in logs if e["log_level"] in ("error", "warning")]


async def test_a_deleted_row_never_gets_a_response_row(legacy: LegacyDb, services: Any) -> None:
    """The write-back of a complaint whose deletion is not seen yet: row 1 is gone in the old
    database (no re-scan since). The job records the deletion as a re-scan would, once, writes
    nothing (no response for the missing ``pengaduan``, nothing deleted) and ends done; a
    later re-scan finds it already recorded."""
    from aggregator.intake.loop import IngestLoop
    from aggregator.queue import Worker

    now = [dt.datetime(2025, 11, 20, 3, 0, tzinfo=dt.UTC)]
    cfg = form_source_config(legacy)
    services = dataclasses.replace(
        services,
        clock=lambda: now[0],
        settings=services.settings.model_copy(update={"sources": [cfg]}),
    )
    src = build_source(cfg, services)
    loop = IngestLoop(services, src)
    try:
        assert await loop.run_once() == 15
        await legacy.run("DELETE FROM pengaduan WHERE id_pengaduan = 1")
        old_db = (
            "SELECT * FROM pengaduan ORDER BY id_pengaduan",
            "SELECT * FROM tanggapan ORDER BY id_tanggapan",
        )
        before = [await legacy.run(sql) for sql in old_db]
        async with services.pool.acquire() as conn:
            cid = await conn.fetchval(
                "SELECT id FROM complaints WHERE 'form-row:pengaduan:1' = ANY(thread_keys)"
            )
        await followed_up(services, cid)  # queues two jobs: the state change and the response
        handler = write_back_handler(services)
        try:
            worker = Worker(services.queue, {"write_back": handler}, concurrency=2)
            assert await worker.run_once() == 2
            await handler(job(cid))  # a re-sync after that: skipped on the recorded deletion
        finally:
            await handler.close()
        assert [await legacy.run(sql) for sql in old_db] == before
        now[0] += dt.timedelta(hours=1)  # the re-scan finds what write-back recorded
        assert await loop.run_once() == 1
    finally:
        await src.close()
    async with services.pool.acquire() as conn:
        origin = await conn.fetchval("SELECT origin FROM complaints WHERE id = $1", cid)
        jobs = await conn.fetch(
            "SELECT state::text AS state, attempts, last_error "
            "FROM jobs WHERE kind = 'write_back' ORDER BY id"
        )
        events = await conn.fetch(
            "SELECT kind, actor, data FROM events WHERE complaint_id = $1 "
            "AND kind IN ('legacy_row_deleted', 'form_write_back_skipped',"
            " 'form_written_back') ORDER BY id",
            cid,
        )
        raw = await conn.fetchrow(
            "SELECT state::text AS state, reason FROM raw_items WHERE source_ref LIKE '%gone@%'"
        )
    assert origin["legacy_row_deleted"] is True and origin["row_id"] == 1
    assert [(j["state"], j["attempts"], j["last_error"]) for j in jobs] == [
        ("done", 1, None),
        ("done", 1, None),
    ]
    deleted = [e for e in events if e["kind"] == "legacy_row_deleted"]
    assert [(e["actor"], e["data"]) for e in deleted] == [
        ("source:form-pupr", {"form_table": "pengaduan", "row_id": "1"})
    ]
    skipped = [e["data"] for e in events if e["kind"] == "form_write_back_skipped"]
    assert sorted(d["change"].split(":")[0] for d in skipped) == ["followup", "resync", "state"]
    assert {d["reason"] for d in skipped} == {"legacy_row_deleted"}
    assert not [e for e in events if e["kind"] == "form_written_back"]
    assert raw is not None and (raw["state"], raw["reason"]) == ("accepted", "sudah tercatat")


async def test_sink_never_answers_on_a_row_gone_unnoticed(legacy: LegacyDb, services: Any) -> None:
    """The form sink for a row deleted before any re-scan noticed: no orphan ``tanggapan``,
    and the notification ends with the reason instead of failing."""
    src = build_source(form_source_config(legacy), services)
    sink = src.sink()
    assert sink is not None
    await legacy.run("DELETE FROM pengaduan WHERE id_pengaduan = 3")
    before = await legacy.run("SELECT * FROM tanggapan ORDER BY id_tanggapan")
    msg = OutboundMessage(
        notification_id="n-1",
        kind="response",
        tracking_id="1916449",
        text="Tanggapan Dinas PUPR: lubang sudah ditambal.",
    )
    origin = Origin(source="form-pupr", channel="web", address=None, thread={"row_id": 3})
    try:
        sent = await sink.send(origin, msg)
    finally:
        await sink.close()
        await src.close()
    assert sent.external_id is None and sent.detail is not None
    assert sent.detail.startswith("not written: the form row no longer exists")
    assert await legacy.run("SELECT * FROM tanggapan ORDER BY id_tanggapan") == before
