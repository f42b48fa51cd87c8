"""The sandbox's HTTP face: the contract under ``/api/v1``, admin under ``/_sandbox``."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import math
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import structlog
from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from aggregator.lapor.sandbox import data
from aggregator.lapor.sandbox.core import ApiError, Sandbox, SandboxConfig, photo_bytes
from aggregator.lapor.sandbox.openapi import openapi_document

log = structlog.get_logger(__name__)

SANDBOX: web.AppKey[Sandbox] = web.AppKey("sandbox", Sandbox)
CLIENT_ID: web.RequestKey[str] = web.RequestKey("client_id", str)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_MUTATING = {"create_report", "add_reply", "add_attachment"}


def _error(exc: ApiError) -> web.Response:
    headers = {}
    if exc.status == 429 or exc.status == 503:
        headers["Retry-After"] = str(exc.body.pop("retry_after", 1))
    return web.json_response(exc.body, status=exc.status, headers=headers)


def _drop(request: web.Request) -> web.Response:
    """Cut the connection; the response returned is never written."""
    if request.transport is not None:
        request.transport.abort()
    return web.Response(status=204)


@web.middleware
async def _contract(request: web.Request, handler: Handler) -> web.StreamResponse:
    sb = request.app[SANDBOX]
    route = request.match_info.route.name or ""
    if not route.startswith("api_"):
        return await handler(request)
    sb.stats["requests"] += 1
    sb.per_second[int(sb.clock())] += 1
    arrival = sb.arrived(route, request.headers.get("X-Satukanal-Token-At"))
    response = await _contract_checks(sb, request, handler, route)
    arrival[2] = response.status
    return response


async def _contract_checks(
    sb: Sandbox, request: web.Request, handler: Handler, route: str
) -> web.StreamResponse:
    faults = sb.faults
    if faults.revoke_every >= 1 and sb.stats["requests"] % int(faults.revoke_every) == 0:
        sb.revoke_tokens()
    try:
        if faults.latency > 0:
            await asyncio.sleep(faults.latency)
        if route != "api_token":
            client_id = sb.authenticate(request.headers.get("Authorization"))
            request[CLIENT_ID] = client_id
            wait = sb.take_rate(client_id)
            if wait is not None:
                raise ApiError(
                    429, "rate_limited", "too many requests", retry_after=max(1, math.ceil(wait))
                )
        if faults.error5xx > 0 and sb.rng.random() < faults.error5xx:
            sb.stats["injected_5xx"] += 1
            status = sb.rng.choice([500, 502, 503, 504])
            raise ApiError(
                status, "server_error" if status == 500 else "unavailable", "injected fault"
            )
        # A mutating request is dropped before or after it is acted on, half and half.
        mutating = route[4:] in _MUTATING
        drop_roll = sb.rng.random()
        if faults.drop > 0 and drop_roll < (faults.drop / 2 if mutating else faults.drop):
            sb.stats["dropped"] += 1
            return _drop(request)
        response = await handler(request)
        if mutating and response.status < 300:
            if faults.drop > 0 and drop_roll > 1 - faults.drop / 2:
                sb.stats["dropped"] += 1
                return _drop(request)
            if faults.timeout_after_create > 0 and sb.rng.random() < faults.timeout_after_create:
                sb.stats["hung"] += 1
                await asyncio.sleep(faults.hang_s)
                return _drop(request)
        return response
    except ApiError as exc:
        return _error(exc)


async def _json_body(request: web.Request) -> Any:
    try:
        return await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ApiError(400, "invalid_json", "body is not JSON") from exc


def _idem_key(request: web.Request) -> str:
    key = request.headers.get("Idempotency-Key")
    if not key:
        raise ApiError(400, "missing_idempotency_key", "Idempotency-Key header is required")
    return key


async def token(request: web.Request) -> web.Response:
    sb = request.app[SANDBOX]
    try:
        form = await request.post()
    except (ValueError, UnicodeDecodeError, aiohttp.ClientError, HttpProcessingError) as exc:
        raise ApiError(400, "invalid_request", "send a form-encoded body") from exc
    if form.get("grant_type") != "client_credentials":
        raise ApiError(400, "unsupported_grant_type", "use client_credentials")
    client_id, secret = form.get("client_id"), form.get("client_secret")
    if not isinstance(client_id, str) or not isinstance(secret, str):
        raise ApiError(400, "invalid_request", "client_id and client_secret are required")
    return web.json_response(sb.issue_token(client_id, secret))


async def create_report(request: web.Request) -> web.Response:
    sb = request.app[SANDBOX]
    key = _idem_key(request)
    status, body = sb.create_report(request[CLIENT_ID], key, await _json_body(request))
    return web.json_response(body, status=status)


async def list_reports(request: web.Request) -> web.Response:
    sb = request.app[SANDBOX]
    ref = request.query.get("external_ref")
    if not ref:
        raise ApiError(
            422,
            "validation_failed",
            "external_ref is required",
            fields=[{"field": "external_ref", "message": "required"}],
        )
    return web.json_response({"items": sb.find_by_ref(request[CLIENT_ID], ref)})


async def get_report(request: web.Request) -> web.Response:
    sb = request.app[SANDBOX]
    return web.json_response(sb.get_report(request[CLIENT_ID], request.match_info["tracking_id"]))


async def add_reply(request: web.Request) -> web.Response:
    sb = request.app[SANDBOX]
    key = _idem_key(request)
    status, body = sb.add_reply(
        request[CLIENT_ID], request.match_info["tracking_id"], key, await _json_body(request)
    )
    return web.json_response(body, status=status)


async def add_attachment(request: web.Request) -> web.Response:
    sb = request.app[SANDBOX]
    if request.content_length is not None and request.content_length > 10 * 1024 * 1024 + 65536:
        raise ApiError(413, "too_large", "attachments are limited to 10 MB")
    if not request.content_type.startswith("multipart/"):
        raise ApiError(415, "unsupported_type", "send multipart/form-data with a part 'file'")
    try:
        reader = await request.multipart()
        part = await reader.next()
        while part is not None and getattr(part, "name", None) != "file":
            part = await reader.next()
    except (
        ValueError,
        AssertionError,
        KeyError,
        UnicodeDecodeError,
        aiohttp.ClientError,
        HttpProcessingError,
    ) as exc:
        raise ApiError(400, "invalid_multipart", "cannot read the multipart body") from exc
    if part is None or not isinstance(part, aiohttp.BodyPartReader):
        raise ApiError(
            422,
            "validation_failed",
            "part 'file' is required",
            fields=[{"field": "file", "message": "required"}],
        )
    content_type = part.headers.get(aiohttp.hdrs.CONTENT_TYPE, "application/octet-stream")
    chunks: list[bytes] = []
    size = 0
    while chunk := await part.read_chunk(65536):
        size += len(chunk)
        if size > 10 * 1024 * 1024:
            raise ApiError(413, "too_large", "attachments are limited to 10 MB")
        chunks.append(chunk)
    body = sb.add_attachment(
        request[CLIENT_ID], content_type.split(";")[0].strip(), b"".join(chunks), part.filename
    )
    return web.json_response(body, status=201)


async def updates(request: web.Request) -> web.Response:
    sb = request.app[SANDBOX]
    try:
        limit = int(request.query.get("limit", "100"))
    except ValueError:
        limit = -1
    if not 1 <= limit <= 500:
        raise ApiError(
            422,
            "validation_failed",
            "limit must be 1..500",
            fields=[{"field": "limit", "message": "must be 1..500"}],
        )
    return web.json_response(sb.updates(request[CLIENT_ID], request.query.get("cursor"), limit))


async def agencies(request: web.Request) -> web.Response:
    return web.json_response(
        {"items": [{"id": i, "name": n, "parent_id": p} for i, n, p in data.AGENCIES]}
    )


async def categories(request: web.Request) -> web.Response:
    return web.json_response(
        {"items": [{"id": i, "name": n, "parent_id": p} for i, n, p, _a in data.CATEGORIES]}
    )


async def get_file(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    return web.Response(body=photo_bytes(name), content_type="image/jpeg")


# ---- admin ----------------------------------------------------------------------------------
async def admin_faults(request: web.Request) -> web.Response:
    sb = request.app[SANDBOX]
    if request.method == "POST":
        body = await request.json()
        if body.pop("reset", False):
            sb.faults.reset()
        if body.pop("revoke_tokens_now", False):
            sb.revoke_tokens()
        for key in ("rate_per_s", "burst", "rate_limit", "token_ttl_s"):
            if key in body:
                setattr(sb.cfg, key, type(getattr(sb.cfg, key))(body.pop(key)))
        try:
            sb.faults.update(body)
        except ValueError as exc:
            return web.json_response({"error": "invalid_fault", "message": str(exc)}, status=422)
        log.info("sandbox_faults_changed", **sb.faults.as_dict())
    return web.json_response(
        {
            **sb.faults.as_dict(),
            "rate_per_s": sb.cfg.rate_per_s,
            "burst": sb.cfg.burst,
            "rate_limit": sb.cfg.rate_limit,
        }
    )


async def admin_revoke(request: web.Request) -> web.Response:
    return web.json_response({"revoked": request.app[SANDBOX].revoke_tokens()})


async def admin_reports(request: web.Request) -> web.Response:
    sb = request.app[SANDBOX]
    items = [
        {k: v for k, v in r.items() if k not in ("life",)} for r in sb.state["reports"].values()
    ]
    return web.json_response({"count": len(items), "items": items})


async def admin_report(request: web.Request) -> web.Response:
    sb = request.app[SANDBOX]
    report = sb.state["reports"].get(request.match_info["tracking_id"])
    if report is None:
        return web.json_response({"error": "not_found"}, status=404)
    return web.json_response(report)


async def admin_advance(request: web.Request) -> web.Response:
    sb = request.app[SANDBOX]
    body = await request.json() if request.can_read_body else {}
    steps = int(body.get("steps", 1)) if not body.get("all") else 10**6
    tid = request.match_info.get("tracking_id")
    targets = [sb.state["reports"][tid]] if tid else list(sb.state["reports"].values())
    if tid and tid not in sb.state["reports"]:
        return web.json_response({"error": "not_found"}, status=404)
    done = sum(sb.advance(r, steps) for r in targets)
    return web.json_response({"steps": done})


async def admin_emit(request: web.Request) -> web.Response:
    """Inject one event into a report's life (``{"type": …, …fields}``)."""
    sb = request.app[SANDBOX]
    report = sb.state["reports"].get(request.match_info["tracking_id"])
    if report is None:
        return web.json_response({"error": "not_found"}, status=404)
    body = await request.json()
    type_ = body.pop("type")
    if type_ == "status_changed":
        sb.emit_status(report, body["status"])
        return web.json_response(sb.state["events"][-1])
    if "agency" not in body and report.get("agency"):
        body["agency"] = report["agency"]
    return web.json_response(sb.emit(report, type_, **body))


