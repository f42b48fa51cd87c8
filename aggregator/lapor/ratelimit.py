"""A token bucket shared by every request of this process's LAPOR! client.

Requests wait in line (a lock), so the rate holds however many workers push at once. The
client's burst is half the server's: the slack absorbs network jitter that could otherwise
bunch requests together on arrival and trip the server's own bucket.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable


class TokenBucket:
    def __init__(
        self, rate_per_s: float, burst: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if rate_per_s <= 0 or burst < 1:
            raise ValueError("rate must be > 0 and burst >= 1")
        self.rate = rate_per_s
        self.burst = float(burst)
        self.clock = clock
        self._tokens = float(burst)
        self._at = clock()
        self._paused_until = 0.0
        self._lock = asyncio.Lock()
        self.acquired = 0
        self.waited_s = 0.0

    def _refill(self, now: float) -> None:
        self._tokens = min(self.burst, self._tokens + (now - self._at) * self.rate)
        self._at = now

    async def acquire(self) -> None:
        async with self._lock:
            while True:
                now = self.clock()
                if now < self._paused_until:
                    wait = self._paused_until - now
                else:
                    self._refill(now)
                    if self._tokens >= 1.0:
                        self._tokens -= 1.0
                        self.acquired += 1
                        return
                    wait = (1.0 - self._tokens) / self.rate
                self.waited_s += wait
                await asyncio.sleep(wait)

    def charge(self) -> None:
        """Count a request sent without waiting its turn: the bucket may go below zero, so
        the requests after it wait that much longer."""
        self._refill(self.clock())
        self._tokens -= 1.0
        self.acquired += 1

    def pause(self, seconds: float) -> None:
        """The server said 429 / Retry-After: nobody sends until then, and the bucket empties."""
        now = self.clock()
        self._refill(now)
        self._tokens = 0.0
        self._paused_until = max(self._paused_until, now + seconds)
