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
import subprocess
import sys
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
[[sources]]
name = "web-kota"
kind = "form_http"
agency = "PUPR"
""")
    return path


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
        phone = await browser.new_context(viewport={"width": 390, "height": 844}, locale="id-ID")
        citizen = Visit(await phone.new_page(), artifacts, "warga")
        page = citizen.page
        await page.goto(f"{base}/intake/web-kota/")
        # Readable on a phone: nothing wider than the screen.
        assert await page.evaluate("document.documentElement.scrollWidth <= 390")
        await citizen.check("formulir")
        await page.fill("#isi", COMPLAINT)
        if await page.locator("#nama").count():
            await page.fill("#nama", "Siti Aminah")
        await page.click("button[type=submit]")
        code = (await page.inner_text("#kode")).strip()
        assert code
        await citizen.check("tanda-terima")

        async def tracking_id() -> str | None:
            async with pool.acquire() as conn:
                tid: str | None = await conn.fetchval(
                    "SELECT lapor_tracking_id FROM complaints WHERE lapor_tracking_id IS NOT NULL"
                )
                return tid

        tid = await wait_for(tracking_id, "the complaint pushed to LAPOR!")
        await page.goto(f"{base}/status/{code}")
        assert tid in await page.inner_text("body")
        await citizen.check("status-kode")
        await page.goto(f"{base}/status/{tid}")
        assert tid in await page.title() or tid in await page.inner_text("h1")
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
                " 'terdisposisi')", "Judul " + XSS, COMPLAINT)
            await conn.execute(
                "INSERT INTO lapor_agencies (id, name) VALUES ('45', $1)"
                " ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name", "Dinas PUPR " + XSS)
            await conn.execute(
                "INSERT INTO sla_clocks (complaint_id, clock, started_at, due_at, agency_id)"
                " SELECT id, 'first_response', now(), now() + interval '5 days', '45'"
                " FROM complaints ON CONFLICT DO NOTHING")
        from aggregator.followup.sla import WorkingCalendar
        from aggregator.followup.stats import month_start, refresh_months
        from schemas.config import SlaConfig

        now = dt.datetime.now(dt.UTC)
        this_month = month_start(now.date())
        await refresh_months(pool, WorkingCalendar(SlaConfig()), "Asia/Jakarta", this_month,
                             this_month, now)
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
            "/dasbor/pengaduan.csv", "/dasbor/tenggat.csv", "/dasbor/karantina.csv",
            "/dasbor/antrian.csv", "/dasbor/opd.csv", "/dasbor/indikator.csv"}
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
