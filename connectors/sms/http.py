"""SMS pushed to us over HTTP: Kannel's ``get-url`` and the JSON/form webhooks local
providers send. Replies go out through Kannel's ``/cgi-bin/sendsms``.

Every request is authenticated (a shared secret, as ``?secret=`` or the
``X-Satukanal-Secret`` header, or HTTP basic auth), handed to the core intake as a
one-item batch (which the core writes in one transaction with the requests arriving with
it), and answered once it is stored; a gateway that retries gets the same answer and the
message is stored once (``source_ref`` = the gateway's message id, or
a hash of sender, time and text when it sends none).
"""

from __future__ import annotations

import base64
import datetime as dt
import hmac
import json
from typing import Any, ClassVar, Literal
from urllib.parse import parse_qsl
from zoneinfo import ZoneInfo

import structlog
from aiohttp import web

from connectors.base import (
    Batch,
    ConnectorContext,
    DeliveryReport,
    RawItem,
    load_options,
)
from connectors.base.conformance import ConformanceSamples
from connectors.base.errors import InvalidInput
from connectors.sms.kannel import KannelSink
from connectors.sms.options import SMS_MAX_PARTS, SMS_PART_CHARS, SmsHttpOptions
from connectors.sms.parser import (
    classify_sms,
    decode_kannel_body,
    normalize_sender,
    parse_udh,
)
from schemas.complaint import Parsed
from schemas.config import SourceConfig

log = structlog.get_logger(__name__)

SENDER_KEYS = ("from", "sender", "msisdn", "phone", "nohp", "source", "originator")
TEXT_KEYS = ("text", "message", "pesan", "body", "content", "sms")
ID_KEYS = ("id", "message_id", "messageId", "msgid", "sms_id", "uuid")
# Kannel's DLR types (%d): 1 delivered to the phone, 2 failed at the phone, 16 SMSC reject.
DLR_STATES: dict[str, Literal["delivered", "failed"]] = {
    "1": "delivered",
    "2": "failed",
    "16": "failed",
}
TIME_KEYS = ("time", "timestamp", "received_at", "date", "datetime", "waktu")


def _parse_time(value: str | None, tz: Any) -> dt.datetime | None:
    if not value:
        return None
    v = value.strip()
    try:
        if v.isdigit():
            return dt.datetime.fromtimestamp(int(v), dt.UTC)
        t = dt.datetime.fromisoformat(v.replace("Z", "+00:00"))
    except (ValueError, OverflowError, OSError):
        return None
    return t if t.tzinfo else t.replace(tzinfo=tz)


def _first(data: dict[str, Any], keys: tuple[str, ...]) -> Any:
    for k in keys:
        if data.get(k) not in (None, ""):
            return data[k]
    return None


