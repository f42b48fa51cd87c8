"""The operators' dashboard (Bahasa Indonesia), server-rendered.

Login takes an API token once and opens a server-side session: the cookie holds a random
session id (HttpOnly, SameSite=Strict, Secure when the request came over TLS, directly or
through a trusted proxy), never the token; logging out or revoking the token ends it.
Failed logins are throttled per client. Every page declares its roles like the API routes.
Lists page by keyset (``before``), so they stay fast over millions of complaints.
"""

from __future__ import annotations

import datetime as dt
import functools
import uuid
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import asdict
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp_jinja2
import jinja2
from aiohttp import web
from markupsafe import Markup

from aggregator.localtime import zone_label
from aggregator.storage import admin as repo
from aggregator.storage import web as sessions
from aggregator.web import views
from aggregator.web.auth import agency_scope, allowed_roles, in_scope, requires
from aggregator.web.keys import IDENTITY, SERVICES, THROTTLE
from aggregator.web.labels import (
    CHANNEL_LABELS,
    EVENT_LABELS,
    FLAG_LABELS,
    JOB_LABELS,
    JOB_STATE_LABELS,
    LABEL_TEXT,
    NOTIFICATION_LABELS,
    NOTIFICATION_STATE_LABELS,
    SLA_CLOCK_LABELS,
    STATUS_LABELS,
    VERIFIED_BY_LABELS,
    Detail,
    actor_label,
    event_details,
    label,
)
from aggregator.web.replies import routes as held_reply_routes
from aggregator.web.security import client_key, form_body
from schemas.events import Role

A, OP, U, G = Role.ADMIN, Role.OPERATOR, Role.AUDITOR, Role.AGENCY
COOKIE = "satukanal_sesi"
routes = web.RouteTableDef()


def setup_dashboard(app: web.Application) -> None:
    env = aiohttp_jinja2.setup(
        app,
        loader=jinja2.PackageLoader("aggregator.web", "templates"),
        autoescape=jinja2.select_autoescape(["html"]),
    )
    tz = ZoneInfo(app[SERVICES].settings.sla.timezone)
    zone = zone_label(app[SERVICES].settings.sla.timezone)

    def waktu(value: dt.datetime | None) -> str:
        return f"{value.astimezone(tz).strftime('%d-%m-%Y %H:%M')} {zone}" if value else "-"

    def details(event: dict[str, Any], followups: Iterable[Any] = ()) -> list[Detail]:
        return event_details(
            event.get("kind", ""),
            event.get("data"),
            at=event.get("at"),
            followups=followups,
            fmt_time=waktu,
        )

    env.filters["waktu"] = waktu
    # Event data in Indonesian stays readable (tojson still escapes <, >, & and ').
    env.policies["json.dumps_kwargs"] = {"sort_keys": True, "ensure_ascii": False}
    for name, mapping in {
        "status_label": STATUS_LABELS,
        "label_text": LABEL_TEXT,
        "label_event": EVENT_LABELS,
        "label_notification": NOTIFICATION_LABELS,
        "label_notification_state": NOTIFICATION_STATE_LABELS,
        "label_job": JOB_LABELS,
        "label_job_state": JOB_STATE_LABELS,
        "label_channel": CHANNEL_LABELS,
        "label_verified_by": VERIFIED_BY_LABELS,
        "label_flag": FLAG_LABELS,
    }.items():
        env.filters[name] = functools.partial(label, mapping)
    env.filters["label_actor"] = actor_label
    env.filters["event_details"] = details
    app.router.add_static("/dasbor/static", app_static_path(), name="dasbor_static")
    env.filters["label_clock"] = functools.partial(label, SLA_CLOCK_LABELS)
    env.globals["zone"] = zone
    app.add_routes(routes)
    app.add_routes(held_reply_routes)
    app.add_routes(views.routes)
    app.middlewares.append(dashboard_auth)


def app_static_path() -> str:
    from importlib.resources import files

    return str(files("aggregator.web") / "static")


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def dashboard_auth(request: web.Request, handler: Handler) -> web.StreamResponse:
    path = request.path
    if not path.startswith("/dasbor") or path.startswith(("/dasbor/static", "/dasbor/masuk")):
        return await handler(request)
    roles = allowed_roles(request.match_info.handler)
    session_id = request.cookies.get(COOKIE)
    identity = None
    if session_id and roles:
        async with request.app[SERVICES].pool.acquire() as conn:
            identity = await sessions.find_session(conn, session_id)
    if identity is None:
        raise web.HTTPSeeOther("/dasbor/masuk")
    if Role(identity["role"]) not in (roles or ()):
        return web.Response(status=403, text="Peran Anda tidak boleh membuka halaman ini.")
    if request.method == "POST" and not _same_origin(request):
        return web.Response(status=403, text="Permintaan ditolak (asal berbeda).")
    request[IDENTITY] = identity
    return await handler(request)


