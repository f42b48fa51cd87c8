"""A database outage in a loop's log: once when it goes, a count while it lasts, once back.

A loop that polls every half second used to log a full traceback at every poll while the
database was away (thousands of identical lines in a 10-minute outage, the one that said why
buried under them). :class:`OutageLog` keeps to the rule of the best integrations — log once
when it goes down, once when it is back — with one line every ``every_s`` seconds in between
that says how many attempts failed, so an operator reading the journal sees the outage is
still going on. Every line goes through the structured logger (and so the redactor); none
carries a traceback: a refused connection is a known state, not a bug.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import asyncpg

# Losing the database connection is an outage to ride out, not a bug to crash on.
DB_DOWN: tuple[type[BaseException], ...] = (
    OSError,  # refused, reset, unreachable; TimeoutError (a pool's acquire) too
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,  # "connection has been released back to the pool", "pool is closing"
    asyncpg.CannotConnectNowError,
    asyncpg.AdminShutdownError,
    asyncpg.OperatorInterventionError,
)


def reason(exc: BaseException) -> str:
    """What went wrong, in one line: the exception's type and message."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}"[:300] if text else type(exc).__name__


class OutageLog:
    """The log lines of one loop's database outage. Not thread-safe; one per loop."""

    def __init__(
        self,
        logger: Any,
        loop: str,
        *,
        every_s: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.log = logger
        self.loop = loop
        self.every_s = every_s
        self.clock = clock
        self.failures = 0  # failed attempts in this outage
        self._since: float | None = None
        self._reported_at = 0.0
        self._reported = 0  # failures already counted in a line

    @property
    def down(self) -> bool:
        return self._since is not None

    def failed(self, exc: BaseException) -> None:
        now = self.clock()
        self.failures += 1
        if self._since is None:
            self._since = self._reported_at = now
            self._reported = 1
            self.log.warning("database_unavailable", loop=self.loop, error=reason(exc))
            return
        if now - self._reported_at >= self.every_s:
            self.log.warning(
                "database_still_unavailable",
                loop=self.loop,
                failures=self.failures - self._reported,
                failures_total=self.failures,
                down_s=round(now - self._since, 1),
                error=reason(exc),
            )
            self._reported_at, self._reported = now, self.failures

    def succeeded(self) -> None:
        if self._since is None:
            return
        self.log.info(
            "database_recovered",
            loop=self.loop,
            failures=self.failures,
            down_s=round(self.clock() - self._since, 1),
        )
        self._since, self.failures, self._reported = None, 0, 0
