"""Assemble the aiohttp application."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from aiohttp import web

from aggregator.web import api, health, manual
from aggregator.web.auth import auth_middleware
from aggregator.web.dashboard import setup_dashboard
from aggregator.web.keys import SERVICES, THROTTLE
from aggregator.web.security import (
    FailureThrottle,
    proxy_middleware,
    refuse_nul,
    security_headers,
)
from aggregator.web.unavailable import database_unavailable_middleware

if TYPE_CHECKING:
    from aggregator.wiring.services import Services


def make_app(
    services: Services,
    *,
    extra: Iterable[tuple[str, Iterable[web.AbstractRouteDef]]] = (),
    setup: Iterable[Any] = (),
) -> web.Application:
    """``extra`` is ``(prefix, routes)`` pairs: public intakes under ``/intake/<source>``, the
    LAPOR! webhook, the status pages. ``setup`` are callables given the app (templates…)."""
    http = services.settings.http
    app = web.Application(
        middlewares=[
            refuse_nul,
            proxy_middleware(list(http.trusted_proxies)),
            database_unavailable_middleware,
            auth_middleware,
        ],
        client_max_size=25 * 1024 * 1024,
    )
    app[SERVICES] = services
    app[THROTTLE] = FailureThrottle(http.login_failures_max, window_s=15 * 60)
    app.on_response_prepare.append(security_headers)
    app.add_routes(health.routes)
    app.add_routes(api.routes)
    app.add_routes(manual.routes)
    setup_dashboard(app)
    for prefix, defs in extra:
        if prefix:
            sub = web.Application(client_max_size=25 * 1024 * 1024)
            sub[SERVICES] = services
            sub.add_routes(list(defs))
            app.add_subapp(prefix, sub)
        else:
            app.add_routes(list(defs))
    for fn in setup:
        fn(app)
    return app
