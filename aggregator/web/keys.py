"""Typed application keys (aiohttp warns on plain string keys)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

SERVICES: web.AppKey[Any] = web.AppKey("services", object)
