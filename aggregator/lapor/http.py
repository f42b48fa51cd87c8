"""The ``http`` adapter: the JSON contract of docs/lapor-contract.md over HTTPS.

The shared aiohttp session is passed in (pooled, TLS verification on by default); timeouts
come from LaporConfig. Every request waits for the rate limiter (the replicas' shared
bucket) and asks the circuit breaker first. ``error_for_status`` is the one place an HTTP
status becomes an error type.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from typing import Any

import aiohttp
import structlog
from pydantic import ValidationError

from aggregator.errors import AuthError, InDoubtError, PermanentError, TransientError
from aggregator.lapor.breaker import CircuitBreaker
from aggregator.lapor.errors import (
    AttachmentRefused,
    BreakerOpen,
    DuplicateExternalRef,
    Gone,
    IdempotencyKeyReused,
    NotFound,
    RateLimited,
    Rejected,
)
from aggregator.lapor.models import (
    Agency,
    Category,
    CreateResult,
    LaporEvent,
    RemoteReport,
    ReplyPayload,
    ReportPayload,
    UpdatesPage,
    UploadedAttachment,
)
from aggregator.lapor.ratelimit import RateLimiter, TokenBucket
from aggregator.retry import call_retrying, short_retry
from schemas.config import LaporConfig

log = structlog.get_logger(__name__)

_TRANSIENT_STATUS = {408, 425, 429, 500, 502, 503, 504}
_TOKEN_REPEATS = 3


def _retry_after(headers: Any) -> float | None:
    value = headers.get("Retry-After") if headers else None
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def error_for_status(status: int, body: dict[str, Any], retry_after: float | None) -> Exception:
    """The one mapping from an HTTP answer to what the caller should do next."""
    code = str(body.get("error") or "")
    message = f"LAPOR! answered {status} {code}: {str(body.get('message') or '')[:200]}"
    if status == 429:
        return RateLimited(message, retry_after=retry_after)
    if status in _TRANSIENT_STATUS:
        return TransientError(message, retry_after=retry_after)
    if status in (401, 403):
        return AuthError(message)
    if status == 422:
        return Rejected(message, fields=list(body.get("fields") or []))
    if status == 409 and code == "duplicate_external_ref":
        return DuplicateExternalRef(message, tracking_id=body.get("tracking_id"))
    if status == 409 and code == "idempotency_key_reused":
        return IdempotencyKeyReused(message)
    if status == 404:
        return NotFound(message)
    if status == 410:
        return Gone(message)
    if status in (413, 415):
        return AttachmentRefused(message)
    if status >= 500:
        return TransientError(message, retry_after=retry_after)
    return PermanentError(message, details=body)


def report_to_wire(r: ReportPayload) -> dict[str, Any]:
    body: dict[str, Any] = {
        "external_ref": r.external_ref,
        "source_channel": r.channel.value,
        "classification": r.classification.value,
        "title": r.title,
        "content": r.content,
        "anonymous": r.anonymous,
        "confidential": r.confidential,
        "attachment_ids": list(r.attachment_ids),
    }
    if r.occurred_on:
        body["occurred_on"] = r.occurred_on.isoformat()
    if r.location is not None:
        loc = r.location.model_dump(exclude_none=True)
        if loc:
            body["location"] = loc
    if r.category_id:
        body["category_id"] = r.category_id
    if r.agency_id:
        body["suggested_agency_id"] = r.agency_id
    # An anonymous reporter's identity never leaves the daemon.
    if r.reporter is not None and not r.anonymous:
        who = {
            k: v
            for k, v in (
                ("name", r.reporter.name),
                ("email", r.reporter.email),
                ("phone", r.reporter.phone),
                ("nik", r.reporter.nik),
            )
            if v
        }
        body["reporter"] = who
    else:
        body["reporter"] = {}
    if r.submitted_at:
        body["submitted_at"] = r.submitted_at.isoformat()
    return body


def event_from_wire(raw: dict[str, Any]) -> LaporEvent:
    data = dict(raw)
    data["raw"] = raw
    return LaporEvent.model_validate(data)


def verify_signature(
    secret: str,
    timestamp: str | None,
    raw: bytes,
    signature: str | None,
    *,
    now: float,
    tolerance_s: float = 300.0,
) -> bool:
    """``X-Lapor-Signature: sha256=<hex HMAC of "<timestamp>.<raw body>">``, fresh timestamp."""
    if not timestamp or not signature or not signature.startswith("sha256="):
        return False
    try:
        ts = int(timestamp)
    except ValueError:
        return False
    if abs(now - ts) > tolerance_s:
        return False
    expected = hmac.new(
        secret.encode(), timestamp.encode() + b"." + raw, hashlib.sha256
    ).hexdigest()
    # Bytes, not str: compare_digest refuses non-ASCII text, and a forged header may hold any.
    given = signature[len("sha256=") :].encode("utf-8", "surrogateescape")
    return hmac.compare_digest(expected.encode(), given)


class HttpLaporAdapter:
    name = "http"
    # Creates and replies are idempotent by key (remembered >= 30 days): an in-doubt push
    # may be sent again as it was (see aggregator.lapor.push).
    replays_by_key = True

    def __init__(
        self,
        cfg: LaporConfig,
        session: aiohttp.ClientSession,
        *,
        base_url: str | None = None,
        client_id: str | None = None,
        client_secret: str | None = None,
        bucket: RateLimiter | None = None,
        breaker: CircuitBreaker | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        url = base_url or (str(cfg.base_url) if cfg.base_url else None)
        if not url:
            raise ValueError("the http adapter needs lapor.base_url")
        self.base = url.rstrip("/")
        self.cfg = cfg
        self.session = session
        self.client_id = client_id or cfg.client_id or ""
        self.client_secret = client_secret or (
            cfg.client_secret.get_secret_value() if cfg.client_secret else ""
        )
        self.clock = clock
        # Half the server's burst: see aggregator.lapor.ratelimit.
        self.bucket: RateLimiter = bucket or TokenBucket(
            cfg.rate_limit_per_s, max(1, cfg.rate_burst // 2), clock
        )
        self.breaker = breaker or CircuitBreaker(
            "lapor",
            failures=cfg.breaker_failures,
            failure_rate=cfg.breaker_failure_rate,
            window_s=cfg.breaker_window_s,
            reset_s=cfg.breaker_reset_s,
            clock=clock,
        )
        # Shorter than LAPOR!'s hang: a request held without an answer frees its slot and
        # its job comes back in doubt (looked up before it is sent again).
        self.timeout = aiohttp.ClientTimeout(
            total=min(cfg.timeout_s, cfg.request_timeout_s), sock_connect=cfg.connect_timeout_s
        )
        self._token: str | None = None
        self._token_expires = 0.0
        self._token_lock = asyncio.Lock()
        self.counts: dict[str, int] = {
            "requests": 0,
            "http_401": 0,
            "http_429": 0,
            "http_5xx": 0,
            "token_fetches": 0,
            "in_doubt": 0,
        }

    # ---- plumbing -------------------------------------------------------------------------
    async def _fetch_token(self, stale: str | None) -> str:
        async with self._token_lock:
            if self._token and self._token != stale and self.clock() < self._token_expires:
                return self._token
            form = {
                "grant_type": "client_credentials",
                "client_id": self.client_id,
                "client_secret": self.client_secret,
            }
            status, body, headers = await self._send(
                "POST", "/oauth/token", data=form, auth=False, mutating=False
            )
            if status != 200:
                raise error_for_status(status, body, _retry_after(headers))
            self.counts["token_fetches"] += 1
            self._token = str(body["access_token"])
            # Refresh a little early so a token does not expire in flight.
            self._token_expires = self.clock() + max(1.0, float(body.get("expires_in", 3600)) * 0.9)
            return self._token

    async def _send(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        data: Any = None,
        params: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
        auth: bool = True,
        mutating: bool,
        sent: list[str] | None = None,
    ) -> tuple[int, dict[str, Any], Any]:
        if not self.breaker.allow():
            raise BreakerOpen(
                "LAPOR! circuit breaker is open", retry_after=max(1.0, self.breaker.retry_in())
            )
        if auth:
            if not self._token_ready():
                await self._current_token()  # a token first, outside the line
            await self.bucket.acquire()
            if not self._token_ready():
                # Refused and replaced while this request waited in line: wait for the new
                # one, and if that took longer than a turn, take a fresh turn. Every caller
                # whose turn came during the fetch would otherwise go at once when it lands,
                # a burst the rate limit never allowed.
                waited = self.clock()
                await self._current_token()
                if self.clock() - waited > 1.0 / self.bucket.rate:
                    await self.bucket.acquire()
        else:
            # The token fetch goes at once, ahead of the line waiting for it, and is charged
            # to the bucket all the same (the rate holds on average).
            self.bucket.charge()
        hdrs = dict(headers or {})
        if self.cfg.send_slot_time:
            # The machine's clock, not self.clock: a sandbox in another process compares it.
            hdrs["X-Satukanal-Token-At"] = f"{time.monotonic():.6f}"
        if auth:
            # Chosen after the wait in the bucket's line, not before: a token revoked (and
            # replaced) meanwhile would cost one refused request per waiting caller.
            token = await self._current_token()
            hdrs["Authorization"] = f"Bearer {token}"
            if sent is not None:
                sent.append(token)
        self.counts["requests"] += 1
        try:
            async with self.session.request(
                method,
                self.base + path,
                json=json_body,
                data=data,
                params=params,
                headers=hdrs,
                timeout=self.timeout,
            ) as resp:
                raw = await resp.read()
                status, resp_headers = resp.status, resp.headers
        except (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError) as exc:
            # Never reached the server: safe to send again.
            self.breaker.failure(type(exc).__name__)
            raise TransientError(f"cannot reach LAPOR!: {type(exc).__name__}") from exc
        except (aiohttp.ClientError, TimeoutError) as exc:
            self.breaker.failure(type(exc).__name__)
            if mutating:
                self.counts["in_doubt"] += 1
                raise InDoubtError(
                    f"LAPOR! did not answer after the request left: {type(exc).__name__}"
                ) from exc
            raise TransientError(f"LAPOR! did not answer: {type(exc).__name__}") from exc
        try:
            body = json.loads(raw) if raw else {}
            if not isinstance(body, dict):
                body = {"value": body}
        except (json.JSONDecodeError, UnicodeDecodeError):
            body = {"error": "not_json", "message": raw[:200].decode("utf-8", "replace")}
        if status >= 500:
            self.counts["http_5xx"] += 1
            self.breaker.failure(f"HTTP {status}")
        else:
            self.breaker.success()
        if status == 429:
            self.counts["http_429"] += 1
            self.bucket.pause(_retry_after(resp_headers) or 1.0)
        return status, body, resp_headers

    def _token_ready(self) -> bool:
        return self._token is not None and self.clock() < self._token_expires

    async def _current_token(self) -> str:
        token = self._token if self._token and self.clock() < self._token_expires else None
        if token is None:
            token = await self._fetch_token(None)
        return token

    async def _call(
        self,
        method: str,
        path: str,
        *,
        ok: tuple[int, ...] = (200,),
        mutating: bool = False,
        **kw: Any,
    ) -> tuple[int, dict[str, Any]]:
        """One authenticated call: a new token and one repeat on 401, then status → error."""
        if self._token is None:
            await self._fetch_token(None)  # before the bucket: the fetch waits in it too
        sent: list[str] = []
        status, body, headers = await self._send(method, path, mutating=mutating, sent=sent, **kw)
        # Refused: a new token (unless another caller already replaced the refused one) and
        # the request again. A peer revoking tokens every few seconds may refuse the new one
        # too before this request's turn in the rate limiter comes round: a few repeats,
        # then it is the credentials (AuthError).
        for _ in range(_TOKEN_REPEATS):
            if status != 401:
                break
            self.counts["http_401"] += 1
            refused = sent[-1] if sent else None
            if refused is not None and self._token == refused:
                # At once: callers whose turn in the rate limiter comes now wait for the new
                # token instead of spending their turn on a refusal.
                self._token = None
            await self._fetch_token(refused)
            sent.clear()
            status, body, headers = await self._send(
                method, path, mutating=mutating, sent=sent, **kw
            )
        if status in ok:
            return status, body
        raise error_for_status(status, body, _retry_after(headers))

    # ---- the port ---------------------------------------------------------------------------
    async def create_report(self, report: ReportPayload, idempotency_key: str) -> CreateResult:
        body = report_to_wire(report)

        async def once() -> CreateResult:
            status, answer = await self._call(
                "POST",
                "/reports",
                ok=(200, 201),
                mutating=True,
                json_body=body,
                headers={"Idempotency-Key": idempotency_key},
            )
            return CreateResult(
                tracking_id=str(answer["tracking_id"]),
                status=answer.get("status"),
                created_at=answer.get("created_at"),
                replayed=status == 200,
            )

        return await call_retrying(once)

    async def find_by_external_ref(self, external_ref: str) -> RemoteReport | None:
        async def once() -> RemoteReport | None:
            _s, answer = await self._call("GET", "/reports", params={"external_ref": external_ref})
            items = answer.get("items") or []
            return RemoteReport.model_validate(items[0]) if items else None

        return await call_retrying(once)

    async def get_report(self, tracking_id: str) -> RemoteReport:
        async def once() -> RemoteReport:
            _s, answer = await self._call("GET", f"/reports/{tracking_id}")
            return RemoteReport.model_validate(answer)

        return await call_retrying(once)

    async def upload_attachment(
        self, filename: str, content_type: str, data: bytes
    ) -> UploadedAttachment:
        async def once() -> UploadedAttachment:
            form = aiohttp.FormData()
            form.add_field("file", data, filename=filename, content_type=content_type)
            _s, answer = await self._call(
                "POST", "/attachments", ok=(200, 201), mutating=True, data=form
            )
            return UploadedAttachment.model_validate(answer)

        # Re-uploading after a lost answer only leaves an unused attachment upstream.
        async for attempt in short_retry():
            with attempt:
                try:
                    return await once()
                except InDoubtError as exc:
                    raise TransientError(str(exc)) from exc
        raise AssertionError("unreachable")  # pragma: no cover

    async def post_reply(self, tracking_id: str, reply: ReplyPayload, idempotency_key: str) -> str:
        body: dict[str, Any] = {
            "text": reply.text,
            "resolved": reply.resolved,
            "attachment_ids": list(reply.attachment_ids),
        }
        if reply.sent_at:
            body["sent_at"] = reply.sent_at.isoformat()

        async def once() -> str:
            _s, answer = await self._call(
                "POST",
                f"/reports/{tracking_id}/replies",
                ok=(200, 201),
                mutating=True,
                json_body=body,
                headers={"Idempotency-Key": idempotency_key},
            )
            return str(answer["reply_id"])

        return await call_retrying(once)

    async def read_updates(self, cursor: str | None, limit: int) -> UpdatesPage:
        params = {"limit": str(limit)}
        if cursor:
            params["cursor"] = cursor

        async def once() -> UpdatesPage:
            _s, answer = await self._call("GET", "/updates", params=params)
            try:
                events = [event_from_wire(e) for e in answer.get("events") or []]
            except (ValidationError, TypeError) as exc:
                # Stop at this page (the cursor stays) rather than skip what we cannot read.
                raise PermanentError(
                    "LAPOR! sent a feed event this adapter cannot read", details=str(exc)[:500]
                ) from exc
            return UpdatesPage(events=events, next_cursor=answer.get("next_cursor") or cursor)

        return await call_retrying(once)

    async def agencies(self) -> list[Agency]:
        return [Agency.model_validate(a) for a in await self._items("/agencies")]

    async def categories(self) -> list[Category]:
        return [Category.model_validate(c) for c in await self._items("/categories")]

    async def _items(self, path: str) -> list[dict[str, Any]]:
        async def once() -> list[dict[str, Any]]:
            _s, answer = await self._call("GET", path)
            return list(answer.get("items") or [])

        return await call_retrying(once)
