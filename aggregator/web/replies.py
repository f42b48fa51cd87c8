"""Dashboard: replies held because their sender is not provably the report's reporter."""

from __future__ import annotations

import uuid
from typing import Any, Literal
from urllib.parse import quote

import aiohttp_jinja2
from aiohttp import web

from aggregator.intake.held import review_held_reply
from aggregator.storage import replies as repo
from aggregator.web.auth import requires
from aggregator.web.keys import IDENTITY, SERVICES
from schemas.events import Role

routes = web.RouteTableDef()
A, OP = Role.ADMIN, Role.OPERATOR


@routes.get("/dasbor/balasan")
@requires(A, OP)
@aiohttp_jinja2.template("held_replies.html")
async def held_replies(request: web.Request) -> dict[str, Any]:
    async with request.app[SERVICES].pool.acquire() as conn:
        items = await repo.held(conn)
    return {"identity": request[IDENTITY], "items": items, "message": request.query.get("pesan")}


@routes.post("/dasbor/balasan/{id}/terima")
@requires(A, OP)
async def accept(request: web.Request) -> web.StreamResponse:
    return await _review(request, "accepted")


@routes.post("/dasbor/balasan/{id}/tolak")
@requires(A, OP)
async def reject(request: web.Request) -> web.StreamResponse:
    return await _review(request, "rejected")


async def _review(
    request: web.Request, decision: Literal["accepted", "rejected"]
) -> web.StreamResponse:
    try:
        reply_id = uuid.UUID(request.match_info["id"])
    except ValueError:
        raise web.HTTPNotFound() from None
    ok = await review_held_reply(
        request.app[SERVICES], reply_id, by=str(request[IDENTITY]["name"]), decision=decision
    )
    text = (
        "Balasan diterima dan diteruskan ke LAPOR!."
        if ok and decision == "accepted"
        else "Balasan ditolak; tidak dikirim ke mana pun."
        if ok
        else "Balasan tidak ditemukan atau sudah diputuskan."
    )
    raise web.HTTPSeeOther("/dasbor/balasan?pesan=" + quote(text))
