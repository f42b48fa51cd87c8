"""Source ``form_http``: a public endpoint an old form's ``action`` can point to.

Mounted by the core under ``/intake/<source>/`` (``routes()``). Every submission is stored
as its original request body (the raw item) through ``context.ingest`` and parsed by the same
pure function at intake, so a quarantined one can be replayed. The citizen gets a receipt
code for the core's public status page (``/status/<code>``, ``aggregator/web/status.py``),
where replies come back as the toolkit's status-reply items. Public means hostile: a per-IP
token bucket, a body size cap read without trusting Content-Length, a honeypot field, uploads
whose type is sniffed from their bytes, and receipt codes with 50 random bits that name
nothing personal.
"""

from __future__ import annotations

from typing import Any, ClassVar

import structlog
from aiohttp import web

from connectors.base import (
    STATUS_REPLY_TYPE,
    Batch,
    ConnectorContext,
    RawItem,
    Sink,
    load_options,
    parse_status_reply,
)
from connectors.base.conformance import ConformanceSamples
from connectors.base.errors import InvalidInput
from connectors.base.pages import PublicPages
from connectors.base.receipts import new_receipt_code, normalize_code, sunset_text
from connectors.base.web import RateLimiter, client_key, read_capped
from connectors.forms.formdata import FormInvalid, human_size, parse_body, to_draft
from connectors.forms.options import FormHttpOptions
from schemas.complaint import Ignored, Parsed
from schemas.config import SourceConfig

__all__ = ["FormHttpSource", "RateLimiter", "normalize_code"]

log = structlog.get_logger(__name__)

PAGES = PublicPages("connectors.forms")
render = PAGES.render


class FormHttpSource:
    kind: ClassVar[str] = "form_http"

    options_model: ClassVar[type[FormHttpOptions]] = FormHttpOptions

    @classmethod
    def conformance_samples(cls) -> ConformanceSamples:
        from connectors.forms.samples import form_http_samples

        return form_http_samples()

    def __init__(self, cfg: SourceConfig, context: ConnectorContext | None = None) -> None:
        self.name = cfg.name
        self.cfg = cfg
        self.context = context or ConnectorContext(source=cfg.name)
        self.opts: FormHttpOptions = load_options(FormHttpOptions, cfg.name, cfg.options)
        self.limiter = RateLimiter(self.opts.rate_limit_per_min, self.opts.rate_burst)

    # -- source protocol: everything arrives by POST (push only: no pull/ack) -----------
    async def check(self) -> None:
        return None

    def parse(self, item: RawItem) -> Parsed:
        if item.content_type == STATUS_REPLY_TYPE:
            try:
                return parse_status_reply(item)
            except (ValueError, KeyError) as exc:
                raise InvalidInput(f"not a status-page reply: {exc}") from exc
        code = item.source_ref.removeprefix("form:")
        form = parse_body(item.payload, item.content_type, self.opts.charset)
        if form.fields.get(self.opts.honeypot_field):
            return Ignored(reason="honeypot field filled (automated submission)")
        return to_draft(self.opts, form, code, item.received_at)

    def sink(self) -> Sink | None:
        return None  # the receipt and status pages are how this channel answers

    def announces_sunset(self) -> bool:
        """The status page repeats this form's sunset notice to its citizens."""
        return self.cfg.sunset

    async def close(self) -> None:
        return None

    # -- HTTP ----------------------------------------------------------------------------
    def routes(self) -> list[web.RouteDef]:
        # "" as well as "/": an old form's action may name the prefix with or without the
        # trailing slash, and it cannot be edited to follow a redirect with its POST body.
        return [
            web.get("/", self.show_form),
            web.post("/", self.submit),
            web.get("", self.show_form),
            web.post("", self.submit),
            web.get("/terima/{code}", self.receipt),
        ]

    def _ctx(self) -> dict[str, Any]:
        return {
            **self.context.branding.context(),
            "municipality": self.context.municipality,
            "sunset": self.cfg.sunset,
            "sunset_text": sunset_text(),
        }

    async def show_form(self, request: web.Request) -> web.Response:
        return render(
            "form.html.j2",
            action=request.path,
            f=self.opts.fields,
            photo_field=self.opts.photo_field,
            honeypot=self.opts.honeypot_field,
            privacy_field=self.opts.privacy_field,
            min_chars=self.opts.min_content_chars,
            **self._ctx(),
        )

    def _error(
        self,
        status: int,
        heading: str,
        messages: list[str],
        request: web.Request,
        headers: dict[str, str] | None = None,
    ) -> web.Response:
        return render(
            "error.html.j2",
            status=status,
            heading=heading,
            messages=messages,
            back=request.path if request.method == "POST" else None,
            headers=headers,
            **self._ctx(),
        )

    async def submit(self, request: web.Request) -> web.StreamResponse:
        wait = self.limiter.take(client_key(request, self.opts.trust_forwarded_for))
        if wait:
            log.warning("form_rate_limited", source=self.name)
            return self._error(
                429,
                "Terlalu banyak kiriman",
                [
                    "Anda mengirim terlalu banyak pengaduan dalam waktu singkat. Silakan coba lagi "
                    f"dalam {int(wait) + 1} detik."
                ],
                request,
                headers={"Retry-After": str(int(wait) + 1)},
            )
        limit = self.opts.max_body_bytes
        too_big = self._error(
            413,
            "Kiriman terlalu besar",
            [
                f"Ukuran kiriman paling besar {human_size(limit)}. Perkecil foto "
                "atau kirim tanpa lampiran."
            ],
            request,
        )
        if request.content_length is not None and request.content_length > limit:
            return too_big
        body = await read_capped(request, limit)  # never trust Content-Length alone
        if body is None:
            return too_big
        ctype = request.headers.get("Content-Type", "application/x-www-form-urlencoded")
        code = new_receipt_code()
        item = RawItem(
            source_ref=f"form:{code}",
            payload=body,
            content_type=ctype,
            received_at=self.context.clock(),
            meta={"receipt_code": code},
        )
        try:  # the same pure parse intake runs: tell the citizen what to fix *now*
            parsed = self.parse(item)
        except FormInvalid as exc:
            return self._error(422, "Formulir belum lengkap", exc.messages, request)
        except InvalidInput:
            return self._error(
                400,
                "Formulir tidak dapat dibaca",
                ["Data formulir rusak atau tidak lengkap. Silakan isi ulang."],
                request,
            )
        if isinstance(parsed, Ignored):
            log.info("form_honeypot_tripped", source=self.name)
            return render("thanks.html.j2", **self._ctx())
        result = await self.context.ingest(Batch(items=[item], cursor=None))
        if result.quarantined or not result.stored:
            log.error("form_submission_not_stored", source=self.name)
            return self._error(
                500,
                "Pengaduan belum tersimpan",
                ["Terjadi gangguan saat menyimpan pengaduan Anda. Silakan coba lagi nanti."],
                request,
            )
        log.info(
            "form_submission_received",
            source=self.name,
            spooled=result.spooled,
            complaint_id=str(result.complaint_ids[0]) if result.complaint_ids else None,
        )
        raise web.HTTPSeeOther(f"{request.path.rstrip('/')}/terima/{code}")

    async def receipt(self, request: web.Request) -> web.Response:
        code = normalize_code(request.match_info["code"])
        if code is None:
            return self._error(
                404, "Kode tidak dikenal", ["Kode tanda terima tidak dikenal."], request
            )
        return render("receipt.html.j2", code=code, status_url=f"/status/{code}", **self._ctx())
