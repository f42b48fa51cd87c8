"""The public status page: ``/status/<receipt code>`` and ``/status/<Tracking ID>``.

Every notification links here, for complaints from any channel. By Tracking ID the page is
read-only (Tracking IDs are sequential and public on LAPOR! itself; a reply needs the secret
receipt code or the citizen's own channel), and a confidential (rahasia) complaint shows its
status but not the responses. By receipt code (issued by a source that ``IssuesReceipts``,
today ``form_http``) the citizen may also reply; the reply is stored through intake as the
toolkit's status-reply item of the source that issued the code.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl
from zoneinfo import ZoneInfo

from aiohttp import web

from aggregator.intake import ingest
from aggregator.storage import forms as repo
from aggregator.web.branding import branding
from connectors.base import Batch, IssuesReceipts, Source, status_reply_item
from connectors.base.pages import PublicPages
from connectors.base.receipts import normalize_code, sunset_text
from connectors.base.web import RateLimiter, client_key, read_capped

if TYPE_CHECKING:
    from aggregator.wiring.services import Services

PAGES = PublicPages("aggregator.web", "templates/public")

STATUS_LABELS = {
    "received": "Diterima, sedang diteruskan ke SP4N-LAPOR!",
    "manual_pending": "Diterima, sedang dimasukkan ke SP4N-LAPOR! oleh petugas",
    "rejected_by_lapor": "Diterima, sedang dilengkapi oleh petugas",
    "duplicate": "Tergabung dengan pengaduan yang sama",
    "history": "Arsip",
    "belum_terverifikasi": "Menunggu verifikasi SP4N-LAPOR!",
    "terverifikasi": "Terverifikasi",
    "terdisposisi": "Diteruskan ke instansi yang berwenang",
    "diproses": "Sedang diproses instansi",
    "ditindaklanjuti": "Sudah ditindaklanjuti instansi",
    "selesai": "Selesai",
    "tertunda": "Tertunda — menunggu keterangan",
    "arsip": "Diarsipkan",
    "bukan_wewenang": "Bukan wewenang instansi ini",
    "dihapus": "Dihapus oleh SP4N-LAPOR!",
}
REPLY_LIMIT = 64 * 1024


def status_routes(services: Services, receipts: Mapping[str, IssuesReceipts]) -> list[web.RouteDef]:
    """The page's routes, mounted once at the root; ``receipts`` are the sources whose
    citizens hold receipt codes, by name."""
    page = StatusPage(services, receipts)
    return [web.get("/status/{code}", page.show), web.post("/status/{code}", page.reply)]


def _form_fields(body: bytes) -> dict[str, str]:
    # Our own page posts this form (urlencoded, UTF-8): the first value of each field.
    out: dict[str, str] = {}
    for k, v in parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True):
        out.setdefault(k, v)
    return out


class StatusPage:
    def __init__(self, services: Services, receipts: Mapping[str, IssuesReceipts]) -> None:
        self.services = services
        self.receipts = dict(receipts)
        self.limiter = RateLimiter(60, 20)
        self.zone = ZoneInfo(services.settings.sla.timezone)
        self.municipality: str = services.settings.municipality
        self.branding = branding(services.settings)

    def _render(self, name: str, status: int = 200, **ctx: Any) -> web.Response:
        return PAGES.render(name, status=status, **(self.branding.context() | ctx))

    async def _find(self, code: str) -> tuple[str, repo.PublicStatus] | None:
        async with self.services.pool.acquire() as conn:
            for name in self.receipts:
                found = await repo.find_status_by_receipt(conn, name, code)
                if found is not None:
                    return name, found
        return None

    def _not_found(self) -> web.Response:
        return self._render(
            "error.html.j2",
            status=404,
            heading="Kode tidak ditemukan",
            messages=["Kode tanda terima tidak ditemukan. Periksa kembali kode Anda."],
            back=None,
        )

    def _limited(self, request: web.Request) -> web.Response | None:
        wait = self.limiter.take(client_key(request, False))
        if not wait:
            return None
        return self._render(
            "error.html.j2",
            status=429,
            heading="Terlalu banyak permintaan",
            messages=[f"Silakan coba lagi dalam {int(wait) + 1} detik."],
            back=None,
            headers={"Retry-After": str(int(wait) + 1)},
        )

    def _page(
        self, c: repo.PublicStatus, followups: list[repo.PublicFollowup], **ctx: Any
    ) -> web.Response:
        return self._render(
            "status.html.j2",
            tracking_id=c.tracking_id,
            status_label=STATUS_LABELS.get(c.status, c.status),
            received=f"{c.received_at.astimezone(self.zone):%d-%m-%Y %H:%M}",
            agency=c.agency_name,
            followups=[
                {
                    "at": f"{f.at.astimezone(self.zone):%d-%m-%Y}",
                    "agency": f.agency_name,
                    "text": f.text,
                    "kind": f.kind,
                }
                for f in followups
            ],
            **ctx,
        )

    async def show(self, request: web.Request) -> web.Response:
        if (limited := self._limited(request)) is not None:
            return limited
        raw = request.match_info["code"].strip().lstrip("#")
        if raw.isdigit():
            return await self._show_tracking(raw)
        code = normalize_code(request.match_info["code"])
        found = await self._find(code) if code else None
        if found is None:
            return self._not_found()
        name, c = found
        async with self.services.pool.acquire() as conn:
            followups = await repo.list_public_followups(conn, c.complaint_id)
        sunset = self.receipts[name].announces_sunset()
        return self._page(
            c,
            followups,
            code=code,
            sent=request.query.get("terkirim") == "1",
            reply_action=request.path,
            sunset=sunset,
            sunset_text=sunset_text(c.tracking_id),
        )

    async def _show_tracking(self, tracking_id: str) -> web.Response:
        async with self.services.pool.acquire() as conn:
            c = await repo.find_status_by_tracking_id(conn, tracking_id)
            followups = (
                []
                if c is None or c.confidential
                else await repo.list_public_followups(conn, c.complaint_id)
            )
        if c is None:
            return self._render(
                "error.html.j2",
                status=404,
                heading="Pengaduan tidak ditemukan",
                messages=[
                    f"Tidak ada pengaduan dengan Tracking ID #{tracking_id} "
                    "di sini. Periksa kembali nomornya."
                ],
                back=None,
            )
        return self._page(
            c,
            followups,
            code=None,
            sent=False,
            confidential=c.confidential,
            reply_action=None,
            sunset=False,
            sunset_text="",
        )

    async def reply(self, request: web.Request) -> web.StreamResponse:
        if (limited := self._limited(request)) is not None:
            return limited
        code = normalize_code(request.match_info["code"])
        found = await self._find(code) if code else None
        if code is None or found is None:
            return self._not_found()
        name, c = found
        body = await read_capped(request, REPLY_LIMIT)
        if body is None:
            return self._render(
                "error.html.j2",
                status=413,
                heading="Balasan terlalu panjang",
                messages=["Balasan paling banyak 64 KB."],
                back=request.path,
            )
        fields = _form_fields(body)
        if fields.get("website"):  # the honeypot
            return self._render("thanks.html.j2")
        text = (fields.get("balasan") or "").strip()
        if not text:
            return self._render(
                "error.html.j2",
                status=422,
                heading="Balasan kosong",
                messages=["Tulis balasan Anda terlebih dahulu."],
                back=request.path,
            )
        resolved = {"ya": True, "belum": False}.get(fields.get("selesai", ""))
        item = status_reply_item(code, c.complaint_id, text, resolved, self.services.clock())
        source = self.receipts[name]
        assert isinstance(source, Source)
        await ingest(self.services, source, Batch(items=[item], cursor=None))
        raise web.HTTPSeeOther(f"/status/{code}?terkirim=1")
