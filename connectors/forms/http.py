"""Source ``form_http``: a public endpoint an old form's ``action`` can point to.

Mounted by the core under ``/intake/<source>/`` (``routes()``); the status pages
(``status_routes()``) are mounted at the root, ``/status/<code>``. Every submission is stored
as its original request body (the raw item) and parsed by the same pure function at intake,
so a quarantined one can be replayed. Public means hostile: a per-IP token bucket, a body size
cap read without trusting Content-Length, a honeypot field, uploads whose type is sniffed from
their bytes, and receipt codes with 50 random bits that name nothing personal.
"""

from __future__ import annotations

import json
import secrets
import time
import uuid
from collections import OrderedDict
from collections.abc import AsyncIterator
from functools import cache
from typing import TYPE_CHECKING, Any, ClassVar

import jinja2
import structlog
from aiohttp import web

from aggregator.errors import InvalidInput
from aggregator.storage.sqlfiles import q
from connectors.base import Batch, RawItem, Sink
from connectors.forms.formdata import FormInvalid, human_size, parse_body, to_draft
from connectors.forms.options import FormHttpOptions, validate_options
from schemas.complaint import Channel, Ignored, Parsed, ReplyDraft
from schemas.config import SourceConfig

if TYPE_CHECKING:
    from aggregator.wiring.services import Services

log = structlog.get_logger(__name__)

REPLY_TYPE = "application/x-satukanal-status-reply+json"
_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base32: no I, L, O, U
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


def new_receipt_code() -> str:
    raw = "".join(secrets.choice(_ALPHABET) for _ in range(10))
    return f"{raw[:5]}-{raw[5:]}"


def normalize_code(code: str) -> str | None:
    c = code.strip().upper().replace("-", "").replace("O", "0").replace("I", "1").replace("L", "1")
    if len(c) != 10 or any(ch not in _ALPHABET for ch in c):
        return None
    return f"{c[:5]}-{c[5:]}"


def sunset_text(tracking_id: str | None = None) -> str:
    tail = (f" Tracking ID LAPOR! Anda: #{tracking_id}." if tracking_id else
            " Tracking ID LAPOR! Anda akan tampil di halaman status.")
    return ("Formulir ini segera dihentikan dan digantikan oleh SP4N-LAPOR! "
            "(www.lapor.go.id, SMS 1708). Untuk pengaduan berikutnya gunakan SP4N-LAPOR!." + tail)


@cache
def _env() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("connectors.forms", "templates"),
        autoescape=jinja2.select_autoescape(["html", "j2"]), trim_blocks=True,
        lstrip_blocks=True)


def render(name: str, status: int = 200, headers: dict[str, str] | None = None,
           **ctx: Any) -> web.Response:
    ctx.setdefault("municipality", "Pemerintah Daerah")
    html = _env().get_template(name).render(**ctx)
    # Cache, frame and content-security headers come from the core (web/security.py).
    return web.Response(text=html, status=status, content_type="text/html", charset="utf-8",
                        headers=headers)


class RateLimiter:
    """Token bucket per client key, bounded in memory (least recently seen keys dropped)."""

    def __init__(self, per_min: float, burst: int, max_keys: int = 20000,
                 clock: Any = time.monotonic) -> None:
        self.rate = per_min / 60.0
        self.burst = float(burst)
        self.max_keys = max_keys
        self.clock = clock
        self.buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def take(self, key: str) -> float:
        """0 if allowed, else seconds to wait."""
        now = self.clock()
        tokens, at = self.buckets.pop(key, (self.burst, now))
        tokens = min(self.burst, tokens + (now - at) * self.rate)
        wait = 0.0
        if tokens >= 1:
            tokens -= 1
        else:
            wait = (1 - tokens) / self.rate
        self.buckets[key] = (tokens, now)
        while len(self.buckets) > self.max_keys:
            self.buckets.popitem(last=False)
        return wait


def client_key(request: web.Request, trust_forwarded: bool) -> str:
    remote = request.remote or "?"
    if trust_forwarded and remote in ("127.0.0.1", "::1"):
        fwd = request.headers.get("X-Forwarded-For", "")
        if fwd:
            return fwd.split(",")[-1].strip()
    return remote