def _int_id(request: web.Request) -> int:
    """A numeric id from the path; anything else is a page that does not exist."""
    raw = request.match_info["id"]
    if not raw.isascii() or not raw.isdigit() or len(raw) > 18:
        raise web.HTTPNotFound()
    return int(raw)


def _same_origin(request: web.Request) -> bool:
    origin = request.headers.get("Origin")
    return origin is None or origin.split("://", 1)[-1] == request.host


@routes.get("/dasbor/masuk")
@aiohttp_jinja2.template("login.html")
async def login_form(request: web.Request) -> dict[str, Any]:
    return {"identity": None}


@routes.post("/dasbor/masuk")
async def login(request: web.Request) -> web.StreamResponse:
    throttle = request.app[THROTTLE]
    who = client_key(request)
    if wait := throttle.retry_after(who):
        busy = aiohttp_jinja2.render_template(
            "login.html",
            request,
            {"identity": None, "error": "Terlalu banyak percobaan gagal. Coba lagi nanti."},
            status=429,
        )
        busy.headers["Retry-After"] = str(int(wait) + 1)
        return busy
    form = await form_body(request)
    token = str(form.get("token", "")).strip()
    services = request.app[SERVICES]
    async with services.pool.acquire() as conn:
        identity = await repo.find_token(conn, token) if token else None
        if identity is not None:
            now = services.clock()
            ttl = dt.timedelta(hours=services.settings.http.session_ttl_h)
            session_id = await sessions.create_session(conn, identity["id"], ttl, now)
            await sessions.delete_stale_sessions(conn, now - dt.timedelta(days=1))
    if identity is None:
        throttle.failed(who)
        return aiohttp_jinja2.render_template(
            "login.html",
            request,
            {"identity": None, "error": "Token tidak dikenal atau sudah dicabut."},
            status=401,
        )
    throttle.succeeded(who)
    resp = web.HTTPSeeOther("/dasbor")
    resp.set_cookie(
        COOKIE,
        session_id,
        httponly=True,
        samesite="Strict",
        secure=request.secure,
        max_age=int(ttl.total_seconds()),
        path="/dasbor",
    )
    raise resp


@routes.post("/dasbor/keluar")
@requires(A, OP, U, G)
async def logout(request: web.Request) -> web.StreamResponse:
    if session_id := request.cookies.get(COOKIE):
        async with request.app[SERVICES].pool.acquire() as conn:
            await sessions.revoke_session(conn, session_id)
    resp = web.HTTPSeeOther("/dasbor/masuk")
    resp.del_cookie(COOKIE, path="/dasbor")
    raise resp


@routes.get("/dasbor/pengaduan/{id}")
@requires(A, OP, U, G)
async def complaint(request: web.Request) -> web.StreamResponse:
    ident = request[IDENTITY]
    try:
        cid = uuid.UUID(request.match_info["id"])
    except ValueError:
        raise web.HTTPNotFound() from None
    services = request.app[SERVICES]
    async with services.pool.acquire() as conn:
        c = await repo.complaint_detail(conn, services.crypto, cid)
    if c is None or not in_scope(agency_scope(request), c["agency_id"], c["source_agency"]):
        raise web.HTTPNotFound()
    return aiohttp_jinja2.render_template(
        "complaint.html",
        request,
        {"identity": ident, "c": c, "message": request.query.get("pesan")},
    )


@routes.get("/dasbor/antrian")
@requires(A, OP)
@aiohttp_jinja2.template("jobs.html")
async def jobs(request: web.Request) -> dict[str, Any]:
    dead = await request.app[SERVICES].queue.dead_jobs(200)
    return {"identity": request[IDENTITY], "dead": dead, "message": request.query.get("pesan")}


@routes.post("/dasbor/antrian/{id}/ulangi")
@requires(A, OP)
async def job_retry(request: web.Request) -> web.StreamResponse:
    ok = await request.app[SERVICES].queue.retry(
        _int_id(request), actor=f"dasbor:{request[IDENTITY]['name']}"
    )
    raise web.HTTPSeeOther("/dasbor/antrian?pesan=" + ("Diulangi." if ok else "Tidak ditemukan."))


