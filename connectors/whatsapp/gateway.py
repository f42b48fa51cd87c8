"""Local WhatsApp gateways: the small services many offices run beside a phone, which post
each message as flat JSON to a webhook and send through an HTTP API of their own.

The fields are configuration (``fields``: dotted paths into the posted JSON); every post is
authenticated with the shared secret (``X-Satukanal-Secret``, or ``X-Signature`` =
``sha256=<hex HMAC of the body>``) before it is read; messages are stored once by the
gateway's own message id. Gateways keep no 24-hour window of their own, so answers are plain
text.
"""

from __future__ import annotations

import base64
import hmac
import json
from typing import Any, ClassVar

import aiohttp
import structlog
from aiohttp import web

from connectors.base import (
    Batch,
    ConnectorContext,
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
from connectors.whatsapp.cloud import CONTENT_TYPE, read_body, signature_ok
from connectors.whatsapp.options import GatewaySend, WhatsAppGatewayOptions
from connectors.whatsapp.parser import NotAWebhook, Record, gateway_message, parse_item, phone_of
from schemas.complaint import Parsed
from schemas.config import SourceConfig

log = structlog.get_logger(__name__)


class GatewaySink:
    def __init__(self, context: ConnectorContext, opts: GatewaySend) -> None:
        self.context, self.opts = context, opts

    async def send(self, origin: Origin, message: OutboundMessage) -> SendResult:
        if not origin.address:
            raise PermanentError("no WhatsApp number to answer on")
        text = message.text
        if message.kind == "solved_question":
            text += "\n\nBalas SUDAH jika sudah selesai, atau BELUM jika belum."
        body = {
            self.opts.to_field: origin.address.lstrip("+"),
            self.opts.text_field: text,
            "reference": message.notification_id,
        }
        headers = {}
        if self.opts.token is not None:
            headers["Authorization"] = f"Bearer {self.opts.token.get_secret_value()}"
        timeout = aiohttp.ClientTimeout(total=self.opts.timeout_s)
        try:
            async with self.context.require_http().post(
                str(self.opts.url), json=body, headers=headers, timeout=timeout
            ) as r:
                status = r.status
                answer = await r.text(errors="replace")
        except aiohttp.ClientConnectorError as exc:
            raise TransientError(f"WhatsApp gateway unreachable: {exc}") from exc
        except (TimeoutError, aiohttp.ServerDisconnectedError, aiohttp.ClientPayloadError) as exc:
            raise InDoubtError(
                f"the gateway did not answer; the message may have gone: {exc}"
            ) from exc
        except aiohttp.ClientError as exc:
            raise TransientError(f"WhatsApp gateway: {exc}") from exc
        if status in (401, 403):
            raise AuthError(f"the WhatsApp gateway refused our token ({status})")
        if status >= 500 or status == 429:
            raise TransientError(f"WhatsApp gateway answered {status}: {answer[:200]}")
        if status >= 400:
            raise PermanentError(f"WhatsApp gateway refused the message ({status}): {answer[:200]}")
        external = None
        try:
            external = json.loads(answer).get(self.opts.id_field)
        except (ValueError, AttributeError):
            pass
        return SendResult(
            external_id=str(external) if external else None,
            delivered=None,
            detail="accepted by the gateway",
        )

    async def close(self) -> None:
        return None


class WhatsAppGatewaySource:
    """``kind = "whatsapp_gateway"``: routes under ``/intake/<name>/webhook``."""

    kind: ClassVar[str] = "whatsapp_gateway"
    options_model: ClassVar[type[WhatsAppGatewayOptions]] = WhatsAppGatewayOptions

    @classmethod
    def conformance_samples(cls) -> ConformanceSamples:
        from connectors.whatsapp.samples import gateway_samples

        return gateway_samples()

    def __init__(self, cfg: SourceConfig, context: ConnectorContext | None = None) -> None:
        self.cfg = cfg
        self.name: str = cfg.name
        self.context = context or ConnectorContext(source=cfg.name)
        self.opts = load_options(WhatsAppGatewayOptions, cfg.name, cfg.options)
        self._sink = GatewaySink(self.context, self.opts.send) if self.opts.send else None

    async def check(self) -> None:
        return None

    def parse(self, item: RawItem) -> Parsed:
        return parse_item(item, self.opts.conventions)

    def sink(self) -> GatewaySink | None:
        return self._sink

    async def close(self) -> None:
        return None

    def routes(self) -> list[web.RouteDef]:
        return [web.post("/webhook", self.webhook)]

    def _authorised(self, request: web.Request, raw: bytes) -> bool:
        secret = self.opts.secret.get_secret_value().encode()
        given = request.headers.get("X-Satukanal-Secret", "").encode()
        if given and hmac.compare_digest(given, secret):
            return True
        return signature_ok(secret, raw, request.headers.get("X-Signature"))

    async def webhook(self, request: web.Request) -> web.Response:
        raw = await read_body(request, self.opts.max_body_bytes)
        if not self._authorised(request, raw):
            raise web.HTTPUnauthorized(text="shared secret missing or wrong")
        try:
            data = json.loads(raw)
            posts = data if isinstance(data, list) else [data]
            records = [gateway_message(p, self.opts.fields) for p in posts if isinstance(p, dict)]
        except (ValueError, NotAWebhook) as exc:
            raise web.HTTPBadRequest(text=f"not a gateway message: {exc}") from None
        if not records:
            raise web.HTTPBadRequest(text="expected a JSON object (or a list of them)")
        for r in records:
            await self._download(r)
        items = [self._item(r) for r in records]
        try:
            await self.context.ingest(Batch(items=items, cursor=None))
        except Exception as exc:
            log.warning(
                "whatsapp_ingest_failed", source=self.name, error=f"{type(exc).__name__}: {exc}"
            )
            raise web.HTTPServiceUnavailable(text="try again later") from None
        return web.json_response({"ok": True, "stored": len(items)})

    async def _download(self, record: Record) -> None:
        limits = self.opts.media
        for media in record.get("media") or []:
            url = media.get("url")
            try:
                timeout = aiohttp.ClientTimeout(total=limits.download_timeout_s)
                async with self.context.require_http().get(str(url), timeout=timeout) as r:
                    if r.status != 200:
                        raise PermanentError(f"media URL answered {r.status}")
                    mime = (media.get("mime_type") or r.content_type or "").split(";")[0]
                    if mime not in limits.types:
                        raise PermanentError(f"type {mime or 'unknown'} is not accepted")
                    data = bytearray()
                    async for chunk in r.content.iter_chunked(65536):
                        data += chunk
                        if len(data) > limits.max_bytes:
                            raise PermanentError(f"over the limit of {limits.max_bytes} bytes")
            except (PermanentError, aiohttp.ClientError, TimeoutError, ValueError) as exc:
                media["error"] = str(exc)[:200] or type(exc).__name__
            else:
                media["data_b64"] = base64.b64encode(bytes(data)).decode()
                media["mime_type"] = mime
            media.pop("url", None)  # a gateway's URL may carry its own token

    def _item(self, record: Record) -> RawItem:
        phone = phone_of(record)
        meta: dict[str, Any] = {"api": "gateway"}
        if phone:
            meta["reply_to"] = phone
        # Keyed: the reference must not let anyone confirm a guessed phone number.
        ref = "wa:" + self.context.keyed_hash(f"{record['from']}|{record['wamid']}")[:40]
        return RawItem(
            source_ref=ref,
            payload=json.dumps(record, ensure_ascii=False).encode(),
            received_at=self.context.clock(),
            meta=meta,
            content_type=CONTENT_TYPE,
        )
