"""A local WhatsApp Cloud API for the tests and the demo: it plays the platform.

It serves the Graph API calls satukanal makes (send a message, look up and download media,
read the phone number) and plays the citizen's side: ``POST /_sandbox/inbound`` makes a user
message, which the sandbox delivers to the configured webhook signed with the app secret,
retrying until it is answered 200 — and, as the real platform does now and then, delivering
some twice. It keeps the rules that matter to satukanal: the 24-hour customer-service window
(free text outside it fails with 131047), approved templates only (132001), a rate limit
(130429), media URLs that expire, and status callbacks (sent, delivered, read, or failed
with the platform's code) posted back, optionally out of order. Nothing here reaches Meta.

Run it alone with ``python -m aggregator.demo.whatsapp_cloud --port 8471 --webhook URL``.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import hashlib
import hmac
import itertools
import json
import random
import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web

DEFAULT_TEMPLATES = (
    "satukanal_tanda_terima",
    "satukanal_status",
    "satukanal_tanggapan",
    "satukanal_konfirmasi_selesai",
)


@dataclass
class Faults:
    duplicate_rate: float = 0.0  # share of webhook deliveries sent twice
    reorder_statuses: bool = False  # "read" may arrive before "delivered"
    fail_numbers: set[str] = field(default_factory=set)  # sends to these fail (131026)
    media_ttl_s: float = 300.0  # media URLs stop working after this
    rate_per_s: float = 80.0  # the business number's throughput
    status_delay_s: float = 0.05


@dataclass
class SandboxState:
    app_secret: str
    access_token: str
    phone_number_id: str
    webhook_url: str | None = None
    window_h: float = 24.0
    templates: dict[str, set[str]] = field(
        default_factory=lambda: {t: {"id", "en"} for t in DEFAULT_TEMPLATES}
    )
    faults: Faults = field(default_factory=Faults)
    outbox: list[dict[str, Any]] = field(default_factory=list)
    last_inbound: dict[str, float] = field(default_factory=dict)
    media: dict[str, tuple[bytes, str]] = field(default_factory=dict)
    media_urls: dict[str, tuple[str, float]] = field(default_factory=dict)
    deliveries: int = 0  # webhook posts made (retries and duplicates included)
    clock_offset_s: float = 0.0  # tests move time forward to close the window

    def now(self) -> float:
        return time.time() + self.clock_offset_s


_ids = itertools.count(1)


def new_wamid(phone: str) -> str:
    """A message id shaped as Meta's are: base64 of a small protobuf that starts with the
    chat's phone number (``wamid.HBgNNjI4MTI…`` is ``6281…``), then a random message id.
    Whoever stores a wamid stores the citizen's number, base64-encoded."""
    digits = "".join(c for c in phone if c.isdigit()).encode()
    message = f"{next(_ids):04X}{secrets.token_hex(8).upper()}".encode()
    raw = b"\x1c\x18" + bytes([len(digits)]) + digits + b"\x15\x02\x00\x12\x18"
    raw += bytes([len(message)]) + message + b"\x00"
    return "wamid." + base64.b64encode(raw).decode()


def _error(status: int, code: int, message: str, details: str = "") -> web.Response:
    body = {
        "error": {
            "message": message,
            "type": "OAuthException",
            "code": code,
            "error_data": {"messaging_product": "whatsapp", "details": details},
            "fbtrace_id": secrets.token_hex(8),
        }
    }
    return web.json_response(body, status=status)