async def read_capped(request: web.Request, limit: int) -> bytes | None:
    """The whole body, or None as soon as it grows past ``limit`` (chunked uploads carry no
    Content-Length, and one ``read(n)`` may return less than is coming)."""
    chunks: list[bytes] = []
    size = 0
    while chunk := await request.content.read(64 * 1024):
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


class FormHttpSource:
    kind: ClassVar[str] = "form_http"

    def __init__(self, cfg: SourceConfig, services: Services | None = None) -> None:
        self.name = cfg.name
        self.cfg = cfg
        self.services = services
        self.opts: FormHttpOptions = validate_options(FormHttpOptions, cfg.name, cfg.options)
        self.limiter = RateLimiter(self.opts.rate_limit_per_min, self.opts.rate_burst)
        self.status_limiter = RateLimiter(60, 20)

    # -- source protocol: everything arrives by POST, nothing to pull --------------------
    async def check(self) -> None:
        return None

    async def pull(self, cursor: dict[str, Any] | None) -> AsyncIterator[Batch]:
        return
        yield  # pragma: no cover - an async generator that yields nothing

    async def ack(self, batch: Batch) -> None:
        return None

    def parse(self, item: RawItem) -> Parsed:
        if item.content_type == REPLY_TYPE:
            data = json.loads(item.payload)
            return ReplyDraft(channel=Channel.WEB, text=data["text"],
                              complaint_id=data["complaint_id"], resolved=data.get("resolved"),
                              sent_at=item.received_at)
        code = item.source_ref.removeprefix("form:")
        form = parse_body(item.payload, item.content_type, self.opts.charset)
        if form.fields.get(self.opts.honeypot_field):
            return Ignored(reason="honeypot field filled (automated submission)")
        return to_draft(self.opts, form, code, item.received_at)

    def sink(self) -> Sink | None:
        return None  # the receipt and status pages are how this channel answers

    async def close(self) -> None:
        return None

    # -- HTTP ----------------------------------------------------------------------------
    def routes(self) -> list[web.RouteDef]:
        # "" as well as "/": an old form's action may name the prefix with or without the
        # trailing slash, and it cannot be edited to follow a redirect with its POST body.
        return [web.get("/", self.show_form), web.post("/", self.submit),
                web.get("", self.show_form), web.post("", self.submit),
                web.get("/terima/{code}", self.receipt)]

    def status_routes(self) -> list[web.RouteDef]:
        return status_routes(self.services, {self.name: self})

    def _ctx(self) -> dict[str, Any]:
        muni = self.services.settings.municipality if self.services else "Pemerintah Daerah"
        return {"municipality": muni, "sunset": self.cfg.sunset, "sunset_text": sunset_text()}

    async def show_form(self, request: web.Request) -> web.Response:
        return render("form.html.j2", action=request.path, f=self.opts.fields,
                      photo_field=self.opts.photo_field, honeypot=self.opts.honeypot_field,
                      min_chars=self.opts.min_content_chars, **self._ctx())

    def _error(self, status: int, heading: str, messages: list[str], request: web.Request,
               headers: dict[str, str] | None = None) -> web.Response:
        return render("error.html.j2", status=status, heading=heading, messages=messages,
                      back=request.path if request.method == "POST" else None,
                      headers=headers, **self._ctx())

    async def submit(self, request: web.Request) -> web.StreamResponse:
        from aggregator.intake import ingest

        wait = self.limiter.take(client_key(request, self.opts.trust_forwarded_for))
        if wait:
            log.warning("form_rate_limited", source=self.name)
            return self._error(429, "Terlalu banyak kiriman", [
                "Anda mengirim terlalu banyak pengaduan dalam waktu singkat. Silakan coba lagi "
                f"dalam {int(wait) + 1} detik."], request,
                headers={"Retry-After": str(int(wait) + 1)})
        limit = self.opts.max_body_bytes
        too_big = self._error(413, "Kiriman terlalu besar", [
            f"Ukuran kiriman paling besar {human_size(limit)}. Perkecil foto "
            "atau kirim tanpa lampiran."], request)
        if request.content_length is not None and request.content_length > limit:
            return too_big
        body = await read_capped(request, limit)  # never trust Content-Length alone
        if body is None:
            return too_big
        ctype = request.headers.get("Content-Type", "application/x-www-form-urlencoded")
        code = new_receipt_code()
        item = RawItem(source_ref=f"form:{code}", payload=body, content_type=ctype,
                       received_at=self.services.clock() if self.services else None,
                       meta={"receipt_code": code})
        try:  # the same pure parse intake runs: tell the citizen what to fix *now*
            parsed = self.parse(item)
        except FormInvalid as exc:
            return self._error(422, "Formulir belum lengkap", exc.messages, request)
        except InvalidInput:
            return self._error(400, "Formulir tidak dapat dibaca", [
                "Data formulir rusak atau tidak lengkap. Silakan isi ulang."], request)
        if isinstance(parsed, Ignored):
            log.info("form_honeypot_tripped", source=self.name)
            return render("thanks.html.j2", **self._ctx())
        assert self.services is not None
        result = await ingest(self.services, self, Batch(items=[item], cursor=None))  # type: ignore[arg-type]  # None keeps the cursor
        if result.quarantined or not result.complaint_ids:
            log.error("form_submission_not_stored", source=self.name)
            return self._error(500, "Pengaduan belum tersimpan", [
                "Terjadi gangguan saat menyimpan pengaduan Anda. Silakan coba lagi nanti."],
                request)
        log.info("form_submission_received", source=self.name,
                 complaint_id=str(result.complaint_ids[0]))
        raise web.HTTPSeeOther(f"{request.path.rstrip('/')}/terima/{code}")

    async def receipt(self, request: web.Request) -> web.Response:
        code = normalize_code(request.match_info["code"])
        if code is None:
            return self._error(404, "Kode tidak dikenal", ["Kode tanda terima tidak dikenal."],
                               request)
        return render("receipt.html.j2", code=code, status_url=f"/status/{code}", **self._ctx())


