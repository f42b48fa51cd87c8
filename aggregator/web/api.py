"""The JSON admin API. Agency tokens see only their agency's complaints, never identities."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import asdict
from typing import Any

from aiohttp import web

from aggregator.health.overview import health_overview
from aggregator.intake.anonymity import mask_original
from aggregator.intake.sealing import open_payload
from aggregator.lapor.health import lapor_health
from aggregator.receipts import hide_in_ref
from aggregator.storage import admin as repo
from aggregator.storage import web as web_repo
from aggregator.storage.db import json_text
from aggregator.storage.events import append_event
from aggregator.web.auth import agency_scope, in_scope, requires
from aggregator.web.keys import IDENTITY, SERVICES
from aggregator.web.security import json_body
from schemas.events import EventKind, Role

A, OP, U, G = Role.ADMIN, Role.OPERATOR, Role.AUDITOR, Role.AGENCY
routes = web.RouteTableDef()


def json_response(data: Any, status: int = 200) -> web.Response:
    return web.json_response(data, status=status, dumps=json_text)


def _uuid(request: web.Request, key: str = "id") -> uuid.UUID:
    try:
        return uuid.UUID(request.match_info[key])
    except ValueError:
        raise web.HTTPBadRequest(
            text='{"error": "bad_id"}', content_type="application/json"
        ) from None


def _int(request: web.Request, key: str = "id") -> int:
    raw = request.match_info[key]
    if not raw.isascii() or not raw.isdigit() or len(raw) > 18:
        raise web.HTTPBadRequest(text='{"error": "bad_id"}', content_type="application/json")
    return int(raw)


@routes.get("/api/status")
@requires(A, OP, U)
async def get_status(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    async with services.pool.acquire() as conn:
        data = await repo.status_overview(conn)
        data["lapor"] = await lapor_health(conn)
        health = await health_overview(conn, services.settings, services.clock())
    data["health"] = health["components"]
    data["incidents"] = health["incidents"]
    return json_response(data)


@routes.get("/api/complaints")
@requires(A, OP, U, G)
async def get_complaints(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    before = request.query.get("before")
    try:
        limit = min(max(int(request.query.get("limit", "50")), 1), 500)
        before_at = dt.datetime.fromisoformat(before) if before else None
    except ValueError:
        return json_response(
            {"error": "bad_query", "message": "limit must be a number, before a timestamp"}, 400
        )
    agencies = agency_scope(request)
    if agencies is None and (asked := request.query.get("agency")):
        agencies = [asked]
    async with services.pool.acquire() as conn:
        rows = await repo.list_complaints(
            conn,
            status=request.query.get("status"),
            agencies=agencies,
            before=before_at,
            limit=limit,
        )
    return json_response({"items": rows})


@routes.get("/api/complaints/{id}")
@requires(A, OP, U, G)
async def get_complaint(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    cid = _uuid(request)
    reveal = request.query.get("reveal_identity") == "1" and request[IDENTITY]["role"] == "admin"
    async with services.pool.acquire() as conn:
        if reveal:
            await append_event(
                conn,
                cid,
                EventKind.IDENTITY_REVEALED,
                {"token": str(request[IDENTITY]["id"])},
                actor="api",
            )
            await web_repo.log_access(
                conn,
                token_id=request[IDENTITY]["id"],
                actor=str(request[IDENTITY]["name"]),
                action="identity_revealed",
                subject=f"complaint:{cid}",
                detail={"via": "api"},
            )
        d = await repo.complaint_detail(conn, services.crypto, cid, reveal_identity=reveal)
    scope = agency_scope(request)
    if d is None or not in_scope(scope, d["agency_id"], d["source_agency"]):
        return json_response({"error": "not_found"}, 404)
    if scope is not None and d["anonymous"]:
        # Nor what came with the message: an e-mail's Message-IDs may name the sender's
        # domain or address.
        d["reporter"], d["origin"] = None, {}
    if request[IDENTITY]["role"] not in (A.value, OP.value):
        # The same reporter's other complaints, for those who may move a message onto one:
        # to anyone else they are other agencies' complaints, and link an anonymous report
        # to the ones that name its reporter.
        d["move_targets"] = []
    return json_response(d)


@routes.get("/api/clusters")
@requires(A, OP, U)
async def get_clusters(request: web.Request) -> web.Response:
    """Problems at one place reported by several reporters, with their counts."""
    from aggregator.storage import judgement as judgement_repo

    services = request.app[SERVICES]
    rows = await judgement_repo.recent_clusters(
        services.pool, min_reporters=services.settings.bursts.cluster_min_reporters
    )
    return json_response({"clusters": rows})


@routes.get("/api/clusters/{id}")
@requires(A, OP, U)
async def get_cluster(request: web.Request) -> web.Response:
    from aggregator.storage import judgement as judgement_repo

    members = await judgement_repo.cluster_members(request.app[SERVICES].pool, _uuid(request))
    if not members:
        return json_response({"error": "not_found"}, 404)
    return json_response(
        {"id": request.match_info["id"], "count": len(members), "complaints": members}
    )


@routes.post("/api/replies/{id}/as-complaint")
@requires(A, OP)
async def post_reply_as_complaint(request: web.Request) -> web.Response:
    """The operator says a message taken as a reply is a new complaint (issue 14, item 4)."""
    from aggregator.intake.followon import move_reply_to_complaint

    services = request.app[SERVICES]
    async with services.pool.acquire() as conn:
        moved = await move_reply_to_complaint(
            services, conn, _uuid(request), str(request[IDENTITY]["id"])
        )
    if moved is None:
        return json_response(
            {"error": "not_movable", "message": "unknown reply, or already sent to LAPOR!"}, 409
        )
    return json_response({"complaint_id": str(moved[0]), "open_complaint": str(moved[1])})


@routes.post("/api/complaints/{id}/as-reply")
@requires(A, OP)
async def post_complaint_as_reply(request: web.Request) -> web.Response:
    """The operator says a message taken as a new complaint is a reply to another open
    complaint of the same reporter: ``{"to": "<complaint id>"}`` (issue 14, item 4)."""
    from aggregator.storage import judgement as judgement_repo

    try:
        body = await json_body(request)
        target = uuid.UUID(str(body["to"]))
    except (ValueError, KeyError, TypeError):
        return json_response(
            {"error": "bad_request", "message": 'send {"to": "<open complaint id>"}'}, 400
        )
    async with request.app[SERVICES].pool.acquire() as conn:
        reply_id = await judgement_repo.complaint_as_reply(
            conn, _uuid(request), target, str(request[IDENTITY]["id"])
        )
    if reply_id is None:
        return json_response(
            {
                "error": "not_movable",
                "message": "unknown complaint, already sent to LAPOR!, or the target is not "
                "an open complaint of the same reporter",
            },
            409,
        )
    return json_response({"reply_id": str(reply_id), "open_complaint": str(target)})


@routes.post("/api/jobs/{id}/retry")
@requires(A, OP)
async def post_job_retry(request: web.Request) -> web.Response:
    job_id = _int(request)
    ok = await request.app[SERVICES].queue.retry(job_id)
    return json_response({"retried": ok}, 200 if ok else 404)


@routes.post("/api/jobs/{id}/discard")
@requires(A, OP)
async def post_job_discard(request: web.Request) -> web.Response:
    job_id = _int(request)
    try:
        body = await json_body(request)
        reason = str(body["reason"]).strip()
    except (ValueError, KeyError, TypeError):
        return json_response({"error": "bad_request", "message": 'send {"reason": "…"}'}, 400)
    if not reason:
        return json_response({"error": "bad_request", "message": "a reason is required"}, 400)
    ok = await request.app[SERVICES].queue.discard(job_id, reason)
    return json_response({"discarded": ok}, 200 if ok else 404)


@routes.get("/api/quarantine")
@requires(A, OP, U)
async def get_quarantine(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    async with services.pool.acquire() as conn:
        rows = await repo.list_quarantined(conn, request.query.get("source"), 200)
    return json_response(
        {"items": [{**asdict(r), "source_ref": hide_in_ref(r.source_ref)} for r in rows]}
    )


@routes.get("/api/quarantine/{id}")
@requires(A)
async def get_quarantined_item(request: web.Request) -> web.StreamResponse:
    """The original bytes of a quarantined item, for an administrator fixing it. Any other
    raw item only with ``?reveal=1``; every opening is in the access log. An anonymous
    reporter's original is never shown as it came: its personal data is masked."""
    services = request.app[SERVICES]
    raw_id = _int(request)
    reveal = request.query.get("reveal") == "1"
    ident = request[IDENTITY]
    async with services.pool.acquire() as conn:
        item = await web_repo.raw_original(conn, raw_id)
        if item is None or (item.state != "quarantined" and not reveal):
            return json_response(
                {
                    "error": "not_found",
                    "message": "no quarantined item with this id "
                    "(other raw items need ?reveal=1, which is logged)",
                },
                404,
            )
        await web_repo.log_access(
            conn,
            token_id=ident["id"],
            actor=str(ident["name"]),
            action="raw_revealed",
            subject=f"raw_item:{raw_id}",
            detail={"state": item.state, "masked": item.anonymous, "via": "api"},
        )
    body = open_payload(services.crypto, item.payload, item.payload_key)
    if item.anonymous:
        body = mask_original(body, item.content_type)
    return web.Response(
        body=body,
        content_type="application/octet-stream",
        headers={
            "X-Satukanal-Reason": (item.reason or "")[:500].encode("ascii", "replace").decode(),
            "X-Satukanal-Masked": "1" if item.anonymous else "0",
            "Content-Disposition": f'attachment; filename="raw-{raw_id}.bin"',
        },
    )


@routes.get("/api/access-log")
@requires(A)
async def get_access_log(request: web.Request) -> web.Response:
    """Who revealed which identity or raw original, and every erasure (newest first)."""
    try:
        limit = min(max(int(request.query.get("limit", "200")), 1), 1000)
    except ValueError:
        return json_response({"error": "bad_request", "message": "limit must be a number"}, 400)
    async with request.app[SERVICES].pool.acquire() as conn:
        return json_response({"items": await web_repo.access_log(conn, limit)})


@routes.post("/api/quarantine/{id}/replay")
@requires(A, OP)
async def post_replay(request: web.Request) -> web.Response:
    from aggregator.intake.replay import replay

    raw_id = _int(request)
    outcome = await replay(request.app[SERVICES], raw_id)
    body: dict[str, Any] = {"outcome": outcome.text, "code": outcome.code}
    if outcome.complaint_id is not None:
        body["complaint_id"] = str(outcome.complaint_id)
    return json_response(body, 404 if outcome.code == "not_found" else 200)


@routes.get("/api/tokens")
@requires(A)
async def get_tokens(request: web.Request) -> web.Response:
    async with request.app[SERVICES].pool.acquire() as conn:
        return json_response({"items": await repo.list_tokens(conn)})