class SmsHttpSource:
    kind: ClassVar[str] = "sms_http"

    options_model: ClassVar[type[SmsHttpOptions]] = SmsHttpOptions

    @classmethod
    def conformance_samples(cls) -> ConformanceSamples:
        from connectors.sms.samples import http_samples

        return http_samples()

    def __init__(self, cfg: SourceConfig, context: ConnectorContext | None = None) -> None:
        self.cfg = cfg
        self.name: str = cfg.name
        self.context = context or ConnectorContext(source=cfg.name)
        self.opts = load_options(SmsHttpOptions, cfg.name, cfg.options)
        self.tz = ZoneInfo(self.opts.timezone)  # checked by the options
        self._sink: KannelSink | None = None

    # ------------------------------------------- source protocol (push only: no pull/ack)

    async def check(self) -> None:
        return None

    def parse(self, item: RawItem) -> Parsed:
        try:
            data = json.loads(item.payload)
        except ValueError as exc:
            raise InvalidInput(f"not an SMS intake record: {exc}") from exc
        text = data.get("text")
        if not isinstance(text, str):
            raise InvalidInput("SMS intake record without text")
        sender = normalize_sender(data.get("sender"), self.opts.conventions.region)
        sent_at = dt.datetime.fromisoformat(data["time"]) if data.get("time") else item.received_at
        origin: dict[str, Any] = {"gateway": data.get("gateway")}
        if data.get("to"):
            origin["to"] = data["to"]
        flags: tuple[str, ...] = ()
        concat = parse_udh(data.get("udh"))
        if concat is not None and concat.total > 1:
            # The gateway did not join the parts (Kannel's combining timed out): one part.
            flags = ("incomplete_multipart",)
            origin["part"] = f"{concat.seq}/{concat.total}"
        return classify_sms(
            text, sender, sent_at, self.opts.conventions, origin=origin, flags=flags
        )

    def sink(self) -> KannelSink | None:
        if self.opts.kannel is None:
            return None
        if self._sink is None:
            max_parts = self.opts.kannel.max_parts or self.context.sms_max_parts
            self._sink = KannelSink(self.context, self.opts.kannel, max_parts=max_parts)
        return self._sink

    async def close(self) -> None:
        return None

    # ---------------------------------------------------------------- HTTP intake

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/kannel", self.kannel),
            web.post("/kannel", self.kannel),
            web.post("/webhook", self.webhook),
            web.get("/dlr", self.dlr),
        ]

    def _authorised(self, request: web.Request, query: dict[str, str]) -> bool:
        secret = self.opts.secret.get_secret_value().encode() if self.opts.secret else None
        if secret is not None:
            given = (
                request.headers.get("X-Satukanal-Secret") or query.get("secret") or ""
            ).encode()
            if given and hmac.compare_digest(given, secret):
                return True
        ba = self.opts.basic_auth
        header = request.headers.get("Authorization", "")
        if ba is not None and header.startswith("Basic "):
            try:
                user, _, pw = base64.b64decode(header[6:]).decode().partition(":")
            except (ValueError, UnicodeDecodeError):
                return False
            return hmac.compare_digest(user.encode(), ba.username.encode()) and hmac.compare_digest(
                pw.encode(), ba.password.get_secret_value().encode()
            )
        return False

    @staticmethod
    def _raw_pairs(raw: str) -> dict[str, bytes]:
        # latin-1 keeps every percent-decoded byte as it was: %b is bytes, not UTF-8.
        return {
            k: v.encode("latin-1")
            for k, v in parse_qsl(raw, keep_blank_values=True, encoding="latin-1")
        }

    async def _body(self, request: web.Request) -> bytes:
        """The request body, refused with 413 past ``max_body_bytes`` (before reading it all
        when the length is declared): no SMS gateway sends a message that large."""
        limit = self.opts.max_body_bytes
        if request.content_length is not None and request.content_length > limit:
            raise _too_large(
                f"request body is {request.content_length} bytes; the SMS intake "
                f"accepts at most {limit} bytes (max_body_bytes)"
            )
        chunks, size = [], 0
        async for chunk in request.content.iter_chunked(65536):
            size += len(chunk)
            if size > limit:
                raise _too_large(
                    f"request body exceeds {limit} bytes, the most the SMS "
                    "intake accepts (max_body_bytes)"
                )
            chunks.append(chunk)
        return b"".join(chunks)

    def _check_text(self, text: str) -> None:
        """An SMS text cannot be longer than a concatenated SMS: refused with 422."""
        limit = self.opts.max_text_chars
        if len(text) > limit:
            raise web.HTTPUnprocessableEntity(
                text=f"SMS text is {len(text)} characters; the longest SMS is {limit} "
                f"characters (max_text_chars; a concatenated SMS holds at most "
                f"{SMS_MAX_PARTS} parts of {SMS_PART_CHARS})"
            )

    async def kannel(self, request: web.Request) -> web.Response:
        # raw_path keeps the percent-escapes: query_string would already be decoded as UTF-8,
        # which mangles %b of a UCS-2 or 8-bit message.
        fields = self._raw_pairs(request.raw_path.partition("?")[2])
        body = await self._body(request) if request.method == "POST" else b""
        if request.method == "POST" and request.content_type == "application/x-www-form-urlencoded":
            fields.update(self._raw_pairs(body.decode("latin-1")))
        q = {k: v.decode("utf-8", errors="replace") for k, v in fields.items() if k != "text"}
        if not self._authorised(request, q):
            raise web.HTTPUnauthorized(headers={"WWW-Authenticate": 'Basic realm="satukanal"'})
        if request.method == "POST" and "text" not in fields:
            fields["text"] = body  # Kannel post-url: the body is the message itself
            q.setdefault("charset", request.charset or "")
        text = decode_kannel_body(fields.get("text", b""), q.get("coding"), q.get("charset"))
        self._check_text(text)
        record = {
            "gateway": "kannel",
            "sender": q.get("from") or q.get("sender"),
            "to": q.get("to"),
            "time": _iso(_parse_time(q.get("time"), self.tz)),
            "id": q.get("id") or None,
            "text": text,
            "udh": fields.get("udh", b"").hex() or None,  # %u is the binary UDH
            "coding": q.get("coding"),
        }
        return await self._store(record, fields.get("text", b""))

    async def webhook(self, request: web.Request) -> web.Response:
        q = dict(request.query)
        if not self._authorised(request, q):
            raise web.HTTPUnauthorized(headers={"WWW-Authenticate": 'Basic realm="satukanal"'})
        raw = await self._body(request)
        data: dict[str, Any]
        if request.content_type == "application/json":
            try:
                loaded = json.loads(raw or b"{}")
            except ValueError:
                raise web.HTTPBadRequest(text="body is not JSON") from None
            if not isinstance(loaded, dict):
                raise web.HTTPBadRequest(text="expected a JSON object")
            data = loaded
        else:
            data = {
                k: v
                for k, v in parse_qsl(raw.decode("utf-8", errors="replace"), keep_blank_values=True)
            }
        sender, text = _first(data, SENDER_KEYS), _first(data, TEXT_KEYS)
        if sender is None or (text is None and not any(k in data for k in TEXT_KEYS)):
            raise web.HTTPBadRequest(
                text="need a sender (from/sender/msisdn) and a text (text/message)"
            )
        self._check_text(str(text or ""))
        record = {
            "gateway": "webhook",
            "sender": str(sender),
            "to": data.get("to"),
            "time": _iso(_parse_time(str(_first(data, TIME_KEYS) or ""), self.tz)),
            "id": str(_first(data, ID_KEYS)) if _first(data, ID_KEYS) is not None else None,
            "text": str(text or ""),
            "udh": data.get("udh"),
        }
        return await self._store(record, raw)

    async def _store(self, record: dict[str, Any], original: bytes) -> web.Response:
        if record["id"]:
            ref = f"{record['gateway']}:{record['id']}"
        else:
            key = f"{record['sender']}|{record['time']}|{record['text']}"
            if record["time"] is None:
                # Nothing tells a retry from a second identical SMS (a BELUM minutes later):
                # the same text counts as a retry only within the window.
                window = self.opts.dedup_window_s
                key += f"|{int(self.context.clock().timestamp()) // window}"
            # Keyed: a plain hash of sender, time and text would let anyone holding the
            # stored text try phone numbers until one matched.
            ref = "hash:" + self.context.keyed_hash(key)[:32]
        now = self.context.clock()
        record["original_b64"] = base64.b64encode(original).decode()
        meta: dict[str, Any] = {"gateway": record["gateway"]}
        sender = normalize_sender(record["sender"], self.opts.conventions.region)
        if sender.e164:
            meta["reply_to"] = sender.e164
        item = RawItem(
            source_ref=ref,
            payload=json.dumps(record, ensure_ascii=False).encode(),
            received_at=now,
            meta=meta,
            content_type="application/json",
        )
        batch = Batch(items=[item], cursor={"last_push_at": now.isoformat()})
        result = await self.context.ingest(batch)
        log.info(
            "sms_pushed",
            source=self.name,
            gateway=record["gateway"],
            duplicate=bool(result.skipped),
        )
        # Kannel sends a non-empty text/plain answer back as an SMS: answer with nothing.
        return web.Response(status=200, text="")

    async def dlr(self, request: web.Request) -> web.Response:
        q = dict(request.query)
        if not self._authorised(request, q):
            raise web.HTTPUnauthorized()
        nid, status = q.get("nid"), q.get("status", "")
        if not nid:
            raise web.HTTPBadRequest(text="nid missing")
        state = DLR_STATES.get(status)
        if state is not None:
            detail = f"kannel dlr {status}: {q.get('answer', '')}"[:500]
            await self.context.record_delivery(DeliveryReport(nid, state, detail))
            log.info("sms_delivery_reported", source=self.name, notification_id=nid, state=state)
        return web.Response(status=200, text="")


def _iso(t: dt.datetime | None) -> str | None:
    return t.isoformat() if t else None


def _too_large(text: str) -> web.HTTPRequestEntityTooLarge:
    err = web.HTTPRequestEntityTooLarge(max_size=0, actual_size=0)
    err.text = text
    return err
