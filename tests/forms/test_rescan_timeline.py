"""What staff still do in the old PHP admin reaches the complaint: the re-scan through intake.

Everything runs for real: the old form database on MariaDB (written through a latin1
connection, as PHP 5 did), the sql_table source, the ingest loop and intake on PostgreSQL.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from typing import Any

from aggregator.intake import Intake
from aggregator.intake.loop import IngestLoop
from aggregator.intake.sealing import open_meta, open_payload
from aggregator.storage.admin import complaint_detail
from aggregator.wiring.sources import build_source
from connectors.base import Batch, RawItem
from schemas.events import Job, JobState
from tests.forms.helpers import form_source_config, write_back_handler
from tests.forms.legacy import LegacyDb, u8

START = dt.datetime(2025, 11, 20, 3, 0, tzinfo=dt.UTC)
STAFF = 2  # an officer in the old admin; write-back writes as id_petugas 1


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> dt.datetime:
        return self.now

    def next_round(self) -> None:
        self.now += dt.timedelta(hours=1)  # past rescan.interval_s (900 s)


class Form:
    """One form source, imported once, with a clock to make re-scans fall due."""

    def __init__(self, services: Any, legacy: LegacyDb) -> None:
        self.clock = Clock()
        self.cfg = form_source_config(legacy)
        services = dataclasses.replace(
            services,
            clock=self.clock,
            settings=services.settings.model_copy(update={"sources": [self.cfg]}),
        )
        self.services, self.legacy = services, legacy
        self.src = build_source(self.cfg, services)
        self.loop = IngestLoop(services, self.src)

    async def run(self) -> int:
        return await self.loop.run_once()

    async def complaint(self, row: int) -> Any:
        async with self.services.pool.acquire() as conn:
            return await conn.fetchrow(
                "SELECT id, status::text AS status, legacy_status, origin FROM complaints "
                "WHERE $1 = ANY(thread_keys)",
                f"form-row:pengaduan:{row}",
            )

    async def events(self, cid: uuid.UUID) -> list[Any]:
        async with self.services.pool.acquire() as conn:
            return list(
                await conn.fetch(
                    "SELECT kind, actor, data FROM events WHERE complaint_id = $1 "
                    "AND kind LIKE 'legacy%' ORDER BY id",
                    cid,
                )
            )

    async def raw(self, ref_prefix: str) -> list[Any]:
        """The raw items, their originals decrypted (they are encrypted at rest)."""
        async with self.services.pool.acquire() as conn:
            rows = await conn.fetch(
                "SELECT id, source_ref, state::text AS state, reason, complaint_id, payload, "
                "payload_key, received_at, meta, content_type FROM raw_items "
                "WHERE source_ref LIKE $1 ORDER BY id",
                ref_prefix + "%",
            )
        crypto = self.services.crypto
        return [
            {
                **dict(r),
                "payload": open_payload(crypto, r["payload"], r["payload_key"]),
                "meta": open_meta(crypto, r["meta"]),
            }
            for r in rows
        ]

    async def cursor(self) -> dict[str, Any]:
        async with self.services.pool.acquire() as conn:
            return await conn.fetchval(  # type: ignore[no-any-return]
                "SELECT cursor FROM source_state WHERE source = $1", self.src.name
            )

    async def set_cursor(self, cursor: dict[str, Any]) -> None:
        async with self.services.pool.acquire() as conn:
            await conn.execute(
                "UPDATE source_state SET cursor = $2 WHERE source = $1", self.src.name, cursor
            )

    async def staff_respond(self, row: int, text: str, staff: int = STAFF) -> None:
        await self.legacy.run(
            "INSERT INTO tanggapan (id_pengaduan, tgl_tanggapan, tanggapan, id_petugas) "
            "VALUES (%s, '2025-11-20', %s, %s)",
            (row, u8(text), staff),
        )

    async def close(self) -> None:
        await self.src.close()


async def test_status_and_response_from_the_old_admin_reach_the_complaint(
    legacy: LegacyDb, services: Any
) -> None:
    form = Form(services, legacy)
    services = form.services  # the runtime with the form source and its clock
    try:
        assert await form.run() == 15
        before = await form.complaint(1)
        assert before["legacy_status"] == "received"
        assert before["origin"]["legacy_status_raw"] == "0"
        after_import = await form.cursor()

        # Staff in the old PHP admin: a status and a response with a dash and an accent, as
        # UTF-8 bytes through the latin1 connection; and a row our write-back added.
        await legacy.run("UPDATE pengaduan SET status = 'proses' WHERE id_pengaduan = 1")
        await form.staff_respond(1, "Sudah kami cek ke lokasi — tim UPT Jalan, café depan.")
        await form.staff_respond(1, "dari satukanal", staff=1)
        form.clock.next_round()
        assert await form.run() == 1
        c = await form.complaint(1)
        assert c["legacy_status"] == "diproses"
        assert c["status"] == "received"  # our status is LAPOR!'s to move, not the old form's
        (ev,) = await form.events(c["id"])
        assert ev["kind"] == "legacy_form_updated" and ev["actor"] == "source:form-pupr"
        data = ev["data"]
        assert (data["status_before"], data["status_after"]) == ("0", "proses")
        assert (data["legacy_status_before"], data["legacy_status_after"]) == (
            "received",
            "diproses",
        )
        assert [r["text"] for r in data["responses"]] == [
            "Sudah kami cek ke lokasi — tim UPT Jalan, café depan."
        ]
        assert data["responses"][0]["at"].startswith("2025-11-19T17:00")  # a WIB date
        assert "same_as_write_back" not in data
        (item,) = await form.raw("upd:1:")
        assert (item["state"], item["complaint_id"]) == ("accepted", c["id"])

        # The timeline operators see (dashboard and `satukanal complaints show`).
        async with services.pool.acquire() as conn:
            detail = await complaint_detail(conn, services.crypto, c["id"])
        assert detail is not None
        assert [e["kind"] for e in detail["timeline"]] == [
            "complaint_ingested",
            "legacy_form_updated",
        ]
        assert detail["legacy_status"] == "diproses"

        # Not forwarded to LAPOR! (a staff response is no reporter reply), and nothing
        # written back: neither column the update touched fires the write-back trigger.
        async with services.pool.acquire() as conn:
            jobs = await conn.fetch("SELECT kind FROM jobs WHERE complaint_id = $1", c["id"])
        assert sorted(j["kind"] for j in jobs) == ["push"]

        # A re-pull of the same round (the cursor as it was before it) is the same item,
        # held already; the next round finds nothing changed.
        await form.set_cursor(after_import)
        assert await form.run() == 1
        form.clock.next_round()
        assert await form.run() == 0
        assert len(await form.raw("upd:1:")) == 1
        assert len(await form.events(c["id"])) == 1
    finally:
        await form.close()


async def test_the_same_change_is_applied_once_and_a_return_is_a_change(
    legacy: LegacyDb, services: Any
) -> None:
    form = Form(services, legacy)
    services = form.services  # the runtime with the form source and its clock
    try:
        await form.run()
        await legacy.run("UPDATE pengaduan SET status = 'proses' WHERE id_pengaduan = 2")
        await form.staff_respond(2, "Lampu sudah diganti pada 19 November.")
        form.clock.next_round()
        await form.run()
        c = await form.complaint(2)
        (first,) = await form.events(c["id"])
        # The seeded response was already on the complaint at import: only the new one.
        assert [r["text"] for r in first["data"]["responses"]] == [
            "Lampu sudah diganti pada 19 November."
        ]
        assert "status_before" not in first["data"]  # row 2 was 'proses' from the start

        # The very same update again under another reference (e.g. replayed from an older
        # copy): intake sees the complaint already holds it.
        (item,) = await form.raw("upd:2:")
        again = RawItem(
            source_ref=item["source_ref"] + "-again",
            payload=bytes(item["payload"]),
            received_at=item["received_at"],
            meta=item["meta"],
            content_type=item["content_type"],
        )
        result = await Intake(services).ingest(form.src, Batch(items=[again], cursor=None))
        assert (result.new, result.updates, result.quarantined) == (1, 1, 0)
        (stored,) = await form.raw(again.source_ref)
        assert (stored["state"], stored["reason"]) == ("accepted", "tidak ada perubahan baru")
        assert len(await form.events(c["id"])) == 1

        # Staff flip the status back and forth over three rounds: each is a change, also the
        # third, whose state (status and responses) equals the first's.
        for status in ("0", "proses"):
            await legacy.run("UPDATE pengaduan SET status = %s WHERE id_pengaduan = 2", (status,))
            form.clock.next_round()
            assert await form.run() == 1
        events = await form.events(c["id"])
        assert [
            (e["data"].get("status_before"), e["data"].get("status_after")) for e in events
        ] == [(None, None), ("proses", "0"), ("0", "proses")]
        assert (await form.complaint(2))["legacy_status"] == "diproses"
        refs = [
            r["source_ref"]
            for r in await form.raw("upd:2:")
            if not r["source_ref"].endswith("-again")
        ]
        # Same digest (state) as the first round, yet a new item: the round tells them apart.
        assert len(refs) == 3 and refs[0].split("@")[0] == refs[2].split("@")[0]
    finally:
        await form.close()


async def test_a_row_deleted_in_the_old_database(legacy: LegacyDb, services: Any) -> None:
    form = Form(services, legacy)
    services = form.services  # the runtime with the form source and its clock
    try:
        await form.run()
        before = await form.cursor()
        await legacy.run("DELETE FROM pengaduan WHERE id_pengaduan = 3")
        form.clock.next_round()
        assert await form.run() == 1
        c = await form.complaint(3)
        (ev,) = await form.events(c["id"])
        assert ev["kind"] == "legacy_row_deleted"
        assert ev["data"] == {"form_table": "pengaduan", "row_id": "3"}
        assert c["origin"]["legacy_row_deleted"] is True
        assert c["origin"]["row_id"] == 3  # write-back still knows which row it was
        assert "3" not in (await form.cursor())["open"]  # never re-scanned again

        await form.set_cursor(before)  # re-pull of the same round: held already
        assert await form.run() == 1
        (item,) = await form.raw("upd:3:")
        assert item["state"] == "accepted" and item["complaint_id"] == c["id"]
        again = RawItem(
            source_ref="upd:3:gone@replayed",
            payload=bytes(item["payload"]),
            received_at=item["received_at"],
            meta=item["meta"],
            content_type=item["content_type"],
        )
        await Intake(services).ingest(form.src, Batch(items=[again], cursor=None))
        assert (await form.raw("upd:3:gone@replayed"))[0]["reason"] == "sudah tercatat"
        assert len(await form.events(c["id"])) == 1
    finally:
        await form.close()


async def test_an_update_for_a_row_never_imported_is_quarantined(
    legacy: LegacyDb, services: Any
) -> None:
    form = Form(services, legacy)
    services = form.services  # the runtime with the form source and its clock
    try:
        await form.run()
        assert await form.complaint(12) is None  # empty text: quarantined at import
        await form.staff_respond(12, "Mohon lengkapi isi laporan Anda.")
        form.clock.next_round()
        assert await form.run() == 1
        (item,) = await form.raw("upd:12:")
        assert item["state"] == "quarantined" and item["complaint_id"] is None
        assert item["reason"] == "baris formulir lama 12 belum pernah diimpor"
        async with services.pool.acquire() as conn:
            stray = await conn.fetchval("SELECT count(*) FROM events WHERE kind LIKE 'legacy%'")
        assert stray == 0
    finally:
        await form.close()


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


async def test_our_own_write_back_comes_back_as_agreement_not_news(
    legacy: LegacyDb, services: Any
) -> None:
    form = Form(services, legacy)
    services = form.services  # the runtime with the form source and its clock
    try:
        await form.run()
        cid = (await form.complaint(1))["id"]
        # LAPOR! moved it and an agency answered; write-back mirrors both into the old form.
        async with services.pool.acquire() as conn:
            await conn.execute(
                "UPDATE complaints SET lapor_tracking_id = '1916449', "
                "status = 'diproses' WHERE id = $1",
                cid,
            )
            await conn.execute(
                "INSERT INTO followups (complaint_id, event_id, at, agency_name, text, label) "
                "VALUES ($1, 'e-1', '2025-11-19T02:00:00Z', 'Dinas PUPR', "
                "'Lubang sudah ditambal pada 18 November.', 'substantive')",
                cid,
            )
        handler = write_back_handler(services)
        try:
            await handler(job(cid))
        finally:
            await handler.close()
        assert (await legacy.run("SELECT status FROM pengaduan WHERE id_pengaduan = 1")) == [
            (b"proses",)
        ]
        form.clock.next_round()
        assert await form.run() == 1
        (ev,) = await form.events(cid)
        data = ev["data"]
        assert (data["status_before"], data["status_after"]) == ("0", "proses")
        assert data["same_as_write_back"] is True
        assert "responses" not in data  # the mirrored agency answer is ours, not news
        assert (await form.complaint(1))["legacy_status"] == "diproses"
    finally:
        await form.close()


async def test_a_status_the_mapping_does_not_know(legacy: LegacyDb, services: Any) -> None:
    """A form whose status column is free text (varchar): a value status_map lacks is kept
    raw on the timeline and leaves the mapped legacy_status as it was."""
    from connectors.forms.rows import encode_row

    form = Form(services, legacy)
    services = form.services  # the runtime with the form source and its clock
    try:
        await form.run()
        cid = (await form.complaint(1))["id"]
        payload = encode_row(
            "pengaduan",
            "1",
            {"id_pengaduan": 1, "status": b"ditunda"},
            [],
            None,
            kind="update",
            reason="legacy_update",
        )
        item = RawItem(
            source_ref="upd:1:free-text",
            payload=payload,
            received_at=START,
            meta={"kind": "legacy_update", "row_id": "1"},
            content_type="application/x-satukanal-form-row+json",
        )
        await Intake(services).ingest(form.src, Batch(items=[item], cursor=None))
        (ev,) = await form.events(cid)
        assert ev["data"]["status_after"] == "ditunda" and ev["data"]["status_unmapped"]
        c = await form.complaint(1)
        assert c["legacy_status"] == "received"
        assert c["origin"]["legacy_status_raw"] == "ditunda"
    finally:
        await form.close()