async def admin_replies(request: web.Request) -> web.Response:
    sb = request.app[SANDBOX]
    return web.json_response({"count": len(sb.state["replies"]), "items": sb.state["replies"]})


async def admin_events(request: web.Request) -> web.Response:
    sb = request.app[SANDBOX]
    return web.json_response({"count": len(sb.state["events"]), "items": sb.state["events"]})


async def admin_stats(request: web.Request) -> web.Response:
    sb = request.app[SANDBOX]
    return web.json_response(
        {
            **sb.stats,
            "max_requests_per_s": max(sb.per_second.values(), default=0),
            "arrivals": sb.arrival_stats(),
            "reports": len(sb.state["reports"]),
            "events": len(sb.state["events"]),
            "attachments": len(sb.state["attachments"]),
        }
    )


async def admin_arrivals(request: web.Request) -> web.Response:
    """Every API request as it arrived: [monotonic at, route, status, client's token time]."""
    sb = request.app[SANDBOX]
    return web.json_response({"count": len(sb.arrivals), "items": sb.arrivals})


async def admin_seed(request: web.Request) -> web.Response:
    sb = request.app[SANDBOX]
    body = await request.json()
    items = sb.seed_reports(
        body.get("client_id", next(iter(sb.cfg.clients))),
        list(body["external_refs"]),
        int(body.get("events_per_report", 5)),
    )
    return web.json_response({"items": items})


