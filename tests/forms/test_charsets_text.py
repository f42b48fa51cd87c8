"""Per-table charsets (as the server reports them) and HTML entities at any depth."""

from __future__ import annotations

from typing import Any

from connectors.forms.options import SqlTableOptions
from connectors.forms.sql_table import SqlTableSource
from connectors.forms.text import strip_html
from connectors.forms.writeback import FormWriter
from schemas.complaint import ComplaintDraft, LegacyUpdate
from tests.forms.helpers import form_source_config
from tests.forms.legacy import LegacyDb, u8
from tests.forms.test_sql_table import offline, parse, pull_all


async def utf8mb4_responses(legacy: LegacyDb) -> None:
    """The agency converted ``tanggapan`` to utf8mb4 (emoji from a newer admin page) and
    left ``pengaduan`` in latin1."""
    await legacy.run("ALTER TABLE tanggapan CONVERT TO CHARACTER SET utf8mb4")
    conn = await legacy.connect()
    try:
        async with conn.cursor() as cur:
            await cur.execute("SET NAMES utf8mb4")
            await cur.execute(
                "INSERT INTO tanggapan (id_pengaduan, tgl_tanggapan, tanggapan, id_petugas) "
                "VALUES (1, '2025-11-19', %s, 2)",
                (u8("Sudah diperbaiki 👍 — terima kasih"),),
            )
    finally:
        conn.close()


async def test_each_table_is_read_in_its_own_charset(legacy: LegacyDb) -> None:
    await utf8mb4_responses(legacy)
    src = SqlTableSource(form_source_config(legacy), offline())
    try:
        items, _ = await pull_all(src)
        assert src.db.charsets == {"pengaduan": "latin1", "tanggapan": "utf8mb4"}
    finally:
        await src.close()
    row1 = parse(src, items[0])
    assert isinstance(row1, ComplaintDraft)
    assert [r["text"] for r in row1.origin["legacy_responses"]] == [
        "Sudah diperbaiki 👍 — terima kasih"
    ]
    row2 = parse(src, items[1])  # latin1 table, PHP 5 UTF-8 bytes: repaired as before
    assert isinstance(row2, ComplaintDraft) and "café" in row2.content
    assert row2.origin["legacy_responses"][0]["text"].startswith("Terima kasih, laporan")


async def test_write_back_writes_emoji_into_a_utf8mb4_table(legacy: LegacyDb) -> None:
    await utf8mb4_responses(legacy)
    opts = SqlTableOptions.model_validate(
        {
            "url": legacy.url,
            "write_back": {"enabled": True, "tracking_column": "lapor_tracking_id", "staff_id": 1},
        }
    )
    writer = FormWriter("form-pupr", opts)
    try:
        assert await writer.add_response(2, "Selesai ✅ — Dinas PUPR", None)
        assert not await writer.add_response(2, "Selesai ✅ — Dinas PUPR", None)
    finally:
        await writer.close()
    conn = await legacy.connect()
    try:
        async with conn.cursor() as cur:
            await cur.execute("SET NAMES utf8mb4")
            await cur.execute(
                "SELECT tanggapan FROM tanggapan WHERE id_pengaduan = 2 "
                "AND tanggapan LIKE 'Selesai%'"
            )
            got = await cur.fetchall()
    finally:
        conn.close()
    assert [r[0].decode("utf-8") for r in got] == ["Selesai ✅ — Dinas PUPR"]


async def test_a_configured_charset_overrides_the_server(legacy: LegacyDb) -> None:
    cfg = form_source_config(legacy, table_charsets={"tanggapan": "latin1"})
    src = SqlTableSource(cfg, offline())
    try:
        await src.check()
    finally:
        await src.close()
    assert src.db.charsets == {"pengaduan": "latin1", "tanggapan": "latin1"}


async def test_escaped_html_is_decoded_then_stripped(legacy: LegacyDb) -> None:
    await legacy.run(
        "INSERT INTO pengaduan (tgl_pengaduan, nik, isi_laporan, foto, status) VALUES "
        "('2025-11-13', '123', %s, '', '0')",
        (
            u8(
                "&lt;b&gt;Jalan&lt;/b&gt; rusak&amp;nbsp;parah, &amp;lt;i&amp;gt;tolong"
                "&amp;lt;/i&amp;gt; &amp;amp;nbsp;segera &amp;lt;script&amp;gt;x()&amp;lt;"
                "/script&amp;gt;AT&T"
            ),
        ),
    )
    src = SqlTableSource(form_source_config(legacy), offline())
    try:
        items, _ = await pull_all(src)
    finally:
        await src.close()
    draft = parse(src, items[-1])
    assert isinstance(draft, ComplaintDraft)
    assert draft.content == "Jalan rusak parah, tolong segera AT&T"
    assert {
        "html_entities_decoded",
        "html_escaped_repeatedly",
        "html_stripped",
        "script_removed",
    } <= set(draft.flags)
    assert not isinstance(draft, LegacyUpdate)


def test_entities_at_any_depth() -> None:
    cases: dict[str, Any] = {
        "Lampu&amp;nbsp;mati": "Lampu mati",
        "&amp;amp;amp;lt;b&amp;amp;amp;gt;x": "x",
        "suhu &lt; 20 derajat": "suhu < 20 derajat",
        "AT&T dan PT. A&B": "AT&T dan PT. A&B",
        "&#38;lt;b&#38;gt;tebal&#x26;lt;/b&#x26;gt;": "tebal",
    }
    assert {k: strip_html(k)[0] for k in cases} == cases
