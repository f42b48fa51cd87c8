"""Every page, in a real browser, as its users meet it.

A citizen writes through the old web form on a phone-sized screen (with a ``<script>`` in
the text), reads the receipt and both status pages; the real daemon (`satukanal run`, the
embedded LAPOR! sandbox) pushes the complaint. An administrator then logs in with the
keyboard, crawls every dashboard page from the menu and the links, and clicks every action:
retry and discard of dead jobs, replay of a quarantined item, log out. Every page must meet
the accessibility basics (tests/browser/a11y.js), raise no script error or policy violation,
and keep the citizen's markup inert. A screenshot of each page is kept as an artefact.
"""

from __future__ import annotations

import datetime as dt
import re
import struct
import subprocess
import sys
import zlib
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import pytest

from aggregator.crypto import generate_key
from aggregator.web.dashboard import routes as dashboard_routes
from aggregator.web.views import routes as view_routes
from tests.e2e.test_followup_loop import ENV, launch, stop_daemon, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]
A11Y = (Path(__file__).with_name("a11y.js")).read_text()
XSS = '<script>window.__xss = 1</script><img src=x onerror="window.__xss=2">'
COMPLAINT = (
    "Jalan di depan SDN 3 Jl. Merdeka berlubang besar sejak dua minggu, sudah tiga motor jatuh. "
    + XSS
)


def write_config(tmp: Path, dsn: str, port: int) -> Path:
    path = tmp / "satukanal.toml"
    path.write_text(f"""
municipality = "Kota Contoh"
data_dir = "{tmp / "data"}"
log_format = "json"
[database]
url = "{dsn}"
[crypto]
hmac_key = "{generate_key()}"
[[crypto.keys]]
id = "k1"
secret = "{generate_key()}"
[agencies]
PUPR = "45"
[lapor]
sandbox = true
updates_poll_s = 0.5
[http]
port = {port}
public_base_url = "http://127.0.0.1:{port}"
[queue]
poll_s = 0.3
[public]
logo = "{tmp / "logo.png"}"
privacy_contact = "ppid@contoh.go.id"
[[sources]]
name = "web-kota"
kind = "form_http"
agency = "PUPR"
""")
    (tmp / "logo.png").write_bytes(logo_png())
    return path


def logo_png(size: int = 48) -> bytes:
    """A small real PNG (a blue disc on white), as a municipality's logo file would be."""
    rows = b""
    for y in range(size):
        row = bytearray([0])  # filter: none
        for x in range(size):
            inside = (x - size / 2) ** 2 + (y - size / 2) ** 2 < (size / 2.2) ** 2
            row += bytes((11, 61, 102) if inside else (255, 255, 255))
        rows += bytes(row)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


PHONE_WIDTH = 390


async def readable_on_a_phone(page: Any, title: str, name: str, artifacts: Path) -> None:
    """The public page at phone width: its exact title, the municipality's name and logo in
    the header, nothing wider than the screen, text and buttons large enough to use."""
    assert await page.title() == title
    assert await page.evaluate(f"document.documentElement.scrollWidth <= {PHONE_WIDTH}"), name
    header = page.locator("header.kop")
    assert "Kota Contoh" in await header.inner_text()
    logo = header.locator("img")
    assert await logo.get_attribute("alt") == "Logo Kota Contoh"
    assert await logo.evaluate("img => img.complete && img.naturalWidth === 48")
    box = await logo.bounding_box()
    assert box is not None and box["height"] >= 32 and box["x"] + box["width"] <= PHONE_WIDTH
    assert await page.evaluate("parseFloat(getComputedStyle(document.body).fontSize)") >= 16, name
    for b in await page.locator("main button").all():
        bb = await b.bounding_box()
        assert bb is not None and bb["height"] >= 44 and bb["x"] + bb["width"] <= PHONE_WIDTH
    # What the citizen sees first, without scrolling (the full page is kept by Visit.check).
    await page.screenshot(path=str(artifacts / f"warga-{name}-layar-ponsel.png"))


