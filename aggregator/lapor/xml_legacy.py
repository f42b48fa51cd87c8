"""The ``xml-legacy`` adapter: the old public ``POST /api/stream/addstream`` shape.

``<lapor token="…"><pelapor><email/><telpon/><namadepan/><namabelakang/></pelapor>
<laporan rahasia="1" anonim="1"><isi/></laporan></lapor>`` → ``trackingid`` and
``transaksiid``. It can only create reports: no look-up by external reference (so an
in-doubt push cannot be checked and is sent again), no feed, no replies. It exists to prove
the port: the rest of the daemon does not know which adapter it talks to.
"""

from __future__ import annotations

import time
import xml.etree.ElementTree as ET
from collections.abc import Callable
from xml.sax.saxutils import escape, quoteattr

import aiohttp

from aggregator.errors import InDoubtError, PermanentError, TransientError
from aggregator.lapor.breaker import CircuitBreaker
from aggregator.lapor.errors import BreakerOpen
from aggregator.lapor.http import _retry_after, error_for_status
from aggregator.lapor.models import (
    Agency,
    Category,
    CreateResult,
    RemoteReport,
    ReplyPayload,
    ReportPayload,
    UpdatesPage,
    UploadedAttachment,
)
from aggregator.lapor.ratelimit import RateLimiter, TokenBucket
from schemas.config import LaporConfig


def report_to_xml(token: str, r: ReportPayload) -> str:
    who = r.reporter if (r.reporter is not None and not r.anonymous) else None
    first, _sep, last = ((who.name or "") if who else "").partition(" ")

    def el(tag: str, value: str | None) -> str:
        return f"<{tag}>{escape(value or '')}</{tag}>"

    isi = f"{r.title}\n\n{r.content}"
    return (
        f"<lapor token={quoteattr(token)}><pelapor>"
        f"{el('email', who.email if who else None)}{el('telpon', who.phone if who else None)}"
        f"{el('namadepan', first)}{el('namabelakang', last)}</pelapor>"
        f'<laporan rahasia="{int(r.confidential)}" anonim="{int(r.anonymous)}">'
        f"{el('isi', isi)}</laporan></lapor>"
    )


class XmlLegacyAdapter:
    name = "xml-legacy"

    def __init__(
        self,
        cfg: LaporConfig,
        session: aiohttp.ClientSession,
        *,
        base_url: str | None = None,
        token: str | None = None,
        bucket: RateLimiter | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        url = base_url or (str(cfg.base_url) if cfg.base_url else None)
        if not url:
            raise ValueError("the xml-legacy adapter needs lapor.base_url")
        self.url = url.rstrip("/") + "/api/stream/addstream"
        self.token = token or (cfg.client_secret.get_secret_value() if cfg.client_secret else "")
        self.session = session
        self.timeout = aiohttp.ClientTimeout(
            total=cfg.timeout_s, sock_connect=cfg.connect_timeout_s
        )
        self.bucket: RateLimiter = bucket or TokenBucket(
            cfg.rate_limit_per_s, max(1, cfg.rate_burst // 2), clock
        )
        self.breaker = CircuitBreaker(
            "lapor-xml", failures=cfg.breaker_failures, reset_s=cfg.breaker_reset_s, clock=clock
        )

    async def create_report(self, report: ReportPayload, idempotency_key: str) -> CreateResult:
        if not self.breaker.allow():
            raise BreakerOpen(
                "LAPOR! circuit breaker is open", retry_after=max(1.0, self.breaker.retry_in())
            )
        await self.bucket.acquire()
        body = report_to_xml(self.token, report).encode()
        try:
            async with self.session.post(
                self.url, data=body, timeout=self.timeout, headers={"Content-Type": "text/xml"}
            ) as resp:
                raw, status, headers = await resp.read(), resp.status, resp.headers
        except (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError) as exc:
            self.breaker.failure(type(exc).__name__)
            raise TransientError(f"cannot reach LAPOR!: {type(exc).__name__}") from exc
        except (aiohttp.ClientError, TimeoutError) as exc:
            self.breaker.failure(type(exc).__name__)
            raise InDoubtError(f"LAPOR! did not answer: {type(exc).__name__}") from exc
        if status >= 500:
            self.breaker.failure(f"HTTP {status}")
        else:
            self.breaker.success()
        if status != 200:
            raise error_for_status(
                status,
                {"error": f"http_{status}", "message": raw[:200].decode("utf-8", "replace")},
                _retry_after(headers),
            )
        try:
            root = ET.fromstring(raw)  # noqa: S314 - the peer is LAPOR!, size bounded by aiohttp
        except ET.ParseError as exc:
            raise PermanentError("LAPOR! answered something that is not XML") from exc
        tracking = (root.findtext(".//trackingid") or "").strip()
        if not tracking:
            raise PermanentError(
                "LAPOR! answered without a trackingid", details=raw[:200].decode("utf-8", "replace")
            )
        return CreateResult(tracking_id=tracking, status="belum_terverifikasi")

    async def find_by_external_ref(self, external_ref: str) -> RemoteReport | None:
        return None  # the legacy API cannot look up; an in-doubt push is sent again

    async def get_report(self, tracking_id: str) -> RemoteReport:
        raise PermanentError("the xml-legacy API cannot read reports")

    async def upload_attachment(
        self, filename: str, content_type: str, data: bytes
    ) -> UploadedAttachment:
        from aggregator.lapor.errors import AttachmentRefused

        raise AttachmentRefused("the xml-legacy API takes no attachments")

    async def post_reply(self, tracking_id: str, reply: ReplyPayload, idempotency_key: str) -> str:
        raise PermanentError("the xml-legacy API takes no replies")

    async def read_updates(self, cursor: str | None, limit: int) -> UpdatesPage:
        return UpdatesPage(events=[], next_cursor=cursor)

    async def agencies(self) -> list[Agency]:
        return []

    async def categories(self) -> list[Category]:
        return []
