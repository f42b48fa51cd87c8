"""The sql_table source against the real MariaDB seeded like an old PHP 5 form database."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from aggregator.errors import InvalidInput
from connectors.base import ConnectorContext
from connectors.forms.rows import decode_payload
from connectors.forms.sql_table import SqlTableSource
from schemas.complaint import ComplaintDraft, Ignored, LegacyUpdate
from schemas.config import SourceConfig
from tests.forms.helpers import form_source_config
from tests.forms.legacy import JPEG, LONG_TEXT, LegacyDb

NOW = dt.datetime(2025, 11, 20, 3, 0, tzinfo=dt.UTC)


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> dt.datetime:
        return self.now


def offline() -> ConnectorContext:
    """A context with no core behind it: the fixed clock and no HTTP session."""
    return ConnectorContext(clock=Clock())


async def pull_all(
    src: SqlTableSource,
    cursor: dict[str, Any] | None = None,
) -> tuple[list[Any], dict[str, Any]]:
    items, last = [], cursor or {}
    async for batch in src.pull(cursor):
        items += batch.items
        last = batch.cursor
    return items, last


def parse(src: SqlTableSource, item: Any) -> ComplaintDraft | Ignored | InvalidInput:
    try:
        return src.parse(item)  # type: ignore[return-value]
    except InvalidInput as exc:
        return exc


async def test_every_awkward_row_is_read_and_handled(legacy: LegacyDb, uploads: Path) -> None:
    src = SqlTableSource(form_source_config(legacy, uploads), offline())
    try:
        await src.check()
        items, cursor = await pull_all(src)
    finally:
        await src.close()
    assert [i.source_ref for i in items] == [f"row:{n}" for n in range(1, 16)]
    assert cursor["last_id"] == 15
    got = {int(i.source_ref[4:]): parse(src, i) for i in items}

    # Nothing lost: the payload keeps the exact stored bytes, cut character included.
    assert decode_payload(items[3].payload)["row"]["isi_laporan"] == LONG_TEXT[:65535]

    plain = got[1]
    assert isinstance(plain, ComplaintDraft)
    assert plain.reporter.phone == "+6281234567890" and plain.reporter.nik_valid
    assert plain.submitted_at == dt.datetime(2025, 11, 1, 17, 0, tzinfo=dt.UTC)
    assert "date_only" in plain.flags and plain.legacy_status == "received"

    moji = got[2]
    assert isinstance(moji, ComplaintDraft)
    assert "— sangat gelap" in moji.content and "café" in moji.content
    assert "mojibake_repaired" in moji.flags
    assert moji.reporter.name == "Siti Nurhalizah Ré"
    assert moji.legacy_status == "diproses"
    assert moji.origin["legacy_responses"][0]["text"].startswith("Terima kasih, laporan")
    assert moji.reporter.phone == "+6281234567891"  # "+62 812-3456-7891"

    emoji = got[3]
    assert isinstance(emoji, ComplaintDraft) and "pasar ? ?" in emoji.content
    assert emoji.reporter.nik == "123" and emoji.reporter.nik_valid is False
    assert "nik_invalid" in emoji.flags and emoji.reporter.phone == "+6281234567892"

    cut = got[4]
    assert isinstance(cut, ComplaintDraft)
    assert {"truncated_multibyte", "truncated_at_text_limit"} <= set(cut.flags)
    assert cut.content.endswith("a") and len(cut.content) == 65534
    assert cut.reporter.phone == "+6281234567893"  # "0812 3456 7893"

    zero = got[5]
    assert isinstance(zero, ComplaintDraft)
    assert zero.submitted_at is None and "date_missing" in zero.flags
    assert any("0000-00-00" in n for n in zero.notes)

    enum_blank = got[6]
    assert isinstance(enum_blank, ComplaintDraft)
    assert "status_empty" in enum_blank.flags and enum_blank.legacy_status == "received"

    html = got[7]
    assert isinstance(html, ComplaintDraft)
    assert html.content == "Lampu taman rusak sejak lama"
    assert {"html_stripped", "script_removed"} <= set(html.flags)

    orphan = got[9]
    assert isinstance(orphan, ComplaintDraft)
    assert "orphan_row" in orphan.flags and orphan.reporter.name is None

    photo = got[10]
    assert isinstance(photo, ComplaintDraft)
    assert [(a.filename, a.content_type, a.data) for a in photo.attachments] == [
        ("pohon.jpg", "image/jpeg", JPEG)
    ]
    assert photo.origin["photo_ref"] == "C:\\fakepath\\pohon.jpg"

    traversal = got[11]
    assert isinstance(traversal, ComplaintDraft)
    assert traversal.attachments == () and "photo_refused" in traversal.flags

    assert isinstance(got[12], InvalidInput) and "kosong" in str(got[12])
    assert isinstance(got[13], InvalidInput) and "skrip" in str(got[13])

    future = got[14]
    assert isinstance(future, ComplaintDraft)
    assert future.submitted_at is None and "date_in_future" in future.flags

    old = got[15]
    assert isinstance(old, ComplaintDraft) and old.legacy_status == "selesai"


async def test_watermark_continues_after_the_last_row(legacy: LegacyDb) -> None:
    src = SqlTableSource(form_source_config(legacy), offline())
    try:
        _, cursor = await pull_all(src)
        again, _ = await pull_all(src, cursor)
        assert again == []
        await legacy.run(
            "INSERT INTO pengaduan (tgl_pengaduan, nik, isi_laporan, foto, status) "
            "VALUES ('2025-11-19', '123', 'Baru lagi: got mampet di RT 2.', '', '0')"
        )
        new, cursor2 = await pull_all(src, cursor)
        assert [i.source_ref for i in new] == ["row:16"] and cursor2["last_id"] == 16
    finally:
        await src.close()


async def test_rescan_reports_status_changes_and_new_responses(legacy: LegacyDb) -> None:
    services = offline()
    src = SqlTableSource(form_source_config(legacy), services)
    try:
        _, cursor = await pull_all(src)
        assert cursor["rescan_after"] and "1" in cursor["open"] and "15" not in cursor["open"]
        # Staff keep working in the old PHP admin: no updated_at tells us.
        await legacy.run("UPDATE pengaduan SET status = 'selesai' WHERE id_pengaduan = 1")
        await legacy.run(
            "INSERT INTO tanggapan (id_pengaduan, tgl_tanggapan, tanggapan, "
            "id_petugas) VALUES (3, '2025-11-19', '<p>Sudah diangkut.</p>', 2)"
        )
        await legacy.run("DELETE FROM pengaduan WHERE id_pengaduan = 5")
        # Our own write-back rows (id_petugas = staff_id 1) are not news.
        await legacy.run(
            "INSERT INTO tanggapan (id_pengaduan, tgl_tanggapan, tanggapan, "
            "id_petugas) VALUES (4, '2025-11-19', 'dari satukanal', 1)"
        )
        before, _ = await pull_all(src, cursor)
        assert before == []  # not due yet
        services.clock.now = NOW + dt.timedelta(hours=1)
        updates, cursor2 = await pull_all(src, cursor)
    finally:
        await src.close()
    by_row = {u.meta["row_id"]: u for u in updates}
    assert set(by_row) == {"1", "3", "5"}  # not 4: only our own write-back touched it
    assert by_row["1"].meta["legacy_status"] == "selesai"
    assert by_row["3"].meta["responses"] == 1
    assert by_row["5"].meta["kind"] == "legacy_row_deleted"
    closed = src.parse(by_row["1"])
    assert isinstance(closed, LegacyUpdate) and not closed.deleted
    assert (closed.status_raw, closed.status) == ("selesai", "selesai")
    assert closed.thread_key == "form-row:pengaduan:1"
    answered = src.parse(by_row["3"])
    assert isinstance(answered, LegacyUpdate)
    assert [r.text for r in answered.responses] == ["Sudah diangkut."]
    gone = src.parse(by_row["5"])
    assert isinstance(gone, LegacyUpdate) and gone.deleted and gone.row_id == "5"
    assert "1" not in cursor2["open"] and "3" in cursor2["open"]
    # A re-pull of this round (same cursor) repeats every source_ref: intake stores it once.
    again, _ = await pull_all_again(legacy, services, cursor)
    assert {u.source_ref for u in again} == {u.source_ref for u in updates}
    assert by_row["3"].source_ref.startswith("upd:3:")


async def pull_all_again(
    legacy: LegacyDb,
    services: ConnectorContext,
    cursor: dict[str, Any],
) -> tuple[list[Any], dict[str, Any]]:
    src = SqlTableSource(form_source_config(legacy), services)
    try:
        return await pull_all(src, cursor)
    finally:
        await src.close()


async def test_read_only_user_can_be_a_source(legacy: LegacyDb) -> None:
    from tests.forms.legacy import create_read_only_user, drop_user

    user, url = await create_read_only_user(legacy)
    try:
        src = SqlTableSource(form_source_config(url), offline())
        try:
            await src.check()
            items, _ = await pull_all(src)
            assert len(items) == 15
        finally:
            await src.close()
    finally:
        await drop_user(user)


async def test_wrong_password_is_an_auth_error(legacy: LegacyDb) -> None:
    from aggregator.errors import AuthError

    url = legacy.url.replace("root@", "root:salah@")
    src = SqlTableSource(form_source_config(url), offline())
    with pytest.raises(AuthError):
        await src.check()
    await src.close()


async def test_mapping_names_a_missing_column(legacy: LegacyDb) -> None:
    from aggregator.errors import ConfigError

    cfg = form_source_config(legacy, fields={"content": "isi", "name": "nama"})
    src = SqlTableSource(cfg, offline())
    with pytest.raises(ConfigError, match="isi"):
        await src.check()
    await src.close()


async def test_bad_query_is_refused_at_configuration() -> None:
    from aggregator.errors import ConfigError

    with pytest.raises(ConfigError, match="read-only"):
        SqlTableSource(
            SourceConfig(
                name="f",
                kind="sql_table",
                options={"url": "mysql://root@127.0.0.1/x", "query": "DELETE FROM pengaduan"},
            )
        )


async def test_postgresql_form_database(pg_server_dsn: str) -> None:
    """The same mapping on a form database kept in PostgreSQL (asyncpg), UTF-8 text."""
    from tests.conftest import drop_database, make_database

    dsn = await make_database(pg_server_dsn, template=None)
    try:
        conn = await asyncpg.connect(dsn)
        try:
            await conn.execute("""
                CREATE TABLE pengaduan (id_pengaduan serial PRIMARY KEY, tgl_pengaduan varchar(20),
                    nik varchar(16), isi_laporan text, foto varchar(255), status varchar(10));
                INSERT INTO pengaduan (tgl_pengaduan, nik, isi_laporan, foto, status) VALUES
                  ('12/11/2025', '6271011503900001', 'Jalan rusak — parah sekali', '', 'proses'),
                  ('2025-02-30', '123', 'Jalan rusak lagi Ã© ini', '', '0')""")
        finally:
            await conn.close()
        cfg = SourceConfig(
            name="form-pg",
            kind="sql_table",
            options={"url": dsn, "table": "pengaduan", "responses": None},
        )
        src = SqlTableSource(cfg, offline())
        try:
            await src.check()
            items, cursor = await pull_all(src)
        finally:
            await src.close()
        a, b = (src.parse(i) for i in items)
        assert isinstance(a, ComplaintDraft) and isinstance(b, ComplaintDraft)
        assert a.content == "Jalan rusak — parah sekali" and a.legacy_status == "diproses"
        assert a.occurred_on == dt.date(2025, 11, 12)
        assert b.content == "Jalan rusak lagi é ini" and "date_invalid" in b.flags
        assert cursor["last_id"] == 2
    finally:
        await drop_database(pg_server_dsn, dsn)


async def test_photo_by_url_from_the_old_web_server(legacy: LegacyDb) -> None:
    """Uploads served by the old PHP site: the row's file name joined to ``url_base``."""
    import aiohttp
    from aiohttp import web
    from aiohttp.test_utils import TestServer

    async def upload(request: web.Request) -> web.Response:
        if request.match_info["name"] != "pohon.jpg":
            raise web.HTTPNotFound()
        return web.Response(body=JPEG, content_type="image/jpeg")

    app = web.Application()
    app.add_routes([web.get("/uploads/{name}", upload)])
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        async with aiohttp.ClientSession() as http:
            services = ConnectorContext(clock=Clock(), http=http)
            cfg = form_source_config(legacy, photo={"url_base": str(server.make_url("/uploads/"))})
            src = SqlTableSource(cfg, services)
            try:
                items, _ = await pull_all(src)
            finally:
                await src.close()
    finally:
        await server.close()
    by_ref = {i.source_ref: src.parse(i) for i in items[9:11]}
    fetched, refused = by_ref["row:10"], by_ref["row:11"]
    assert isinstance(fetched, ComplaintDraft) and isinstance(refused, ComplaintDraft)
    assert [a.data for a in fetched.attachments] == [JPEG]
    assert "photo_refused" in refused.flags  # ../../etc/passwd never becomes a URL either
