"""The operator's worklist for the ``manual`` LAPOR! adapter (no API access).

Pushes land here; the operator re-types each complaint into LAPOR!, enters the Tracking ID
obtained, and later the status changes and agency responses seen there. Each entry makes
the same events and timeline as the HTTP adapter would.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

from aiohttp import web

from aggregator.errors import InvalidInput
from aggregator.lapor import manual
from aggregator.web.api import json_response
from aggregator.web.auth import requires
from aggregator.web.keys import IDENTITY, SERVICES
from aggregator.web.security import json_body
from schemas.events import Role

routes = web.RouteTableDef()
ADMIN, OPERATOR = Role.ADMIN, Role.OPERATOR


async def _body(request: web.Request) -> dict[str, Any]:
    try:
        body = await json_body(request)
    except ValueError:
        raise InvalidInput("send a JSON object") from None
    if not isinstance(body, dict):
        raise InvalidInput("send a JSON object")
    return body


def _at(body: dict[str, Any]) -> dt.datetime | None:
    raw = body.get("at")
    if raw is None:
        return None
    try:
        at = dt.datetime.fromisoformat(str(raw))
    except ValueError:
        raise InvalidInput("at: use an RFC 3339 time, e.g. 2026-11-28T09:30:00+07:00") from None
    if at.tzinfo is None:
        raise InvalidInput("at: give the time zone, e.g. +07:00")
    return at


def _actor(request: web.Request) -> str:
    return f"{request[IDENTITY]['role']}:{request[IDENTITY]['name']}"


async def _guard(request: web.Request, call: Any) -> web.Response:
    try:
        result = await call
    except InvalidInput as exc:
        return json_response({"error": "invalid", "message": str(exc)}, 422)
    except ValueError as exc:  # a malformed complaint id
        return json_response({"error": "invalid", "message": str(exc)}, 422)
    if dataclasses.is_dataclass(result) and not isinstance(result, type):
        result = dataclasses.asdict(result)
    return json_response({"ok": True, "result": result})


@routes.get("/api/worklist")
@requires(ADMIN, OPERATOR)
async def get_worklist(request: web.Request) -> web.Response:
    try:
        limit = min(int(request.query.get("limit", "50")), 200)
        offset = max(int(request.query.get("offset", "0")), 0)
    except ValueError:
        return json_response({"error": "bad_query", "message": "limit and offset are numbers"}, 400)
    items, total = await manual.worklist(request.app[SERVICES], limit=limit, offset=offset)
    return json_response({"items": items, "total": total})


@routes.post("/api/complaints/{id}/tracking-id")
@requires(ADMIN, OPERATOR)
async def post_tracking_id(request: web.Request) -> web.Response:
    async def call() -> Any:
        body = await _body(request)
        return await manual.enter_tracking_id(
            request.app[SERVICES],
            request.match_info["id"],
            str(body.get("tracking_id", "")),
            actor=_actor(request),
            created_at=_at(body),
        )

    return await _guard(request, call())


@routes.post("/api/complaints/{id}/status")
@requires(ADMIN, OPERATOR)
async def post_status(request: web.Request) -> web.Response:
    async def call() -> Any:
        body = await _body(request)
        return await manual.enter_status(
            request.app[SERVICES],
            request.match_info["id"],
            str(body.get("status", "")),
            actor=_actor(request),
            at=_at(body),
            agency_id=body.get("agency_id"),
            agency_name=body.get("agency_name"),
            event_id=body.get("event_id"),
        )

    return await _guard(request, call())


@routes.post("/api/complaints/{id}/response")
@requires(ADMIN, OPERATOR)
async def post_response(request: web.Request) -> web.Response:
    async def call() -> Any:
        body = await _body(request)
        return await manual.enter_response(
            request.app[SERVICES],
            request.match_info["id"],
            str(body.get("text", "")),
            actor=_actor(request),
            author=body.get("author"),
            agency_id=body.get("agency_id"),
            agency_name=body.get("agency_name"),
            attachments=body.get("attachments"),
            info_request=bool(body.get("info_request")),
            at=_at(body),
            event_id=body.get("event_id"),
        )

    return await _guard(request, call())
