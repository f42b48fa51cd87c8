"""Hardening for public HTTP endpoints (a connector's intake routes, the status page):
a per-client token bucket, the client's address, and a body read with a hard cap."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable

from aiohttp import web


class RateLimiter:
    """Token bucket per client key, bounded in memory (least recently seen keys dropped)."""

    def __init__(
        self,
        per_min: float,
        burst: int,
        max_keys: int = 20000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rate = per_min / 60.0
        self.burst = float(burst)
        self.max_keys = max_keys
        self.clock = clock
        self.buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def take(self, key: str) -> float:
        """0 if allowed, else seconds to wait."""
        now = self.clock()
        tokens, at = self.buckets.pop(key, (self.burst, now))
        tokens = min(self.burst, tokens + (now - at) * self.rate)
        wait = 0.0
        if tokens >= 1:
            tokens -= 1
        else:
            wait = (1 - tokens) / self.rate
        self.buckets[key] = (tokens, now)
        while len(self.buckets) > self.max_keys:
            self.buckets.popitem(last=False)
        return wait


def client_key(request: web.Request, trust_forwarded: bool) -> str:
    remote = request.remote or "?"
    if trust_forwarded and remote in ("127.0.0.1", "::1"):
        fwd = request.headers.get("X-Forwarded-For", "")
        if fwd:
            return fwd.split(",")[-1].strip()
    return remote


async def read_capped(request: web.Request, limit: int) -> bytes | None:
    """The whole body, or None as soon as it grows past ``limit`` (chunked uploads carry no
    Content-Length, and one ``read(n)`` may return less than is coming)."""
    chunks: list[bytes] = []
    size = 0
    while chunk := await request.content.read(64 * 1024):
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)
