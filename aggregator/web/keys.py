"""Typed application keys (aiohttp warns on plain string keys)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

SERVICES: web.AppKey[Any] = web.AppKey("services", object)
# The caller's token identity (id, name, role, agency), set by the auth middlewares.
IDENTITY: web.RequestKey[dict[str, Any]] = web.RequestKey("identity", dict)
# Failed logins and API tokens per client (aggregator.web.security.FailureThrottle).
THROTTLE: web.AppKey[Any] = web.AppKey("throttle", object)