class CloudSandbox:
    def __init__(self, state: SandboxState, *, seed: int = 7) -> None:
        self.state = state
        self.rng = random.Random(seed)  # noqa: S311 - reproducible faults, not security
        self._tasks: set[asyncio.Task[Any]] = set()
        self._http: aiohttp.ClientSession | None = None
        self._sent_at: list[float] = []
        self.base_url = ""

    # ------------------------------------------------------------------ app

    def routes(self) -> list[web.RouteDef]:
        """The sandbox's routes, to serve alone (``app``) or under a prefix of another app
        (the demo mounts them at ``/demo/whatsapp``; set ``base_url`` to match)."""
        return [
            web.post("/_sandbox/inbound", self.inbound),
            web.get("/_sandbox/outbox", self.get_outbox),
            web.post("/_sandbox/clock", self.move_clock),
            web.get("/_media/{token}", self.media_download),
            web.post("/{version}/{pnid}/messages", self.send),
            web.get("/{version}/{object_id}", self.graph_get),
        ]

    def app(self) -> web.Application:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.add_routes(self.routes())
        app.on_cleanup.append(self._cleanup)
        return app

    async def close(self) -> None:
        await self._cleanup(web.Application())

    async def _cleanup(self, app: web.Application) -> None:
        for t in list(self._tasks):
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._http is not None:
            await self._http.close()

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> web.AppRunner:
        runner = web.AppRunner(self.app())
        await runner.setup()
        site = web.TCPSite(runner, host, port)
        await site.start()
        sock = site._server.sockets[0]  # type: ignore[union-attr]
        self.base_url = f"http://{host}:{sock.getsockname()[1]}"
        return runner

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def idle(self) -> None:
        """Wait until every webhook delivery and status callback has been made (callers
        bound it with ``asyncio.timeout``)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    def _authorised(self, request: web.Request) -> bool:
        given = request.headers.get("Authorization", "")
        return hmac.compare_digest(given.encode(), f"Bearer {self.state.access_token}".encode())

    # ------------------------------------------------------------ the platform side

    async def graph_get(self, request: web.Request) -> web.Response:
        if not self._authorised(request):
            return _error(401, 190, "Invalid OAuth access token")
        oid = request.match_info["object_id"]
        if oid == self.state.phone_number_id:
            return web.json_response(
                {
                    "id": oid,
                    "display_phone_number": "+62 811-0000-1708",
                    "verified_name": "Pengaduan Kota (sandbox)",
                    "quality_rating": "GREEN",
                }
            )
        if oid not in self.state.media:
            return _error(404, 100, "Unsupported get request", f"object {oid} does not exist")
        data, mime = self.state.media[oid]
        token = secrets.token_urlsafe(16)
        self.state.media_urls[token] = (oid, self.state.now() + self.state.faults.media_ttl_s)
        return web.json_response(
            {
                "messaging_product": "whatsapp",
                "url": f"{self.base_url}/_media/{token}",
                "mime_type": mime,
                "sha256": hashlib.sha256(data).hexdigest(),
                "file_size": len(data),
                "id": oid,
            }
        )

    async def media_download(self, request: web.Request) -> web.Response:
        if not self._authorised(request):
            return web.Response(status=401)
        oid, expires = self.state.media_urls.get(request.match_info["token"], ("", 0.0))
        if not oid or self.state.now() > expires:
            return web.Response(status=404, text="URL expired")
        data, mime = self.state.media[oid]
        return web.Response(body=data, content_type=mime)

    def _rate_limited(self) -> bool:
        now = time.monotonic()
        self._sent_at = [t for t in self._sent_at if now - t < 1.0]
        if len(self._sent_at) >= self.state.faults.rate_per_s:
            return True
        self._sent_at.append(now)
        return False

    async def send(self, request: web.Request) -> web.Response:
        if not self._authorised(request):
            return _error(401, 190, "Invalid OAuth access token")
        if request.match_info["pnid"] != self.state.phone_number_id:
            return _error(400, 100, "Invalid parameter", "unknown phone number id")
        try:
            body = await request.json()
        except ValueError:
            return _error(400, 100, "Invalid parameter", "body is not JSON")
        to, kind = str(body.get("to") or ""), body.get("type")
        if body.get("messaging_product") != "whatsapp" or not to.isdigit():
            return _error(400, 100, "Invalid parameter", "messaging_product and to required")
        if self._rate_limited():
            return _error(429, 130429, "Rate limit hit", "Cloud API message throughput reached")
        if kind == "template":
            t = body.get("template") or {}
            langs = self.state.templates.get(str(t.get("name")))
            lang = (t.get("language") or {}).get("code")
            if not langs or lang not in langs:
                return _error(
                    404,
                    132001,
                    "Template name does not exist in the translation",
                    f"template {t.get('name')!r} ({lang}) is not approved",
                )
            for comp in t.get("components") or []:
                for p in comp.get("parameters") or []:
                    text = str(p.get("text") or "")
                    if "\n" in text or "\t" in text or "    " in text:
                        return _error(
                            400,
                            132018,
                            "Issue with parameters",
                            "parameters may not contain new lines, tabs or 4 spaces",
                        )
        elif kind in ("text", "interactive", "image", "document"):
            last = self.state.last_inbound.get(to)
            if last is None or self.state.now() - last > self.state.window_h * 3600:
                return _error(
                    400,
                    131047,
                    "Re-engagement message",
                    "more than 24 hours have passed since the customer last replied",
                )
        else:
            return _error(400, 100, "Invalid parameter", f"unsupported type {kind!r}")
        wamid = new_wamid(str(to))
        self.state.outbox.append({**body, "id": wamid, "at": self.state.now()})
        self._spawn(self._statuses(wamid, to, body.get("biz_opaque_callback_data")))
        return web.json_response(
            {
                "messaging_product": "whatsapp",
                "contacts": [{"input": to, "wa_id": to}],
                "messages": [{"id": wamid}],
            }
        )

    async def _statuses(self, wamid: str, to: str, opaque: str | None) -> None:
        await asyncio.sleep(self.state.faults.status_delay_s)
        if to in self.state.faults.fail_numbers:
            steps: list[dict[str, Any]] = [
                {
                    "status": "failed",
                    "errors": [
                        {
                            "code": 131026,
                            "title": "Message undeliverable",
                            "error_data": {"details": "the number is not on WhatsApp"},
                        }
                    ],
                }
            ]
        else:
            steps = [{"status": "sent"}, {"status": "delivered"}, {"status": "read"}]
            if self.state.faults.reorder_statuses:
                steps.reverse()
        for step in steps:
            status = {
                "id": wamid,
                "recipient_id": to,
                "timestamp": str(int(self.state.now())),
                **step,
            }
            if opaque is not None:
                status["biz_opaque_callback_data"] = opaque
            await self._deliver(self._envelope(statuses=[status]))

    # ------------------------------------------------------------ the citizen side

    def _envelope(
        self,
        messages: Iterable[dict[str, Any]] = (),
        contacts: Iterable[dict[str, Any]] = (),
        statuses: Iterable[dict[str, Any]] = (),
    ) -> dict[str, Any]:
        value: dict[str, Any] = {
            "messaging_product": "whatsapp",
            "metadata": {
                "display_phone_number": "6281100001708",
                "phone_number_id": self.state.phone_number_id,
            },
        }
        if messages:
            value["contacts"], value["messages"] = list(contacts), list(messages)
        if statuses:
            value["statuses"] = list(statuses)
        return {
            "object": "whatsapp_business_account",
            "entry": [
                {"id": "102290129340398", "changes": [{"field": "messages", "value": value}]}
            ],
        }

    def sign(self, body: bytes) -> str:
        digest = hmac.new(self.state.app_secret.encode(), body, hashlib.sha256).hexdigest()
        return f"sha256={digest}"

    async def _deliver(self, envelope: dict[str, Any], *, attempts: int = 12) -> int | None:
        """POST to the webhook until it answers 200 (backing off), sometimes twice."""
        if not self.state.webhook_url:
            return None
        if self._http is None:
            self._http = aiohttp.ClientSession()
        raw = json.dumps(envelope).encode()
        headers = {"Content-Type": "application/json", "X-Hub-Signature-256": self.sign(raw)}
        times = 2 if self.rng.random() < self.state.faults.duplicate_rate else 1
        status = None
        for _ in range(times):
            delay = 0.05
            for _attempt in range(attempts):
                self.state.deliveries += 1
                try:
                    async with self._http.post(
                        self.state.webhook_url, data=raw, headers=headers
                    ) as r:
                        status = r.status
                except aiohttp.ClientError:
                    status = None
                if status == 200:
                    break
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)
        return status

    async def inbound(self, request: web.Request) -> web.Response:
        """A citizen's message: ``{"from": "62812…", "text": …}`` or ``image`` (base64 +
        ``mime_type``), ``location`` ({latitude, longitude, name?, address?}), ``button``
        (a reply button id), ``name``, ``user_id``; ``wait``: answer only once delivered."""
        spec = await request.json()
        sender = str(spec["from"])
        wamid = spec.get("wamid") or new_wamid(sender)
        msg: dict[str, Any] = {
            "from": sender,
            "id": wamid,
            "timestamp": str(int(self.state.now())),
            "type": "text",
        }
        if spec.get("user_id"):
            msg["from_user_id"] = spec["user_id"]
        if spec.get("context_id"):
            msg["context"] = {"from": "6281100001708", "id": spec["context_id"]}
        if "image" in spec or "document" in spec or "audio" in spec:
            kind = next(k for k in ("image", "document", "audio") if k in spec)
            media_id = str(next(_ids) + 900000000)
            self.state.media[media_id] = (
                base64.b64decode(spec[kind]),
                spec.get("mime_type", "image/jpeg"),
            )
            msg["type"] = kind
            msg[kind] = {"id": media_id, "mime_type": spec.get("mime_type", "image/jpeg")}
            if spec.get("text"):
                msg[kind]["caption"] = spec["text"]
            if kind == "document":
                msg[kind]["filename"] = spec.get("filename", "berkas.pdf")
        elif "location" in spec:
            msg["type"] = "location"
            msg["location"] = spec["location"]
        elif "button" in spec:
            msg["type"] = "interactive"
            msg["interactive"] = {
                "type": "button_reply",
                "button_reply": {"id": spec["button"], "title": spec.get("text", spec["button"])},
            }
        else:
            msg["text"] = {"body": spec.get("text", "")}
        contact: dict[str, Any] = {"profile": {"name": spec.get("name", "Warga")}, "wa_id": sender}
        if spec.get("user_id"):
            contact["user_id"] = spec["user_id"]
        self.state.last_inbound[sender] = self.state.now()
        envelope = self._envelope(messages=[msg], contacts=[contact])
        if spec.get("wait", True):
            status = await self._deliver(envelope)
            return web.json_response({"wamid": wamid, "webhook_status": status})
        self._spawn(self._deliver(envelope))
        return web.json_response({"wamid": wamid})

    async def get_outbox(self, request: web.Request) -> web.Response:
        return web.json_response(self.state.outbox)

    async def move_clock(self, request: web.Request) -> web.Response:
        spec = await request.json()
        self.state.clock_offset_s += float(spec.get("forward_s", 0))
        return web.json_response({"offset_s": self.state.clock_offset_s})


async def _serve(args: argparse.Namespace) -> None:
    state = SandboxState(
        app_secret=args.app_secret,
        access_token=args.access_token,
        phone_number_id=args.phone_number_id,
        webhook_url=args.webhook,
    )
    sandbox = CloudSandbox(state)
    runner = await sandbox.start(port=args.port)
    print(f"WhatsApp Cloud API sandbox on {sandbox.base_url} -> webhook {args.webhook}", flush=True)
    with contextlib.suppress(asyncio.CancelledError):
        await asyncio.Event().wait()
    await runner.cleanup()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--port", type=int, default=8471)
    p.add_argument("--webhook", required=True, help="satukanal's /intake/<source>/webhook URL")
    p.add_argument("--app-secret", default="sandbox-app-secret")
    p.add_argument("--access-token", default="sandbox-access-token")
    p.add_argument("--phone-number-id", default="106540352242922")
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(p.parse_args()))


if __name__ == "__main__":
    main()
