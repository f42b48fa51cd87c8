"""Dashboard: replies held because their sender is not provably the report's reporter."""

from __future__ import annotations

import uuid
from typing import Any
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


@routes.post("/dasbor/balasan/{id}/{decision}")
@requires(A, OP)
async def review(request: web.Request) -> web.StreamResponse:
    decision = {"terima": "accepted", "tolak": "rejected"}.get(request.match_info["decision"])
    try:
        reply_id = uuid.UUID(request.match_info["id"])
    except ValueError:
        raise web.HTTPNotFound() from None
    if decision is None:
        raise web.HTTPNotFound()
    ok = await review_held_reply(request.app[SERVICES], reply_id,
                                 by=str(request[IDENTITY]["name"]),
                                 decision=decision)  # type: ignore[arg-type]
    text = ("Balasan diterima dan diteruskan ke LAPOR!." if ok and decision == "accepted"
            else "Balasan ditolak; tidak dikirim ke mana pun." if ok
            else "Balasan tidak ditemukan atau sudah diputuskan.")
    raise web.HTTPSeeOther("/dasbor/balasan?pesan=" + quote(text))