def cli(cfg: Path, *args: str) -> str:
    out = subprocess.run(
        [sys.executable, "-m", "aggregator", "--config", str(cfg), *args],
        capture_output=True,
        text=True,
        env=ENV,
        timeout=120,
        check=True,
    )
    return out.stdout


class Visit:
    """One browser page that records script errors and CSP violations, and checks pages."""

    def __init__(self, page: Any, artifacts: Path, prefix: str) -> None:
        self.page = page
        self.artifacts = artifacts
        self.prefix = prefix
        self.errors: list[str] = []
        page.on("pageerror", lambda e: self.errors.append(f"pageerror: {e}"))
        page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))

    async def check(self, name: str) -> None:
        problems = await self.page.evaluate(A11Y)
        await self.page.screenshot(
            path=str(self.artifacts / f"{self.prefix}-{name}.png"), full_page=True
        )
        assert problems == [], (self.page.url, problems)
        assert self.errors == [], (self.page.url, self.errors)
        assert await self.page.evaluate("window.__xss === undefined"), self.page.url


def page_name(path: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", path.strip("/").lower()) or "root"


async def test_every_page_in_a_real_browser(
    tmp_path: Path, db_dsn: str, pool: asyncpg.Pool, browser: Any, artifacts: Path
) -> None:
    log_path = tmp_path / "daemon.log"
    cfg, base, proc = await launch(log_path, lambda port: write_config(tmp_path, db_dsn, port))
    try:
        # ---- a citizen on a phone ------------------------------------------------------------
        phone = await browser.new_context(
            viewport={"width": PHONE_WIDTH, "height": 844},
            locale="id-ID",
            is_mobile=True,
            has_touch=True,
        )
        citizen = Visit(await phone.new_page(), artifacts, "warga")
        page = citizen.page
        await page.goto(f"{base}/intake/web-kota/")
        await readable_on_a_phone(page, "Formulir pengaduan — Kota Contoh", "formulir", artifacts)
        # The privacy notice: what, why, who, how long, and how to have it erased.
        notice = await page.inner_text("section.privasi")
        for words in (
            "Data yang kami kumpulkan",
            "Untuk apa",
            "Siapa yang melihat",
            "Berapa lama",
            "dihapus",
            "ppid@contoh.go.id",
        ):
            assert words in notice, words
        await citizen.check("formulir")
        await page.fill("#isi", COMPLAINT)
        if await page.locator("#nama").count():
            await page.fill("#nama", "Siti Aminah")
        await page.check("#anonim")  # as ANONIM does by SMS
        await page.click("button[type=submit]")
        code = (await page.inner_text("#kode")).strip()
        assert code
        await readable_on_a_phone(page, "Tanda terima — Kota Contoh", "tanda-terima", artifacts)
        await citizen.check("tanda-terima")
        async with pool.acquire() as conn:
            anonymous = await conn.fetchval("SELECT anonymous FROM complaints")
        assert anonymous is True

        async def tracking_id() -> str | None:
            async with pool.acquire() as conn:
                tid: str | None = await conn.fetchval(
                    "SELECT lapor_tracking_id FROM complaints WHERE lapor_tracking_id IS NOT NULL"
                )
                return tid

        tid = await wait_for(tracking_id, "the complaint pushed to LAPOR!")
        await page.goto(f"{base}/status/{code}")
        assert tid in await page.inner_text("body")
        await readable_on_a_phone(
            page, f"Status pengaduan #{tid} — Kota Contoh", "status-kode", artifacts
        )
        await citizen.check("status-kode")
        await page.goto(f"{base}/status/{tid}")
        await readable_on_a_phone(
            page, f"Status pengaduan #{tid} — Kota Contoh", "status-tracking-id", artifacts
        )
        assert "None" not in await page.title()
        await citizen.check("status-tracking-id")
        await phone.close()

        # ---- what an administrator has to fix -----------------------------------------------
        async with pool.acquire() as conn:
            complaint_id = await conn.fetchval("SELECT id FROM complaints LIMIT 1")
            dead = [
                await conn.fetchval(
                    "INSERT INTO jobs (kind, complaint_id, payload, state, attempts, last_error) "
                    "VALUES ('notify', $1, '{}', 'dead', 12, $2) RETURNING id",
                    complaint_id,
                    f"sms gateway refused ({n})",
                )
                for n in (1, 2)
            ]
            quarantined = await conn.fetchval(
                "INSERT INTO raw_items (source, source_ref, payload, state, reason, content_type) "
                "VALUES ('web-kota', 'rusak-1', 'isi_laporan=', 'quarantined', "
                "'form post without complaint text', 'application/x-www-form-urlencoded') "
                "RETURNING id"
            )
            # Markup in a complaint's title and in an agency name (it comes from LAPOR!) stays
            # text in lists, charts and the scorecard.
            await conn.execute(
                "INSERT INTO complaints (id, source, channel, title, content, agency_id,"
                " lapor_tracking_id, lapor_created_at, status)"
                " VALUES (gen_random_uuid(), 'web-kota', 'web', $1, $2, '45', '99001', now(),"
                " 'terdisposisi')",
                "Judul " + XSS,
                COMPLAINT,
            )
            await conn.execute(
                "INSERT INTO lapor_agencies (id, name) VALUES ('45', $1)"
                " ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name",
                "Dinas PUPR " + XSS,
            )
            await conn.execute(
                "INSERT INTO sla_clocks (complaint_id, clock, started_at, due_at, agency_id)"
                " SELECT id, 'first_response', now(), now() + interval '5 days', '45'"
                " FROM complaints ON CONFLICT DO NOTHING"
            )
        from aggregator.followup.sla import WorkingCalendar
        from aggregator.followup.stats import month_start, refresh_months
        from schemas.config import SlaConfig

        now = dt.datetime.now(dt.UTC)
        this_month = month_start(now.date())
        await refresh_months(
            pool, WorkingCalendar(SlaConfig()), "Asia/Jakarta", this_month, this_month, now
        )
        token = cli(cfg, "token", "create", "--role", "admin", "--name", "peramban").split()[-1]
        assert token.startswith("skn_"), token

        desk = await browser.new_context(viewport={"width": 1280, "height": 900}, locale="id-ID")
        admin = Visit(await desk.new_page(), artifacts, "dasbor")
        page = admin.page
        await page.goto(f"{base}/dasbor")
        assert urlsplit(page.url).path == "/dasbor/masuk"
        await admin.check("masuk")
        # Keyboard only: Tab to the token field, type, Enter.
        for _ in range(15):
            await page.keyboard.press("Tab")
            if (
                await page.evaluate("document.activeElement && document.activeElement.id")
                == "token"
            ):
                break
        else:
            raise AssertionError("the token field cannot be reached with Tab")
        await page.keyboard.type(token)
        await page.keyboard.press("Enter")
        await page.wait_for_url(f"{base}/dasbor")

        # Crawl every dashboard page reachable from the menu and the links.
        visited: dict[str, str] = {}
        downloads: set[str] = set()
        todo = ["/dasbor"]
        while todo and len(visited) < 80:
            path = todo.pop(0)
            if path in visited:
                continue
            if urlsplit(path).path.endswith(".csv"):
                # An export is a download, not a page: fetched with the session, checked.
                resp = await page.request.get(base + path)
                assert resp.status == 200 and "text/csv" in resp.headers["content-type"], path
                assert (await resp.text()).startswith("\ufeff"), path
                downloads.add(path)
                visited[path] = "csv"
                continue
            await page.goto(base + path)
            visited[path] = await page.title()
            await admin.check(page_name(path))
            hrefs = await page.eval_on_selector_all(
                "a[href]", "els => els.map(e => e.getAttribute('href'))"
            )
            for href in hrefs:
                u = urlsplit(href)
                if u.netloc or not u.path.startswith("/dasbor") or "static" in u.path:
                    continue
                target = u.path + (f"?{u.query}" if u.query else "")
                if target not in visited and target not in todo:
                    todo.append(target)
        patterns = [
            re.compile("^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(info)) + "$")
            for r in [*dashboard_routes, *view_routes]
            if getattr(r, "method", "") == "GET"
            and (info := getattr(r, "path", "")).startswith("/dasbor")
            and info != "/dasbor/masuk"
        ]
        paths = {urlsplit(p).path for p in visited}
        unreached = [p.pattern for p in patterns if not any(p.match(x) for x in paths)]
        assert unreached == [], f"dashboard pages no link leads to: {unreached}"

        assert {urlsplit(d).path for d in downloads} >= {
            "/dasbor/pengaduan.csv",
            "/dasbor/tenggat.csv",
            "/dasbor/karantina.csv",
            "/dasbor/antrian.csv",
            "/dasbor/opd.csv",
            "/dasbor/indikator.csv",
        }
        # The pictures are there, drawn on the server; the agency is named, its markup inert.
        await page.goto(f"{base}/dasbor")
        assert await page.locator("svg[role=img]").count() >= 3  # sparklines, daily, funnel
        await page.goto(f"{base}/dasbor/opd")
        assert "Dinas PUPR <script>" in await page.inner_text("main")
        assert await page.locator("svg.chart").count() == 4
        await admin.check("opd-nama-xss")
        await page.goto(f"{base}/dasbor/pengaduan?q=Judul")
        assert "Judul <script>" in await page.inner_text("main")
        await admin.check("pengaduan-cari-xss")
        await page.goto(f"{base}/dasbor/tenggat")
        assert "Judul <script>" in await page.inner_text("main")
        assert await page.evaluate("document.querySelectorAll('script').length") == 0
        await admin.check("tenggat-xss")

        # The citizen's markup never becomes markup: intake keeps the text, the page runs
        # nothing (Visit.check asserts window.__xss is unset) and holds no script element.
        await page.goto(f"{base}/dasbor/pengaduan/{complaint_id}")
        assert "berlubang besar" in await page.inner_text("main")
        assert await page.evaluate("document.querySelectorAll('script, img[src=x]').length") == 0
        await admin.check("pengaduan-detail-xss")

        # ---- every action ----------------------------------------------------------------------
        await page.goto(f"{base}/dasbor/antrian")
        async with page.expect_navigation():
            await page.locator(f"form[action='/dasbor/antrian/{dead[0]}/ulangi'] button").click()
        assert "Diulangi." in await page.inner_text("main")
        await admin.check("antrian-diulangi")
        form = page.locator(f"form[action='/dasbor/antrian/{dead[1]}/buang']")
        await form.locator("input[name=reason]").fill("nomor sudah tidak aktif")
        async with page.expect_navigation():
            await form.locator("button").click()
        assert "Dibuang." in await page.inner_text("main")
        await admin.check("antrian-dibuang")
        async with pool.acquire() as conn:
            rows = {
                r["id"]: r
                for r in await conn.fetch(
                    "SELECT id, payload, state::text AS state, last_error FROM jobs "
                    "WHERE id = ANY($1)",
                    dead,
                )
            }
        assert "retried_at" in rows[dead[0]]["payload"]  # sent round again with fresh attempts
        assert rows[dead[1]]["state"] == "dead"
        assert "nomor sudah tidak aktif" in (rows[dead[1]]["last_error"] or "")

        await page.goto(f"{base}/dasbor/karantina")
        main = await page.inner_text("main")
        # The reason in Indonesian, with its stable code and a hint; the original on request.
        assert "Isi pengaduan kosong." in main and "teks_kosong" in main and "Periksa" in main
        await page.locator("details summary").first.click()
        assert "form post without complaint text" in await page.inner_text("main")
        async with page.expect_navigation():
            await page.locator(
                f"form[action='/dasbor/karantina/{quarantined}/ulang'] button"
            ).click()
        assert urlsplit(page.url).path == "/dasbor/karantina"
        assert await page.locator("[role=status]").count() == 1
        await admin.check("karantina-diproses-ulang")

        await page.get_by_role("button", name="Keluar").click()
        await page.wait_for_url(f"{base}/dasbor/masuk")
        await page.goto(f"{base}/dasbor/antrian")
        assert urlsplit(page.url).path == "/dasbor/masuk"  # the session is gone on the server
        await desk.close()
    finally:
        await stop_daemon(proc)
