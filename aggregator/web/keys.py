"""Typed application keys (aiohttp warns on plain string keys)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web

if TYPE_CHECKING:
    from aggregator.web.security import FailureThrottle
    from aggregator.wiring.services import Services

SERVICES: web.AppKey[Services] = web.AppKey("services")
# The caller's token identity (id, name, role, agency), set by the auth middlewares.
IDENTITY: web.RequestKey[dict[str, Any]] = web.RequestKey("identity", dict)
# Failed logins and API tokens per client (aggregator.web.security.FailureThrottle).
THROTTLE: web.AppKey[FailureThrottle] = web.AppKey("throttle")
