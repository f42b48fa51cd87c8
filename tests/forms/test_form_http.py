"""The drop-in form endpoint through a real HTTP listener, as an old form's action."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from aggregator.intake.sealing import open_payload
from aggregator.web.status import status_routes
from aggregator.wiring.sources import build_source
from connectors.forms.formdata import FormInvalid, parse_body, to_draft
from connectors.forms.http import FormHttpSource, RateLimiter, normalize_code
from connectors.forms.options import FormHttpOptions
from schemas.config import SourceConfig
from tests.forms.legacy import JPEG


def app_for(services: Any, src: FormHttpSource) -> web.Application:
    """As the core mounts it: intake routes under /intake/<source>/, status at the root."""
    app = web.Application()
    sub = web.Application()
    sub.add_routes(src.routes())
    app.add_subapp(f"/intake/{src.name}", sub)
    app.add_routes(status_routes(services, {src.name: src}))
    return app


@pytest.fixture
async def form(services: Any) -> AsyncIterator[tuple[TestClient, FormHttpSource]]:
    cfg = SourceConfig(
        name="web-pupr",
        kind="form_http",
        sunset=True,
        options={
            "rate_limit_per_min": 60,
            "rate_burst": 8,
            "max_body_bytes": 200_000,
            "max_photo_bytes": 100_000,
        },
    )
    services = dataclasses.replace(
        services, settings=services.settings.model_copy(update={"sources": [cfg]})
    )
    src = build_source(cfg, services)
    client = TestClient(TestServer(app_for(services, src), host="127.0.0.1"))
    await client.start_server()
    try:
        yield client, src
    finally:
        await client.close()


def multipart(
    fields: dict[str, str], photo: bytes | None = None, filename: str = "jalan.jpg"
) -> aiohttp.FormData:
    data = aiohttp.FormData()
    for k, v in fields.items():
        data.add_field(k, v)
    if photo is not None:
        data.add_field("foto", photo, filename=filename, content_type="image/jpeg")
    return data


async def test_multipart_post_with_photo_gives_receipt_and_status_page(
    form: tuple[TestClient, FormHttpSource], services: Any
) -> None:
    client, _ = form
    resp = await client.post(
        "/intake/web-pupr/",
        data=multipart(
            {
                "isi_laporan": "Jalan di depan pasar lama berlubang besar — motor sering jatuh.",
                "nama": "Budi Santoso",
                "telp": "0812-3456-7890",
                "nik": "6271011503900001",
                "website": "",
            },
            JPEG,
        ),
        allow_redirects=False,
    )
    assert resp.status == 303
    receipt_url = resp.headers["Location"]
    assert re.fullmatch(r"/intake/web-pupr/terima/[0-9A-Z]{5}-[0-9A-Z]{5}", receipt_url)
    code = receipt_url.rsplit("/", 1)[1]
    page = await (await client.get(receipt_url)).text()
    assert code in page and "Kode tanda terima" in page and f"/status/{code}" in page
    assert "digantikan oleh SP4N-LAPOR!" in page  # sunset mode tells the citizen

    async with services.pool.acquire() as conn:
        c = await conn.fetchrow("SELECT id, content, status::text, origin FROM complaints")
        att = await conn.fetchrow(
            "SELECT a.content_type, a.data, ca.filename FROM attachments a "
            "JOIN complaint_attachments ca USING (sha256)"
        )
        raw = await conn.fetchrow(
            "SELECT payload, payload_key, content_type FROM raw_items WHERE state = 'accepted'"
        )
        jobs = await conn.fetch("SELECT kind, payload FROM jobs ORDER BY id")
    assert c["origin"]["receipt_code"] == code and c["status"] == "received"
    # The photo is re-encoded without its metadata before anything passes it on.
    assert (att["content_type"], att["filename"]) == ("image/jpeg", "jalan.jpg")
    assert bytes(att["data"]).startswith(b"\xff\xd8") and bytes(att["data"]) != JPEG
    assert raw["content_type"].startswith("multipart/form-data; boundary=")
    assert JPEG in open_payload(services.crypto, raw["payload"], raw["payload_key"])
    assert JPEG not in bytes(raw["payload"])  # the request as it came, encrypted at rest
    assert [(j["kind"], j["payload"].get("event")) for j in jobs] == [
        ("push", None),
        ("notify", "sunset"),
    ]

    # LAPOR! progress shows on the status page; personal data never does.
    async with services.pool.acquire() as conn:
        await conn.execute(
            "UPDATE complaints SET lapor_tracking_id = '1916449', status = "
            "'ditindaklanjuti', agency_name = 'Dinas PUPR' WHERE id = $1",
            c["id"],
        )
        await conn.execute(
            "INSERT INTO followups (complaint_id, at, agency_name, text, label) VALUES "
            "($1, now(), 'Dinas PUPR', 'Lubang sudah ditambal oleh UPT Jalan.', 'substantive')",
            c["id"],
        )
    status = await client.get(f"/status/{code.lower()}")
    html = await status.text()
    assert status.status == 200
    assert "#1916449" in html and "Sudah ditindaklanjuti instansi" in html
    assert "Lubang sudah ditambal oleh UPT Jalan." in html
    for secret in ("Budi", "0812", "6271011503900001", "motor sering jatuh"):
        assert secret not in html

    # The reporter answers on the status page: a reply to LAPOR!, not a new complaint.
    r = await client.post(
        f"/status/{code}",
        data={"balasan": "Terima kasih, sudah rapi.", "selesai": "ya", "website": ""},
        allow_redirects=False,
    )
    assert r.status == 303 and r.headers["Location"] == f"/status/{code}?terkirim=1"
    async with services.pool.acquire() as conn:
        reply = await conn.fetchrow("SELECT complaint_id, text, resolved FROM reporter_replies")
        n = await conn.fetchval("SELECT count(*) FROM complaints")
        up = await conn.fetchval("SELECT count(*) FROM jobs WHERE kind = 'reply_up'")
    assert (reply["complaint_id"], reply["text"], reply["resolved"]) == (
        c["id"],
        "Terima kasih, sudah rapi.",
        True,
    )
    assert n == 1 and up == 1

    # Only the receipt code speaks for the report: a status-reply item naming this complaint
    # with another code (a crafted request, a bug) is held, not sent upstream.
    from aggregator.intake import ingest
    from connectors.base import Batch, status_reply_item

    _client, source = form
    forged = status_reply_item(
        "ZZZZZ-99999", c["id"], "Sudah beres, tutup.", True, dt.datetime.now(dt.UTC)
    )
    await ingest(services, source, Batch(items=[forged], cursor=None))
    async with services.pool.acquire() as conn:
        rows = await conn.fetch(
            "SELECT text, verified, verified_by, unverified_reason FROM"
            " reporter_replies ORDER BY created_at"
        )
        up = await conn.fetchval("SELECT count(*) FROM jobs WHERE kind = 'reply_up'")
    assert [(r["verified"], r["verified_by"]) for r in rows] == [(True, "receipt"), (False, None)]
    assert rows[1]["unverified_reason"] == (
        "kode tanda terima tidak cocok dengan pengaduan #1916449"
    )
    assert up == 1


async def test_urlencoded_post_from_an_old_form(
    form: tuple[TestClient, FormHttpSource], services: Any
) -> None:
    client, _ = form
    resp = await client.post(
        "/intake/web-pupr",
        data={  # an action without the slash
            "isi_laporan": "Lampu jalan mati sepanjang Jl. Yos Sudarso sejak minggu lalu.",
            "telp": "+62 813 1111 2222",
        },
        allow_redirects=False,
    )
    assert resp.status == 303 and "/intake/web-pupr/terima/" in resp.headers["Location"]
    async with services.pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM complaints") == 1


async def test_validation_messages_are_in_bahasa_indonesia(
    form: tuple[TestClient, FormHttpSource], services: Any
) -> None:
    client, _ = form
    resp = await client.post(
        "/intake/web-pupr/",
        data=multipart(
            {"isi_laporan": "rusak", "telp": "abc", "email": "bukan-email"},
            b"MZ\x90\x00 this is an exe",
            filename="foto.jpg",
        ),
    )
    html = await resp.text()
    assert resp.status == 422
    assert "Isi laporan wajib diisi" in html
    assert "Nomor telepon tidak dikenali" in html
    assert "Alamat e-mail tidak valid" in html
    assert "Berkas lampiran harus berupa JPG, PNG, PDF" in html
    async with services.pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM raw_items") == 0


async def test_honeypot_is_thanked_and_dropped(
    form: tuple[TestClient, FormHttpSource], services: Any
) -> None:
    client, _ = form
    resp = await client.post(
        "/intake/web-pupr/",
        data={
            "isi_laporan": "Beli obat murah di situs kami sekarang juga, diskon besar!",
            "website": "http://spam.example",
        },
    )
    assert resp.status == 200 and "Terima kasih" in await resp.text()
    async with services.pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM complaints") == 0


async def test_size_limit_and_rate_limit(form: tuple[TestClient, FormHttpSource]) -> None:
    client, _ = form
    big = await client.post(
        "/intake/web-pupr/",
        data=multipart(
            {"isi_laporan": "Foto terlalu besar untuk dikirim lewat formulir."},
            JPEG + b"\0" * 250_000,
        ),
    )
    assert big.status == 413 and "paling besar 195 KB" in await big.text()
    # Under the body cap (read whole, in many chunks) but over the photo cap: told why.
    photo = await client.post(
        "/intake/web-pupr/",
        data=multipart(
            {"isi_laporan": "Foto ini lebih besar dari batas ukuran foto."}, JPEG + b"\0" * 150_000
        ),
    )
    assert photo.status == 422 and "Ukuran foto paling besar 98 KB" in await photo.text()
    statuses = []
    for _ in range(12):
        r = await client.post("/intake/web-pupr/", data={"isi_laporan": "x"})
        statuses.append(r.status)
    assert 429 in statuses
    r = await client.post("/intake/web-pupr/", data={"isi_laporan": "x"})
    assert r.status == 429 and int(r.headers["Retry-After"]) >= 1
    assert "Terlalu banyak kiriman" in await r.text()


async def test_unknown_status_code_is_a_plain_404(form: tuple[TestClient, FormHttpSource]) -> None:
    client, _ = form
    for code in ("ABCDE-FGHJK", "x", "ABCDE-FGHJU", "%27%3B--"):
        r = await client.get(f"/status/{code}")
        assert r.status == 404 and "tidak ditemukan" in await r.text()


def test_pure_parsing_of_a_windows_1252_page_and_fakepath() -> None:
    opts = FormHttpOptions(charset="windows-1252")
    form = parse_body(
        b"isi_laporan=Sungai+tercemar+limbah+pabrik+caf%E9+dekat+jembatan",
        "application/x-www-form-urlencoded",
        "windows-1252",
    )
    assert to_draft(opts, form, "C").content == "Sungai tercemar limbah pabrik café dekat jembatan"
    body = (
        b'--b\r\nContent-Disposition: form-data; name="isi_laporan"\r\n\r\n'
        b"Sampah dibuang ke sungai setiap malam oleh truk.\r\n"
        b'--b\r\nContent-Disposition: form-data; name="foto"; '
        b'filename="C:\\fakepath\\sungai.jpg"\r\nContent-Type: image/jpeg\r\n\r\n'
        + JPEG
        + b"\r\n--b--\r\n"
    )
    d = to_draft(FormHttpOptions(), parse_body(body, "multipart/form-data; boundary=b"), "C")
    assert d.attachments[0].filename == "sungai.jpg" and d.attachments[0].data == JPEG
    with pytest.raises(FormInvalid):
        to_draft(
            FormHttpOptions(), parse_body(b"isi_laporan=", "application/x-www-form-urlencoded"), "C"
        )


def test_codes_and_limiter() -> None:
    assert normalize_code("abcde-fghjk") == "ABCDE-FGHJK"
    assert normalize_code("0O1IL-22222") == "00111-22222"
    assert normalize_code("ABCDE-FGHJU") is None  # U is not in the alphabet
    now = [0.0]
    lim = RateLimiter(per_min=6, burst=2, clock=lambda: now[0])
    assert lim.take("a") == 0 and lim.take("a") == 0 and lim.take("a") > 0
    assert lim.take("b") == 0
    now[0] += 10.0
    assert lim.take("a") == 0


async def test_form_offers_anonim_and_rahasia_with_a_privacy_notice(
    form: tuple[TestClient, FormHttpSource], services: Any
) -> None:
    client, _ = form
    page = await (await client.get("/intake/web-pupr/")).text()
    for value in ("biasa", "anonim", "rahasia"):
        assert f'name="kerahasiaan" value="{value}"' in page
    assert "Pemberitahuan privasi" in page and "UU No. 27 Tahun 2022" in page
    assert "<title>Formulir pengaduan — " in page
    text = "Pungutan liar di loket pelayanan KTP kelurahan, diminta Rp50.000 tiap berkas."
    for choice in ("anonim", "rahasia", None):
        fields = {"isi_laporan": text + f" ({choice})", "nama": "Siti", "telp": "081311112222"}
        if choice:
            fields["kerahasiaan"] = choice
        resp = await client.post("/intake/web-pupr/", data=fields, allow_redirects=False)
        assert resp.status == 303, await resp.text()
    async with services.pool.acquire() as conn:
        rows = await conn.fetch("SELECT content, anonymous, confidential FROM complaints")
    flags = {
        r["content"].rsplit("(", 1)[1].rstrip(")"): (r["anonymous"], r["confidential"])
        for r in rows
    }
    assert flags == {"anonim": (True, False), "rahasia": (False, True), "None": (False, False)}
    bad = await client.post(
        "/intake/web-pupr/", data={"isi_laporan": text, "kerahasiaan": "publik"}
    )
    assert bad.status == 422 and "Pilihan kerahasiaan tidak dikenali" in await bad.text()


async def test_logo_and_privacy_contact_from_configuration(tmp_path: Any, services: Any) -> None:
    from aggregator.errors import ConfigError
    from aggregator.web.branding import branding
    from tests.browser.test_pages import logo_png

    logo = tmp_path / "logo.png"
    logo.write_bytes(logo_png())
    settings = services.settings.model_copy(update={"municipality": "Kota Contoh"})
    settings.public = settings.public.model_copy(
        update={"logo": logo, "privacy_contact": "ppid@contoh.go.id"}
    )
    b = branding(settings)
    assert b.municipality == "Kota Contoh" and b.logo is not None
    assert b.logo.startswith("data:image/png;base64,")
    services = dataclasses.replace(services, settings=settings)
    cfg = SourceConfig(name="web-kota", kind="form_http")
    src = build_source(cfg, services)
    client = TestClient(TestServer(app_for(services, src), host="127.0.0.1"))
    await client.start_server()
    try:
        page = await (await client.get("/intake/web-kota/")).text()
        status = await client.get("/status/1999999")
        status_page = await status.text()
    finally:
        await client.close()
    for html in (page, status_page):
        assert f'<img src="{b.logo}" alt="Logo Kota Contoh">' in html
        assert "ppid@contoh.go.id" in html
    assert status.status == 404 and "<title>Pengaduan tidak ditemukan — Kota Contoh</title>" in (
        status_page
    )
    fake = tmp_path / "logo2.png"
    fake.write_bytes(b"GIF89a not a png")
    settings.public = settings.public.model_copy(update={"logo": fake})
    with pytest.raises(ConfigError, match=r"public\.logo: .* is not a image/png image"):
        branding(settings)


async def test_a_field_longer_than_its_column_is_refused_naming_the_limit(
    form: tuple[TestClient, FormHttpSource], services: Any
) -> None:
    """The old schema's sizes: ``masyarakat.nama varchar(35)``, ``isi_laporan text``."""
    client, _ = form
    fields = {
        "isi_laporan": "Jalan berlubang di depan pasar, mohon diperbaiki. " * 1400,
        "nama": "Budi Santoso bin Ahmad Sulaiman Hadiwijaya",
        "telp": "081234567890",
    }
    r = await client.post("/intake/web-pupr/", data=fields)
    assert r.status == 422
    page = await r.text()
    assert "Isi laporan paling panjang 65.535 byte; kiriman Anda 69.999 byte" in page
    assert "Nama paling panjang 35 karakter; kiriman Anda 42 karakter." in page
    async with services.pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM raw_items") == 0
    fields["nama"], fields["isi_laporan"] = "Budi Santoso", fields["isi_laporan"][:65000]
    r = await client.post("/intake/web-pupr/", data=fields, allow_redirects=False)
    assert r.status == 303
