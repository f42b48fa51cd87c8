"""What every HTTP route shares for safety: the real client behind a trusted reverse proxy,
response headers that keep pages out of frames and caches, and a throttle for failed logins.

Behind the recommended reverse proxy every request's socket peer is the proxy, so a rate
limit keyed on it would let one client lock every citizen out, and ``request.secure`` would
be false although the citizen used TLS. Only a peer in ``http.trusted_proxies`` may say who
the client is (``X-Forwarded-For``) and which scheme it used (``X-Forwarded-Proto``); the
request is then cloned with that ``remote`` and ``scheme``, so every handler — intakes, the
status page, the dashboard — sees the citizen, not the proxy.
"""

from __future__ import annotations

import ipaddress
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from aiohttp import web

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
# Set on the request aiohttp prepares the response for (the handler got a clone).
FORWARDED_TLS: web.RequestKey[bool] = web.RequestKey("forwarded_tls", bool)
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

_PRIVATE_PATHS = ("/dasbor", "/api/")
_PUBLIC_PAGES = ("/status", "/intake")
# The dashboard loads only its own stylesheet; nothing inline, no script, no frames.
DASHBOARD_CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
# Public pages carry their small stylesheet inline (one file each, no external requests).
PUBLIC_CSP = (
    "default-src 'none'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)


def _address(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(value.strip().strip("[]"))
    except ValueError:
        return None


def _trusted(addr: Any, networks: Iterable[Network]) -> bool:
    return addr is not None and any(addr in net for net in networks)


def forwarded_client(
    peer: str | None, forwarded_for: str | None, proto: str | None, networks: list[Network]
) -> tuple[str | None, str | None]:
    """The client address and scheme a request really came with: the right-most address of
    ``X-Forwarded-For`` that is not itself a trusted proxy (a client can prepend anything,
    only what our proxies appended counts). ``(None, None)`` when the peer is not trusted."""
    if not networks or not _trusted(_address(peer or ""), networks):
        return None, None
    client = None
    for hop in reversed([h for h in (forwarded_for or "").split(",") if h.strip()]):
        addr = _address(hop)
        if addr is None:
            break
        client = str(addr)
        if not _trusted(addr, networks):
            break
    scheme = (proto or "").split(",")[0].strip().lower() or None
    return client, scheme if scheme in ("http", "https") else None


def proxy_middleware(networks: list[Network]) -> Any:
    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        client, scheme = forwarded_client(
            request.remote,
            request.headers.get("X-Forwarded-For"),
            request.headers.get("X-Forwarded-Proto"),
            networks,
        )
        if client is not None or scheme is not None:
            changes: dict[str, Any] = {}
            if client is not None:
                changes["remote"] = client
            if scheme is not None:
                changes["scheme"] = scheme
                request[FORWARDED_TLS] = scheme == "https"
            request = request.clone(**changes)
        return await handler(request)

    return middleware


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


@web.middleware
async def refuse_nul(request: web.Request, handler: Handler) -> web.StreamResponse:
    """A NUL byte in the path or a query value is the client's mistake (no text column can
    hold one): a 400 on the dashboard, the API and the status page, before a handler passes
    it to PostgreSQL (a 500). Not on the intakes: Kannel sends a UCS-2 SMS as its bytes in
    the query (``%00%41``), and each intake reads what it is sent itself."""
    if not request.path.startswith((*_PRIVATE_PATHS, "/status")):
        return await handler(request)
    if "\x00" in request.path or any(_has_nul(k) or _has_nul(v) for k, v in request.query.items()):
        if request.path.startswith("/api/"):
            return web.json_response(
                {"error": "bad_query", "message": "a NUL byte in the address"}, status=400
            )
        return web.Response(status=400, text="Alamat permintaan memuat karakter NUL.")
    return await handler(request)


async def security_headers(request: web.Request, response: web.StreamResponse) -> None:
    """``on_response_prepare``: runs for every response, redirects and errors included."""
    path = request.path
    headers = response.headers
    headers.setdefault("X-Content-Type-Options", "nosniff")
    # same-origin, not no-referrer: with no-referrer browsers send "Origin: null" on form
    # posts and the dashboard's same-origin check refuses them; nothing leaves for other sites.
    headers.setdefault("Referrer-Policy", "same-origin")
    if path.startswith(_PRIVATE_PATHS):
        headers["Cache-Control"] = "no-store"
        headers["X-Frame-Options"] = "DENY"
        headers.setdefault("Content-Security-Policy", DASHBOARD_CSP)
    elif path.startswith(_PUBLIC_PAGES):
        # A status page's address can hold the citizen's receipt code.
        headers["Cache-Control"] = "no-store"
        headers["X-Frame-Options"] = "DENY"
        headers.setdefault("Content-Security-Policy", PUBLIC_CSP)
    if request.secure or request.get(FORWARDED_TLS, False):
        headers.setdefault("Strict-Transport-Security", "max-age=31536000")


class FailureThrottle:
    """Failed attempts per client in a sliding window; past the limit the client waits.

    Kept in this process's memory, bounded (least recently seen clients dropped): it slows
    guessing of tokens and session ids, it is not an account lock-out. With several daemon
    processes each keeps its own count, so the effective limit is per process.
    """

    def __init__(
        self,
        limit: int,
        window_s: float,
        max_keys: int = 50_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limit = limit
        self.window_s = window_s
        self.max_keys = max_keys
        self.clock = clock
        self._fails: OrderedDict[str, list[float]] = OrderedDict()

    def _recent(self, key: str, now: float) -> list[float]:
        times = [t for t in self._fails.pop(key, []) if now - t < self.window_s]
        if times:
            self._fails[key] = times
        return times

    def retry_after(self, key: str) -> float:
        """Seconds the client must wait before trying again; 0 when it may try now."""
        now = self.clock()
        times = self._recent(key, now)
        if len(times) < self.limit:
            return 0.0
        return max(0.0, self.window_s - (now - times[-self.limit]))

    def failed(self, key: str) -> None:
        now = self.clock()
        self._fails[key] = [*self._recent(key, now), now][-self.limit :]
        while len(self._fails) > self.max_keys:
            self._fails.popitem(last=False)

    def succeeded(self, key: str) -> None:
        self._fails.pop(key, None)


def client_key(request: web.Request) -> str:
    """The key rate limits and throttles count by (the real client, see proxy_middleware)."""
    return request.remote or "?"


# What aiohttp raises for a body that cannot be read as declared: bad JSON, an unknown or
# lying charset, a broken multipart boundary. Each is the client's mistake, a 400.
_BODY_ERRORS = (ValueError, LookupError, UnicodeDecodeError, AssertionError)


def _bad_body(request: web.Request, what: str) -> web.HTTPBadRequest:
    if request.path.startswith("/api/"):
        return web.HTTPBadRequest(
            text=f'{{"error": "bad_body", "message": "the body is not readable {what}"}}',
            content_type="application/json",
        )
    return web.HTTPBadRequest(text=f"Isi permintaan tidak dapat dibaca ({what}).")


async def json_body(request: web.Request) -> Any:
    """The request's JSON, or a 400 naming the problem (a NUL byte in a string too)."""
    try:
        body = await request.json()
    except _BODY_ERRORS:
        raise _bad_body(request, "as JSON") from None
    if _has_nul(body):
        raise _bad_body(request, "(it holds a NUL byte)")
    return body


async def form_body(request: web.Request) -> Any:
    """The request's form fields, or a 400 naming the problem (a NUL byte in a value too)."""
    try:
        form = await request.post()
    except _BODY_ERRORS:
        raise _bad_body(request, "as a form") from None
    if any(_has_nul(k) or (isinstance(v, str) and _has_nul(v)) for k, v in form.items()):
        raise _bad_body(request, "(it holds a NUL byte)")
    return form
