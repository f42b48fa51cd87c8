"""What the daemon noticed about an item is kept on the complaint and shown to operators; a
site or form name is never a reporter's name."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

from aiohttp.test_utils import TestClient, TestServer

from aggregator.intake.loop import IngestLoop
from aggregator.intake.normalize import is_site_name
from aggregator.storage.admin import create_token
from aggregator.web.app import make_app
from aggregator.wiring.sources import build_source
from tests.forms.helpers import form_source_config
from tests.forms.legacy import LegacyDb


def test_site_and_form_names_are_not_people() -> None:
    for name in (
        "Form Pengaduan Website",
        "Formulir Pengaduan",
        "noreply",
        "Admin Website",
        "Sistem Informasi Pengaduan",
        "no-reply@kota.go.id",
        "Layanan Aspirasi",
    ):
        assert is_site_name(name), name
    for name in ("Budi Santoso", "Siti Nurhalizah Ré", "Andi", "Ahmad Fauzi", None, ""):
        assert not is_site_name(name), name


async def test_notes_and_flags_reach_the_complaint_page_and_api(
    legacy: LegacyDb, services: Any
) -> None:
    # Reporter 0808 (rows 4 and 11) was registered by the site itself, under its own name;
    # row 11's photo path tries to leave the upload folder (refused, with a note).
    await legacy.run("UPDATE masyarakat SET nama = 'Form Pengaduan Website' WHERE nik = '0808'")
    cfg = form_source_config(legacy)
    services = dataclasses.replace(
        services, settings=services.settings.model_copy(update={"sources": [cfg]})
    )
    src = build_source(cfg, services)
    try:
        assert await IngestLoop(services, src).run_once() == 15
    finally:
        await src.close()
    async with services.pool.acquire() as conn:
        c = await conn.fetchrow(
            "SELECT c.id, c.flags, c.origin, r.name_enc FROM complaints c "
            "LEFT JOIN reporters r ON r.id = c.reporter_id WHERE c.origin->>'row_id' = '11'"
        )
        names = [
            services.crypto.decrypt("name", r["name_enc"])
            for r in await conn.fetch("SELECT name_enc FROM reporters WHERE name_enc IS NOT NULL")
        ]
        _, admin = await create_token(conn, name="uji-admin", role="admin", agency=None)
        _, operator = await create_token(conn, name="uji-op", role="operator", agency=None)
    assert "Form Pengaduan Website" not in names and "Budi Santoso" in names
    assert c["name_enc"] is None
    assert "reporter_name_is_site" in c["flags"]
    photo_flags = [f for f in c["flags"] if f.startswith("photo_")]
    assert photo_flags
    notes = c["origin"]["intake_notes"]
    assert any(n.startswith("foto tidak diambil") for n in notes)

    # dashboard sessions run on real time
    services = dataclasses.replace(services, clock=lambda: dt.datetime.now(dt.UTC))
    async with TestClient(TestServer(make_app(services))) as client:
        api = await (
            await client.get(
                f"/api/complaints/{c['id']}", headers={"Authorization": f"Bearer {admin}"}
            )
        ).json()
        assert api["notes"] == notes and "reporter_name_is_site" in api["flags"]
        resp = await client.post("/dasbor/masuk", data={"token": operator}, allow_redirects=False)
        assert resp.status == 303
        page = await (await client.get(f"/dasbor/pengaduan/{c['id']}")).text()
    assert "Catatan sistem" in page
    assert "nama pengirim adalah nama situs/formulir, bukan pelapor" in page
    assert notes[0] in page
