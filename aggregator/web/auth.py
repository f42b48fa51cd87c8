"""Bearer tokens with roles; every ``/api/`` route declares the roles it allows.

A route without a declaration is refused for everyone (fail closed), and a test walks every
registered route to prove it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from aggregator.storage.admin import find_token
from aggregator.web.keys import IDENTITY, SERVICES, THROTTLE
from aggregator.web.security import client_key
from schemas.events import Role

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
ROLES_ATTR = "__satukanal_roles__"


def requires(*roles: Role) -> Callable[[Handler], Handler]:
    def mark(handler: Handler) -> Handler:
        setattr(handler, ROLES_ATTR, frozenset(roles))
        return handler

    return mark


def allowed_roles(handler: Any) -> frozenset[Role] | None:
    return getattr(handler, ROLES_ATTR, None)


# Matches no agency id: what a token of role agency without an agency may see.
NO_AGENCY = "(token tanpa OPD)"


def agency_scope(request: web.Request) -> list[str] | None:
    """The agency ids this caller may see (its OPD's code and that code's LAPOR! id); None
    for roles that see every agency. An agency token without an agency sees nothing, never
    every complaint: the API and every dashboard page scope by this one answer."""
    ident = request[IDENTITY]
    if ident["role"] != Role.AGENCY.value:
        return None
    code = ident["agency"] or ""
    lapor_id = request.app[SERVICES].settings.agencies.get(code)
    return sorted({i for i in (code, lapor_id) if i}) or [NO_AGENCY]


def in_scope(scope: list[str] | None, agency_id: str | None, source_agency: str | None) -> bool:
    """Whether a complaint (LAPOR!'s agency, the agency of the source it came by) is in
    ``scope`` (from :func:`agency_scope`)."""
    return scope is None or any(a is not None and a in scope for a in (agency_id, source_agency))


def _deny(status: int, error: str, message: str, retry_after: float = 0) -> web.Response:
    headers = {"WWW-Authenticate": 'Bearer realm="satukanal"'} if status == 401 else {}
    if retry_after:
        headers["Retry-After"] = str(int(retry_after) + 1)
    return web.json_response({"error": error, "message": message}, status=status, headers=headers)


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if not request.path.startswith("/api/"):
        return await handler(request)
    route_handler = request.match_info.handler
    roles = allowed_roles(route_handler)
    if roles is None:
        # An /api/ 404 must not tell an anonymous caller which routes exist either.
        return _deny(401, "unauthorized", "token required")
    header = request.headers.get("Authorization", "")
    if not header.startswith("Bearer "):
        return _deny(401, "unauthorized", "token required (Authorization: Bearer …)")
    throttle = request.app[THROTTLE]
    who = client_key(request)
    if wait := throttle.retry_after(who):
        return _deny(429, "too_many_failures", "too many unknown tokens; wait", wait)
    services = request.app[SERVICES]
    async with services.pool.acquire() as conn:
        identity = await find_token(conn, header.removeprefix("Bearer ").strip())
    if identity is None:
        throttle.failed(who)
        return _deny(401, "unauthorized", "unknown or revoked token")
    if Role(identity["role"]) not in roles:
        return _deny(403, "forbidden", f"role {identity['role']} may not use this route")
    request[IDENTITY] = identity
    return await handler(request)