# -- the public status page --------------------------------------------------------------

def status_routes(services: Any, sources: dict[str, Any]) -> list[web.RouteDef]:
    """``/status/{code}`` and its reply form, for every ``form_http`` source in ``sources``
    (the core app mounts these once, at the root)."""
    forms = {n: s for n, s in sources.items() if isinstance(s, FormHttpSource)}
    page = StatusPage(services, forms)
    return [web.get("/status/{code}", page.show), web.post("/status/{code}", page.reply)]


class StatusPage:
    def __init__(self, services: Any, sources: dict[str, FormHttpSource]) -> None:
        self.services = services
        self.sources = sources
        self.limiter = RateLimiter(60, 20)

    async def _find(self, code: str) -> tuple[FormHttpSource, Any] | None:
        async with self.services.pool.acquire() as conn:
            for name, src in self.sources.items():
                row = await conn.fetchrow(q("find_status_by_receipt"), name, code)
                if row is not None:
                    return src, row
        return None

    def _not_found(self) -> web.Response:
        return render("error.html.j2", status=404, heading="Kode tidak ditemukan",
                      messages=["Kode tanda terima tidak ditemukan. Periksa kembali kode Anda."],
                      back=None, municipality=self.services.settings.municipality)

    def _limited(self, request: web.Request) -> web.Response | None:
        wait = self.limiter.take(client_key(request, False))
        if not wait:
            return None
        return render("error.html.j2", status=429, heading="Terlalu banyak permintaan",
                      messages=[f"Silakan coba lagi dalam {int(wait) + 1} detik."], back=None,
                      headers={"Retry-After": str(int(wait) + 1)},
                      municipality=self.services.settings.municipality)

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
        src, c = found
        async with self.services.pool.acquire() as conn:
            followups = await conn.fetch(q("list_public_followups"), c["id"])
        zone = _zone(self.services)
        return render(
            "status.html.j2", code=code, tracking_id=c["lapor_tracking_id"],
            status_label=STATUS_LABELS.get(c["status"], c["status"]),
            received=f"{c['received_at'].astimezone(zone):%d-%m-%Y %H:%M}",
            agency=c["agency_name"], sent=request.query.get("terkirim") == "1",
            followups=[{"at": f"{f['at'].astimezone(zone):%d-%m-%Y}", "agency": f["agency_name"],
                        "text": f["text"], "kind": f["kind"]} for f in followups],
            reply_action=request.path, municipality=self.services.settings.municipality,
            sunset=src.cfg.sunset, sunset_text=sunset_text(c["lapor_tracking_id"]))

    async def _show_tracking(self, tracking_id: str) -> web.Response:
        """The page every notification links to, for a complaint from any channel.

        Tracking IDs are sequential and public on LAPOR! itself, so this view is read-only
        (no reply form: that needs the secret receipt code or the citizen's own channel),
        and a confidential (rahasia) complaint shows its status but not the responses."""
        async with self.services.pool.acquire() as conn:
            c = await conn.fetchrow(q("find_status_by_tracking_id"), tracking_id)
            followups = [] if c is None or c["confidential"] else await conn.fetch(
                q("list_public_followups"), c["id"])
        if c is None:
            return render("error.html.j2", status=404, heading="Pengaduan tidak ditemukan",
                          messages=[f"Tidak ada pengaduan dengan Tracking ID #{tracking_id} "
                                    "di sini. Periksa kembali nomornya."],
                          back=None, municipality=self.services.settings.municipality)
        zone = _zone(self.services)
        return render(
            "status.html.j2", code=None, tracking_id=c["lapor_tracking_id"],
            status_label=STATUS_LABELS.get(c["status"], c["status"]),
            received=f"{c['received_at'].astimezone(zone):%d-%m-%Y %H:%M}",
            agency=c["agency_name"], sent=False, confidential=c["confidential"],
            followups=[{"at": f"{f['at'].astimezone(zone):%d-%m-%Y}", "agency": f["agency_name"],
                        "text": f["text"], "kind": f["kind"]} for f in followups],
            reply_action=None, municipality=self.services.settings.municipality,
            sunset=False, sunset_text="")

    async def reply(self, request: web.Request) -> web.StreamResponse:
        from aggregator.intake import ingest

        if (limited := self._limited(request)) is not None:
            return limited
        code = normalize_code(request.match_info["code"])
        found = await self._find(code) if code else None
        if found is None:
            return self._not_found()
        src, c = found
        body = await read_capped(request, 64 * 1024)
        if body is None:
            return render("error.html.j2", status=413, heading="Balasan terlalu panjang",
                          messages=["Balasan paling banyak 64 KB."], back=request.path,
                          municipality=self.services.settings.municipality)
        form = parse_body(body, request.headers.get("Content-Type", ""), "utf-8")
        if form.fields.get("website"):
            return render("thanks.html.j2", municipality=self.services.settings.municipality)
        text = (form.fields.get("balasan") or "").strip()
        if not text:
            return render("error.html.j2", status=422, heading="Balasan kosong",
                          messages=["Tulis balasan Anda terlebih dahulu."], back=request.path,
                          municipality=self.services.settings.municipality)
        resolved = {"ya": True, "belum": False}.get(form.fields.get("selesai", ""))
        payload = json.dumps({"complaint_id": str(c["id"]), "text": text[:20000],
                              "resolved": resolved}).encode()
        item = RawItem(source_ref=f"reply:{code}:{uuid.uuid4()}", payload=payload,
                       content_type=REPLY_TYPE, received_at=self.services.clock(),
                       meta={"receipt_code": code})
        await ingest(self.services, src, Batch(items=[item], cursor=None))  # type: ignore[arg-type]  # None keeps the cursor
        raise web.HTTPSeeOther(f"/status/{code}?terkirim=1")


def _zone(services: Any) -> Any:
    from zoneinfo import ZoneInfo

    return ZoneInfo(services.settings.sla.timezone)
