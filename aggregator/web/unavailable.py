"""A request the database could not serve in time: 503 with a sentence in Indonesian.

Two causes, both bounded by configuration (docs/operations.md, "The database is slow or
busy"): no pooled connection within ``database.acquire_timeout_s`` (``PoolTimeout``, already
logged by the pool with the code that waited), or a statement PostgreSQL cancelled at
``database.statement_timeout_s``. Either is a moment's trouble, not a bug: the client is told
to try again (``Retry-After``) and the daemon carries on. API clients get JSON, everyone
else a small page. The log line names the route's pattern, never its values (a status
page's path holds a receipt code).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from html import escape

import asyncpg
import structlog
from aiohttp import web

from aggregator.storage.db import PoolTimeout, describe_database_error

log = structlog.get_logger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
RETRY_AFTER_S = 5

BUSY = (
    "Layanan sedang sibuk: basis data belum sempat melayani permintaan ini. "
    "Silakan coba lagi dalam beberapa saat."
)
TOO_LONG = (
    "Permintaan ini terlalu lama diproses basis data sehingga dihentikan. "
    "Silakan coba lagi, atau persempit pencarian atau saringannya."
)


def _route(request: web.Request) -> str:
    info = request.match_info.route.resource
    return info.canonical if info is not None else "?"


def _answer(request: web.Request, error: str, message: str) -> web.Response:
    headers = {"Retry-After": str(RETRY_AFTER_S)}
    if request.path.startswith("/api/"):
        return web.json_response({"error": error, "message": message}, status=503, headers=headers)
    page = (
        '<!doctype html><html lang="id"><head><meta charset="utf-8">'
        "<title>Layanan sedang sibuk</title></head>"
        f"<body><h1>Layanan sedang sibuk</h1><p>{escape(message)}</p></body></html>"
    )
    return web.Response(
        status=503, text=page, content_type="text/html", charset="utf-8", headers=headers
    )


@web.middleware
async def database_unavailable_middleware(
    request: web.Request, handler: Handler
) -> web.StreamResponse:
    try:
        return await handler(request)
    except PoolTimeout as exc:
        log.warning(
            "http_database_busy", method=request.method, route=_route(request), waiter=exc.waiter
        )
        return _answer(request, "database_busy", BUSY)
    except asyncpg.QueryCanceledError as exc:
        log.warning(
            "http_statement_cancelled",
            method=request.method,
            route=_route(request),
            error=describe_database_error(exc),
        )
        return _answer(request, "database_timeout", TOO_LONG)