async def addstream(request: web.Request) -> web.Response:
    """The old public XML endpoint, for the xml-legacy adapter."""
    import xml.etree.ElementTree as ET

    sb = request.app[SANDBOX]
    try:
        root = ET.fromstring(await request.read())  # noqa: S314 - the sandbox's own test peer
    except ET.ParseError:
        return web.Response(status=400, text="<error>bukan XML</error>", content_type="text/xml")
    token = root.get("token") or ""
    client = next((c for c, secret in sb.cfg.clients.items() if secret == token), None)
    if client is None:
        return web.Response(status=401, text="<error>token salah</error>", content_type="text/xml")
    laporan = root.find("laporan")
    isi = (laporan.findtext("isi") if laporan is not None else "") or ""
    title, _sep, content = isi.partition("\n\n")
    key = hashlib.sha256(isi.encode()).hexdigest()[:32]
    body = {
        "external_ref": f"xml-{sb.state['next_tracking']}",
        "source_channel": "other",
        "title": title[:150] or "Laporan",
        "content": content or isi,
        "anonymous": laporan is not None and laporan.get("anonim") == "1",
        "confidential": laporan is not None and laporan.get("rahasia") == "1",
    }
    try:
        _status, res = sb.create_report(client, key, body)
    except ApiError as exc:
        return web.Response(
            status=exc.status, text=f"<error>{exc.body['error']}</error>", content_type="text/xml"
        )
    return web.Response(
        text=f"<lapor><trackingid>{res['tracking_id']}</trackingid>"
        f"<transaksiid>T{res['tracking_id']}</transaksiid></lapor>",
        content_type="text/xml",
    )


