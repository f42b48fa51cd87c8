"""Rows a backfill imported that are still open in the old form are re-scanned like live
ones, a bounded number per round."""

from __future__ import annotations

import io
from typing import Any

from aggregator.intake.backfill import run_backfill
from tests.forms.legacy import LegacyDb, fill
from tests.forms.test_rescan_timeline import Form


async def test_a_backfilled_open_row_edited_in_the_old_admin_reaches_the_complaint(
    legacy: LegacyDb, services: Any
) -> None:
    form = Form(services, legacy)
    try:
        await run_backfill(services, form.src, progress=False, out=io.StringIO())
        cursor = await form.cursor()
        # Row 1 (status '0') and row 2 ('proses') are open; row 15 ('selesai') is not.
        assert {"1", "2"} <= set(cursor["open"]) and "15" not in cursor["open"]
        assert "backfill" not in cursor

        await legacy.run("UPDATE pengaduan SET status = 'proses' WHERE id_pengaduan = 1")
        await form.staff_respond(1, "Petugas sudah ke lokasi.")
        form.clock.next_round()
        assert await form.run() == 1  # the live loop: nothing new, one re-scan update
        c = await form.complaint(1)
        assert c["legacy_status"] == "diproses"
        (ev,) = await form.events(c["id"])
        assert ev["kind"] == "legacy_form_updated"
        assert (ev["data"]["status_before"], ev["data"]["status_after"]) == ("0", "proses")
        assert [r["text"] for r in ev["data"]["responses"]] == ["Petugas sudah ke lokasi."]
    finally:
        await form.close()


async def test_a_backfill_after_the_live_poll_adds_its_open_rows(
    legacy: LegacyDb, services: Any
) -> None:
    """The live poll ran first (its cursor exists): the backfill's open rows join it."""
    form = Form(services, legacy)
    try:
        assert await form.run() == 15
        live = await form.cursor()
        await form.set_cursor({**live, "open": {}})  # as a poll that never saw them
        await run_backfill(services, form.src, progress=False, out=io.StringIO())
        assert {"1", "2"} <= set((await form.cursor())["open"])
    finally:
        await form.close()


async def test_a_round_reads_a_bounded_number_of_open_rows(legacy: LegacyDb, services: Any) -> None:
    """1,000 more rows (two thirds open), 300 re-read per round: every open row's turn comes
    within a few rounds, and an edit to the last one is seen."""
    from structlog.testing import capture_logs

    await fill(legacy, 1000)
    form = Form(services, legacy)
    form.src.opts.rescan.rows_per_round = 300
    form.src.page_size = 500
    try:
        await run_backfill(services, form.src, progress=False, out=io.StringIO())
        open_rows = (await form.cursor())["open"]
        assert len(open_rows) > 600
        last = max(open_rows, key=int)
        await form.staff_respond(int(last), "Sudah ditangani.")
        reads = []
        seen = False
        for _ in range(4):
            form.clock.next_round()
            with capture_logs() as logs:
                n = await form.run()
            reads += [e["read"] for e in logs if e["event"] == "form_rescan_finished"]
            seen = seen or n == 1
        assert max(reads) == 300 and sum(reads[:3]) >= len(open_rows)
        assert seen
        c = await form.complaint(int(last))
        assert [e["kind"] for e in await form.events(c["id"])] == ["legacy_form_updated"]
    finally:
        await form.close()