@routes.post("/dasbor/antrian/{id}/buang")
@requires(A, OP)
async def job_discard(request: web.Request) -> web.StreamResponse:
    job_id = _int_id(request)
    form = await form_body(request)
    reason = str(form.get("reason", "")).strip() or "dibuang dari dasbor"
    ok = await request.app[SERVICES].queue.discard(
        job_id, reason, actor=f"dasbor:{request[IDENTITY]['name']}"
    )
    raise web.HTTPSeeOther("/dasbor/antrian?pesan=" + ("Dibuang." if ok else "Tidak ditemukan."))


@routes.post("/dasbor/karantina/{id}/ulang")
@requires(A, OP)
async def quarantine_replay(request: web.Request) -> web.StreamResponse:
    from urllib.parse import quote

    from aggregator.intake.replay import replay_item

    outcome = await replay_item(request.app[SERVICES], _int_id(request))
    raise web.HTTPSeeOther("/dasbor/karantina?pesan=" + quote(outcome))


@routes.get("/dasbor/triase")
@requires(A, OP)
@aiohttp_jinja2.template("triage.html")
async def triage(request: web.Request) -> dict[str, Any]:
    """Complaints the router was not sure of; the operator picks category and OPD."""
    from aggregator.judgement.policy import routing_policy
    from aggregator.storage import routing as routes_repo

    settings = request.app[SERVICES].settings
    policy = routing_policy(settings.router, settings.routing, settings.agencies)
    async with request.app[SERVICES].pool.acquire() as conn:
        items = [asdict(r) for r in await routes_repo.triage(conn, 100)]
        total = await routes_repo.triage_count(conn)
    # Every row offers the same routes: rendered once, each row marks its own suggestion
    # (a hundred rows of a few dozen options each were most of this page's time).
    plain = Markup('<option value="{}/{}">{} — {}</option>')
    chosen = Markup('<option value="{}/{}" selected>{} — {}</option>')
    choices = [
        (f"{c.id}/{a}", plain.format(c.id, a, c.name, a), chosen.format(c.id, a, c.name, a))
        for c in policy.categories
        for a in c.agencies
    ]
    for r in items:
        mine = f"{r['route_category']}/{r['route_agency']}"
        r["options"] = Markup("").join(sel if v == mine else opt for v, opt, sel in choices)
    return {
        "identity": request[IDENTITY],
        "items": items,
        "total": total,
        "message": request.query.get("pesan"),
    }


@routes.get("/dasbor/klaster")
@requires(A, OP, U)
@aiohttp_jinja2.template("clusters.html")
async def clusters_page(request: web.Request) -> dict[str, Any]:
    """One problem at one place reported by several citizens, with its count."""
    import uuid as _uuid

    from aggregator.storage import judgement as judgement_repo

    services = request.app[SERVICES]
    rows = await judgement_repo.recent_clusters(
        services.pool, min_reporters=services.settings.bursts.cluster_min_reporters
    )
    chosen = request.query.get("id")
    members: list[dict[str, Any]] = []
    if chosen:
        try:
            members = await judgement_repo.cluster_members(services.pool, _uuid.UUID(chosen))
        except ValueError:
            members = []
    return {"identity": request[IDENTITY], "clusters": rows, "members": members, "chosen": chosen}


@routes.post("/dasbor/triase/{id}")
@requires(A, OP)
async def triage_correct(request: web.Request) -> web.StreamResponse:
    from urllib.parse import quote

    from aggregator.judgement.policy import routing_policy
    from aggregator.storage import routing as routes_repo

    settings = request.app[SERVICES].settings
    policy = routing_policy(settings.router, settings.routing, settings.agencies)
    form = await request.post()
    route = str(form.get("route", ""))
    category, _, agency = route.partition("/")
    try:
        cid = uuid.UUID(request.match_info["id"])
    except ValueError:
        raise web.HTTPNotFound() from None
    if route not in policy.routes:
        raise web.HTTPSeeOther("/dasbor/triase?pesan=" + quote("Pilih kategori dan OPD."))
    async with request.app[SERVICES].pool.acquire() as conn, conn.transaction():
        ok = await routes_repo.correct_route(
            conn,
            cid,
            category=category,
            agency=agency,
            agency_id=settings.agencies.get(agency),
            operator=f"dasbor:{request[IDENTITY]['name']}",
        )
    msg = f"Dialihkan ke {agency} ({category})." if ok else "Pengaduan tidak ditemukan."
    raise web.HTTPSeeOther("/dasbor/triase?pesan=" + quote(msg))
