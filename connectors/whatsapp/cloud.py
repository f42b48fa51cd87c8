"""The WhatsApp Business Cloud API: the webhook (verification handshake, signed message and
status posts) and the Graph API client that downloads media and sends answers.

A webhook post is verified (``X-Hub-Signature-256``: HMAC-SHA256 of the raw body with the
app secret) before a byte of it is parsed. Its messages are stored through the core intake
as one batch, each message its own raw item keyed by its ``wamid`` (so the platform's
re-deliveries, which go on for days, are stored once), with its media downloaded first: the
media URLs expire within minutes. Only then is the post answered 200; a post the database
could not take is answered 503 and the platform delivers it again later.

Answers follow the platform's rules: free text (and SUDAH/BELUM buttons) only inside the
24-hour customer-service window that the citizen's last message opened; outside it only
approved template messages, whose names are configuration. A message that may not be sent
is refused here, never sent to fail upstream.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import hashlib
import hmac
import json
import re
from collections import OrderedDict
from typing import Any, ClassVar

import aiohttp
import structlog
from aiohttp import web

from connectors.base import (
    Batch,
    ConnectorContext,
    DeliveryReport,
    Origin,
    OutboundMessage,
    RawItem,
    SendResult,
    load_options,
)
from connectors.base.conformance import ConformanceSamples
from connectors.base.errors import (
    AuthError,
    InDoubtError,
    PermanentError,
    TransientError,
)
from connectors.base.web import read_capped
from connectors.whatsapp.options import Media, WhatsAppCloudOptions
from connectors.whatsapp.parser import (
    BUTTON_NO,
    BUTTON_YES,
    NotAWebhook,
    Record,
    cloud_messages,
    cloud_statuses,
    message_ref,
    parse_item,
    phone_of,
)
from schemas.complaint import Parsed
from schemas.config import SourceConfig

log = structlog.get_logger(__name__)


CONTENT_TYPE = "application/x-satukanal-whatsapp+json"
# Graph API error codes (developers.facebook.com, "WhatsApp Cloud API error codes").
AUTH_CODES = {0, 10, 190, 200}
RETRY_CODES = {1, 2, 4, 80007, 130429, 131000, 131016, 131048, 131056, 133004}
RE_ENGAGEMENT = 131047  # outside the 24-hour window


def signature_ok(secret: bytes, body: bytes, header: str | None) -> bool:
    """``X-Hub-Signature-256: sha256=<hex>`` over the raw body."""
    if not header or not header.startswith("sha256="):
        return False
    expected = hmac.new(secret, body, hashlib.sha256).hexdigest().encode()
    # As bytes: compare_digest refuses str with non-ASCII characters (a TypeError, a 500).
    given = header.removeprefix("sha256=").strip().lower().encode("utf-8", "surrogateescape")
    return hmac.compare_digest(expected, given)


def template_param(text: str, limit: int) -> str:
    """A template parameter: one line (the platform refuses new lines, tabs and runs of
    spaces in parameters), at most ``limit`` characters, cut at a word."""
    flat = re.sub(r"\s+", " ", text).strip() or "-"
    if len(flat) <= limit:
        return flat
    cut = flat[: limit - 1].rsplit(" ", 1)[0]
    return cut + "…"


async def read_body(request: web.Request, limit: int) -> bytes:
    """A webhook's whole body, refused with 413 past ``limit`` (the toolkit's capped read:
    one ``read(n)`` may return less than is coming)."""
    if (request.content_length or 0) > limit:
        raise web.HTTPRequestEntityTooLarge(max_size=limit, actual_size=request.content_length or 0)
    raw = await read_capped(request, limit)
    if raw is None:
        raise web.HTTPRequestEntityTooLarge(max_size=limit, actual_size=limit + 1)
    return raw


def map_error(status: int, body: Any) -> Exception:
    err = body.get("error") if isinstance(body, dict) else None
    code = err.get("code") if isinstance(err, dict) else None
    message = (err or {}).get("message") if isinstance(err, dict) else None
    details = (
        ((err or {}).get("error_data") or {}).get("details") if isinstance(err, dict) else None
    )
    what = f"WhatsApp {status} code {code}: {message or ''} {details or ''}".strip()[:300]
    if code in AUTH_CODES or (status in (401, 403) and code is None):
        return AuthError(what)
    if code in RETRY_CODES or status >= 500 or status == 429:
        return TransientError(what)
    return PermanentError(what)


class GraphApi:
    """The few Graph API calls satukanal makes, with its limits and error mapping."""

    def __init__(self, context: ConnectorContext, opts: WhatsAppCloudOptions) -> None:
        self.context = context
        self.opts = opts
        self.base = f"{str(opts.graph_url).rstrip('/')}/{opts.api_version}"

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.opts.access_token.get_secret_value()}"}

    async def media(self, media_id: str, limits: Media) -> tuple[bytes, str]:
        """Download one media object: its URL first (valid for minutes), then the bytes,
        refused when of a type or size a complaint may not carry."""
        http = self.context.require_http()
        timeout = aiohttp.ClientTimeout(total=limits.download_timeout_s)
        async with http.get(
            f"{self.base}/{media_id}", headers=self._headers(), timeout=timeout
        ) as r:
            meta = await r.json(content_type=None)
            if r.status != 200:
                raise map_error(r.status, meta)
        mime = str(meta.get("mime_type") or "").split(";")[0].strip()
        if mime not in limits.types:
            raise PermanentError(f"type {mime or 'unknown'} is not accepted")
        size = int(meta.get("file_size") or 0)
        if size > limits.max_bytes:
            raise PermanentError(f"{size} bytes, over the limit of {limits.max_bytes}")
        async with http.get(str(meta["url"]), headers=self._headers(), timeout=timeout) as r:
            if r.status != 200:
                raise PermanentError(f"media URL answered {r.status} (expired?)")
            data = bytearray()
            async for chunk in r.content.iter_chunked(65536):
                data += chunk
                if len(data) > limits.max_bytes:
                    raise PermanentError(f"over the limit of {limits.max_bytes} bytes")
        if meta.get("sha256") and hashlib.sha256(data).hexdigest() != meta["sha256"]:
            raise PermanentError("media damaged in transit (sha256 differs)")
        return bytes(data), mime

    async def send(self, payload: dict[str, Any]) -> str:
        http = self.context.require_http()
        timeout = aiohttp.ClientTimeout(total=self.opts.timeout_s)
        url = f"{self.base}/{self.opts.phone_number_id}/messages"
        try:
            async with http.post(url, json=payload, headers=self._headers(), timeout=timeout) as r:
                body = await r.json(content_type=None)
                status = r.status
        except aiohttp.ClientConnectorError as exc:
            raise TransientError(f"WhatsApp Cloud API unreachable: {exc}") from exc
        except (TimeoutError, aiohttp.ServerDisconnectedError, aiohttp.ClientPayloadError) as exc:
            raise InDoubtError(
                f"WhatsApp did not answer; the message may have gone: {exc}"
            ) from exc
        except (aiohttp.ClientError, ValueError) as exc:
            raise TransientError(f"WhatsApp Cloud API: {exc}") from exc
        if status != 200:
            raise map_error(status, body)
        try:
            return str(body["messages"][0]["id"])
        except (KeyError, IndexError, TypeError) as exc:
            raise InDoubtError(f"WhatsApp accepted the message without an id: {body}") from exc

    async def phone_number(self) -> dict[str, Any]:
        http = self.context.require_http()
        timeout = aiohttp.ClientTimeout(total=self.opts.timeout_s)
        try:
            async with http.get(
                f"{self.base}/{self.opts.phone_number_id}", headers=self._headers(), timeout=timeout
            ) as r:
                body = await r.json(content_type=None)
                if r.status != 200:
                    raise map_error(r.status, body)
                return dict(body)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise TransientError(f"WhatsApp Cloud API unreachable: {exc}") from exc


class Windows:
    """When each number last wrote to us: the 24-hour customer-service window. Kept in
    memory (the webhook feeds it) and backed by the complaint's own first message time, so
    a restart only ever makes the sink choose a template where free text was allowed."""

    def __init__(self, size: int = 100_000) -> None:
        self._last: OrderedDict[str, dt.datetime] = OrderedDict()
        self.size = size

    def saw(self, phone: str, at: dt.datetime) -> None:
        prev = self._last.pop(phone, None)
        self._last[phone] = max(at, prev) if prev else at
        while len(self._last) > self.size:
            self._last.popitem(last=False)

    def last(self, phone: str, fallback: Any = None) -> dt.datetime | None:
        known = self._last.get(phone)
        try:
            other = dt.datetime.fromisoformat(str(fallback)) if fallback else None
        except ValueError:
            other = None
        candidates = [t for t in (known, other) if t is not None]
        return max(candidates) if candidates else None


class WhatsAppSink:
    """Answers on WhatsApp, within the platform's rules."""

    def __init__(
        self, context: ConnectorContext, api: GraphApi, opts: WhatsAppCloudOptions, windows: Windows
    ) -> None:
        self.context, self.api, self.opts, self.windows = context, api, opts, windows

    def in_window(self, origin: Origin) -> bool:
        if not origin.address:
            return False
        last = self.windows.last(origin.address, origin.thread.get("inbound_at"))
        if last is None:
            return False
        age = self.context.clock() - last
        return age < dt.timedelta(hours=self.opts.window_h)

    def payload(self, origin: Origin, message: OutboundMessage) -> dict[str, Any]:
        """The request body for this message, or ``PermanentError`` when WhatsApp's rules
        do not let it go (outside the window with no template for its kind)."""
        if not origin.address:
            raise PermanentError("no WhatsApp number to answer on")
        to = origin.address.lstrip("+")
        base: dict[str, Any] = {
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": to,
            "biz_opaque_callback_data": message.notification_id,
        }
        if self.in_window(origin):
            if message.kind == "solved_question":
                return {
                    **base,
                    "type": "interactive",
                    "interactive": {
                        "type": "button",
                        "body": {"text": message.text[:1024]},
                        "action": {
                            "buttons": [
                                {
                                    "type": "reply",
                                    "reply": {"id": BUTTON_YES, "title": "Sudah selesai"},
                                },
                                {
                                    "type": "reply",
                                    "reply": {"id": BUTTON_NO, "title": "Belum selesai"},
                                },
                            ]
                        },
                    },
                }
            return {
                **base,
                "type": "text",
                "text": {"body": message.text[:4096], "preview_url": bool(message.link)},
            }
        t = self.opts.templates
        name = (
            getattr(t, message.kind, None)
            if message.kind in ("ack", "status", "response", "info_request", "solved_question")
            else None
        )
        if not name:
            raise PermanentError(
                f"outside WhatsApp's 24-hour window only approved templates may be sent, and "
                f"none is configured for {message.kind!r} (templates.{message.kind})"
            )
        tracking = message.tracking_id or "-"
        params = [tracking]
        if message.kind == "status":
            params.append(template_param(message.text, 600))
        elif message.kind in ("response", "info_request"):
            params += [template_param(message.text, 600), message.link or "-"]
        components: list[dict[str, Any]] = [
            {"type": "body", "parameters": [{"type": "text", "text": p} for p in params]}
        ]
        if message.kind == "solved_question":
            components += [
                {
                    "type": "button",
                    "sub_type": "quick_reply",
                    "index": str(i),
                    "parameters": [{"type": "payload", "payload": answer}],
                }
                for i, answer in enumerate((BUTTON_YES, BUTTON_NO))
            ]
        return {
            **base,
            "type": "template",
            "template": {"name": name, "language": {"code": t.language}, "components": components},
        }

    async def send(self, origin: Origin, message: OutboundMessage) -> SendResult:
        payload = self.payload(origin, message)
        wamid = await self.api.send(payload)
        log.info(
            "whatsapp_sent",
            notification_id=message.notification_id,
            type=payload["type"],
            template=payload.get("template", {}).get("name"),
        )
        return SendResult(
            external_id=message_ref(wamid), delivered=None, detail=f"accepted ({payload['type']})"
        )

    async def check(self) -> None:
        await self.api.phone_number()

    async def close(self) -> None:
        return None


