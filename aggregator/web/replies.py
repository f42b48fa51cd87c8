"""Dashboard: replies held because their sender is not provably the report's reporter, and
an operator's moves of a message between "reply" and "new complaint" (issue 14, item 4)."""

from __future__ import annotations

import uuid
from typing import Any, Literal
from urllib.parse import quote

import aiohttp_jinja2
from aiohttp import web

from aggregator.intake.followon import move_reply_to_complaint
from aggregator.intake.held import review_held_reply
from aggregator.storage import judgement as judgement_repo
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


def _id(request: web.Request) -> uuid.UUID:
    try:
        return uuid.UUID(request.match_info["id"])
    except ValueError:
        raise web.HTTPNotFound() from None


def _back(complaint_id: uuid.UUID | str, text: str) -> web.HTTPSeeOther:
    return web.HTTPSeeOther(f"/dasbor/pengaduan/{complaint_id}?pesan=" + quote(text))


@routes.post("/dasbor/balasan/{id}/jadi-pengaduan")
@requires(A, OP)
async def reply_to_complaint(request: web.Request) -> web.StreamResponse:
    """A message taken as a reply is a new complaint of its own: it gets pushed."""
    reply_id = _id(request)
    form = await request.post()
    # The complaint page the operator came from; anything but an id is ignored (it goes
    # into the redirect's Location header).
    try:
        back: uuid.UUID | None = uuid.UUID(str(form.get("dari", "")))
    except ValueError:
        back = None
    services = request.app[SERVICES]
    async with services.pool.acquire() as conn:
        moved = await move_reply_to_complaint(
            services, conn, reply_id, f"dasbor:{request[IDENTITY]['name']}"
        )
    if moved is None:
        raise _back(back or reply_id, "Balasan tidak dapat dipindah (sudah dikirim ke LAPOR!?).")
    raise _back(moved[0], "Balasan dijadikan pengaduan baru dan akan dikirim ke LAPOR!.")


@routes.post("/dasbor/pengaduan/{id}/jadi-balasan")
@requires(A, OP)
async def complaint_to_reply(request: web.Request) -> web.StreamResponse:
    """A message taken as a new complaint is a reply to another open complaint of the same
    reporter (chosen on the page): it is not pushed, it goes up as that report's reply."""
    cid = _id(request)
    form = await request.post()
    try:
        target = uuid.UUID(str(form.get("ke", "")))
    except ValueError:
        raise _back(cid, "Pilih pengaduan tujuan.") from None
    async with request.app[SERVICES].pool.acquire() as conn:
        reply_id = await judgement_repo.complaint_as_reply(
            conn, cid, target, f"dasbor:{request[IDENTITY]['name']}"
        )
    if reply_id is None:
        raise _back(cid, "Pengaduan tidak dapat dijadikan balasan.")
    raise _back(target, "Pesan dijadikan balasan pada pengaduan ini.")