async def openapi(request: web.Request) -> web.Response:
    return web.json_response(openapi_document(request.app[SANDBOX].cfg.base_path))


# ---- background ---------------------------------------------------------------------------
async def _ticker(sb: Sandbox) -> None:
    period = min(0.2, max(0.02, sb.cfg.unit_s() / 5)) if sb.cfg.life != "none" else 0.2
    while True:
        await asyncio.sleep(period)
        try:
            sb.tick()
            if (
                sb.cfg.life == "none"
                and sb.faults.revoke_tokens > 0
                and sb.clock() - sb.last_revoke >= sb.faults.revoke_tokens
            ):
                sb.revoke_tokens()
            sb.save()
        except Exception:  # keep the sandbox alive; the error is in the log
            log.exception("sandbox_tick_failed")


async def _webhook_sender(sb: Sandbox) -> None:
    assert sb.cfg.webhook_url and sb.cfg.webhook_secret
    secret = sb.cfg.webhook_secret.encode()
    async with aiohttp.ClientSession() as session:
        while True:
            await asyncio.sleep(0.2)
            if not sb.webhook_queue:
                continue
            batch = sb.webhook_queue[:100]
            raw = json.dumps({"events": batch}).encode()
            ts = str(int(sb.clock()))
            sig = hmac.new(secret, ts.encode() + b"." + raw, hashlib.sha256).hexdigest()
            try:
                async with session.post(
                    sb.cfg.webhook_url,
                    data=raw,
                    headers={
                        "Content-Type": "application/json",
                        "X-Lapor-Timestamp": ts,
                        "X-Lapor-Signature": f"sha256={sig}",
                    },
                    timeout=aiohttp.ClientTimeout(total=10),
                ) as resp:
                    if resp.status < 300:
                        del sb.webhook_queue[: len(batch)]
                        sb.stats["webhook_posts"] += 1
                    else:
                        await asyncio.sleep(1)
            except (aiohttp.ClientError, TimeoutError):
                await asyncio.sleep(1)


async def _background(app: web.Application) -> AsyncIterator[None]:
    sb = app[SANDBOX]
    tasks = [asyncio.create_task(_ticker(sb))]
    if sb.cfg.webhook_url and sb.cfg.webhook_secret:
        tasks.append(asyncio.create_task(_webhook_sender(sb)))
    yield
    for t in tasks:
        t.cancel()
    for t in tasks:
        with contextlib.suppress(asyncio.CancelledError):
            await t
    sb.dirty = True
    sb.save()


def create_app(cfg: SandboxConfig | None = None, sandbox: Sandbox | None = None) -> web.Application:
    sb = sandbox or Sandbox(cfg or SandboxConfig())
    app = web.Application(middlewares=[_contract], client_max_size=11 * 1024 * 1024)
    app[SANDBOX] = sb
    p = sb.cfg.base_path
    r = app.router
    r.add_post(f"{p}/oauth/token", token, name="api_token")
    r.add_post(f"{p}/reports", create_report, name="api_create_report")
    r.add_get(f"{p}/reports", list_reports, name="api_list_reports")
    r.add_get(f"{p}/reports/{{tracking_id}}", get_report, name="api_get_report")
    r.add_post(f"{p}/reports/{{tracking_id}}/replies", add_reply, name="api_add_reply")
    r.add_post(f"{p}/attachments", add_attachment, name="api_add_attachment")
    r.add_get(f"{p}/updates", updates, name="api_updates")
    r.add_get(f"{p}/agencies", agencies, name="api_agencies")
    r.add_get(f"{p}/categories", categories, name="api_categories")
    r.add_get(f"{p}/files/{{name}}", get_file, name="files")
    r.add_get("/openapi.json", openapi)
    r.add_post("/api/stream/addstream", addstream)
    r.add_get(f"{p}/openapi.json", openapi)
    r.add_route("*", "/_sandbox/faults", admin_faults)
    r.add_post("/_sandbox/tokens/revoke", admin_revoke)
    r.add_get("/_sandbox/reports", admin_reports)
    r.add_get("/_sandbox/reports/{tracking_id}", admin_report)
    r.add_post("/_sandbox/reports/{tracking_id}/advance", admin_advance)
    r.add_post("/_sandbox/reports/{tracking_id}/events", admin_emit)
    r.add_post("/_sandbox/advance", admin_advance)
    r.add_get("/_sandbox/replies", admin_replies)
    r.add_get("/_sandbox/events", admin_events)
    r.add_get("/_sandbox/stats", admin_stats)
    r.add_get("/_sandbox/arrivals", admin_arrivals)
    r.add_post("/_sandbox/seed", admin_seed)
    app.cleanup_ctx.append(_background)
    return app