class WhatsAppCloudSource:
    """``kind = "whatsapp_cloud"``: routes under ``/intake/<name>/webhook``."""

    kind: ClassVar[str] = "whatsapp_cloud"
    options_model: ClassVar[type[WhatsAppCloudOptions]] = WhatsAppCloudOptions

    @classmethod
    def conformance_samples(cls) -> ConformanceSamples:
        from connectors.whatsapp.samples import cloud_samples

        return cloud_samples()

    def __init__(self, cfg: SourceConfig, context: ConnectorContext | None = None) -> None:
        self.cfg = cfg
        self.name: str = cfg.name
        self.context = context or ConnectorContext(source=cfg.name)
        self.opts = load_options(WhatsAppCloudOptions, cfg.name, cfg.options)
        self.api = GraphApi(self.context, self.opts)
        self.windows = Windows()
        self._sink = WhatsAppSink(self.context, self.api, self.opts, self.windows)
        self._seen: OrderedDict[str, None] = OrderedDict()  # recent wamids: skip re-downloads

    async def check(self) -> None:
        await self.api.phone_number()

    def parse(self, item: RawItem) -> Parsed:
        return parse_item(item, self.opts.conventions)

    def sink(self) -> WhatsAppSink:
        return self._sink

    async def close(self) -> None:
        return None

    # ---------------------------------------------------------------- HTTP intake

    def routes(self) -> list[web.RouteDef]:
        return [web.get("/webhook", self.verify), web.post("/webhook", self.webhook)]

    async def verify(self, request: web.Request) -> web.Response:
        """The subscription handshake: echo ``hub.challenge`` for the right token."""
        q = request.query
        token = q.get("hub.verify_token", "").encode()
        expected = self.opts.verify_token.get_secret_value().encode()
        if q.get("hub.mode") != "subscribe" or not hmac.compare_digest(token, expected):
            raise web.HTTPForbidden(text="verify token does not match")
        return web.Response(text=q.get("hub.challenge", ""))

    async def webhook(self, request: web.Request) -> web.Response:
        raw = await read_body(request, self.opts.max_body_bytes)
        secret = self.opts.app_secret.get_secret_value().encode()
        if not signature_ok(secret, raw, request.headers.get("X-Hub-Signature-256")):
            log.warning("whatsapp_signature_refused", source=self.name)
            raise web.HTTPUnauthorized(text="X-Hub-Signature-256 missing or wrong")
        try:
            body = json.loads(raw)
            if not isinstance(body, dict):
                raise NotAWebhook("expected a JSON object")
            records = cloud_messages(body)
            statuses = cloud_statuses(body)
        except (ValueError, NotAWebhook) as exc:
            raise web.HTTPBadRequest(text=f"not a WhatsApp webhook: {exc}") from None
        fresh = [r for r in records if r["wamid"] not in self._seen]
        await asyncio.gather(*(self._download(r) for r in fresh))
        if fresh:
            items = [self._item(r) for r in fresh]
            try:
                await self.context.ingest(Batch(items=items, cursor=None))
            except Exception as exc:  # the platform delivers again: nothing is lost
                log.warning(
                    "whatsapp_ingest_failed", source=self.name, error=f"{type(exc).__name__}: {exc}"
                )
                raise web.HTTPServiceUnavailable(text="try again later") from None
            for r in fresh:
                self._remember(r["wamid"])
        for s in statuses:
            await self._status(s)
        log.info(
            "whatsapp_webhook",
            source=self.name,
            messages=len(records),
            duplicates=len(records) - len(fresh),
            statuses=len(statuses),
        )
        return web.Response(text="ok")

    def _remember(self, wamid: str) -> None:
        self._seen[wamid] = None
        while len(self._seen) > 50_000:
            self._seen.popitem(last=False)

    async def _download(self, record: Record) -> None:
        for media in record.get("media") or []:
            if not media.get("id"):
                media["error"] = "no media id"
                continue
            try:
                data, mime = await self.api.media(str(media["id"]), self.opts.media)
            except (PermanentError, TransientError, AuthError) as exc:
                media["error"] = str(exc)[:200]
            except (aiohttp.ClientError, TimeoutError, ValueError, KeyError) as exc:
                media["error"] = f"{type(exc).__name__}: {exc}"[:200]
            else:
                media["data_b64"] = base64.b64encode(data).decode()
                media["mime_type"] = mime

    def _item(self, record: Record) -> RawItem:
        user_id = record.pop("user_id", None)
        if user_id:
            record["user"] = self.context.keyed_hash(str(user_id))
        phone = phone_of(record)
        now = self.context.clock()
        if phone:
            self.windows.saw(phone, now)
        meta: dict[str, Any] = {"api": "cloud"}
        if phone:
            meta["reply_to"] = phone
        return RawItem(
            source_ref=message_ref(record["wamid"]),
            payload=json.dumps(record, ensure_ascii=False).encode(),
            received_at=now,
            meta=meta,
            content_type=CONTENT_TYPE,
        )

    async def _status(self, s: Any) -> None:
        if not s.notification_id:
            return  # a message someone sent from the WhatsApp app, not through us
        if s.status in ("delivered", "read"):
            report = DeliveryReport(s.notification_id, "delivered", f"whatsapp {s.status}")
        elif s.status == "failed":
            detail = f"whatsapp failed, code {s.error_code}: {s.error or ''}".strip()[:500]
            report = DeliveryReport(s.notification_id, "failed", detail)
        else:
            return  # "sent" is what the send call already told us
        await self.context.record_delivery(report)
