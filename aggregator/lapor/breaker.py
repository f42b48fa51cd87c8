"""A circuit breaker that stops hammering a LAPOR! that is down.

It trips on a failure *rate* over a sliding window, not on a short streak: a peer that
answers 5xx to one request in five is noisy, not down, and stopping every push for it
costs far more than the noise does. It opens when, within the last ``window_s`` seconds,
at least ``failures`` calls failed and they were at least ``failure_rate`` of the calls.
Open, it refuses calls for ``reset_s`` (callers defer their jobs without spending an
attempt: see ``aggregator.errors.Deferred``), then lets exactly one trial call through
(half-open): its success closes the breaker, its failure opens it again.

Its state is readable from anywhere in the process (``breakers()``: the web app's
``/readyz`` and the metrics) and is written to ``lapor_state`` by the push loop so that
``satukanal status`` in another process can show it.
"""

from __future__ import annotations

import time
import weakref
from collections import deque
from collections.abc import Callable
from typing import Any

import structlog

log = structlog.get_logger(__name__)

_REGISTRY: weakref.WeakValueDictionary[str, CircuitBreaker] = weakref.WeakValueDictionary()


class CircuitBreaker:
    CLOSED, OPEN, HALF_OPEN = "closed", "open", "half_open"

    def __init__(
        self,
        name: str = "lapor",
        *,
        failures: int = 20,
        failure_rate: float = 0.5,
        window_s: float = 10.0,
        reset_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not 0.0 < failure_rate <= 1.0:
            raise ValueError("failure_rate must be in (0, 1]")
        self.name = name
        self.threshold = failures
        self.failure_rate = failure_rate
        self.window_s = window_s
        self.reset_s = reset_s
        self.clock = clock
        self.state = self.CLOSED
        self.failures = 0  # failed calls in the window
        self.calls = 0  # calls in the window
        self._window: deque[tuple[float, bool]] = deque()
        self.opened_at: float | None = None
        self.last_error: str | None = None
        self.trips = 0
        self._trial_running = False
        self.listeners: list[Callable[[CircuitBreaker], None]] = []
        # Told of every call's outcome (True, None) / (False, error): the link's health.
        self.outcome_listeners: list[Callable[[bool, str | None], None]] = []
        _REGISTRY[name] = self

    @property
    def is_open(self) -> bool:
        """Refusing calls now (open, or half-open with its one trial under way)."""
        if self.state == self.OPEN:
            return self.retry_in() > 0
        return self.state == self.HALF_OPEN and self._trial_running

    def retry_in(self) -> float:
        if self.state != self.OPEN or self.opened_at is None:
            return 0.0
        return max(0.0, self.opened_at + self.reset_s - self.clock())

    def allow(self) -> bool:
        """May a call go out now? In half-open, only one trial call at a time."""
        if self.state == self.OPEN:
            if self.retry_in() > 0:
                return False
            self._set(self.HALF_OPEN)
        if self.state == self.HALF_OPEN:
            if self._trial_running:
                return False
            self._trial_running = True
        return True

    def _record(self, ok: bool) -> None:
        now = self.clock()
        self._window.append((now, ok))
        self.calls += 1
        if not ok:
            self.failures += 1
        horizon = now - self.window_s
        while self._window and self._window[0][0] < horizon:
            _at, was_ok = self._window.popleft()
            self.calls -= 1
            if not was_ok:
                self.failures -= 1

    def _clear(self) -> None:
        self._window.clear()
        self.calls = self.failures = 0

    def success(self) -> None:
        self._trial_running = False
        self._record(True)
        for listener in list(self.outcome_listeners):
            listener(True, None)
        if self.state != self.CLOSED:
            self._clear()
            self._set(self.CLOSED)

    def failure(self, error: str) -> None:
        self._trial_running = False
        self._record(False)
        self.last_error = error[:300]
        for listener in list(self.outcome_listeners):
            listener(False, self.last_error)
        tripped = (
            self.state == self.CLOSED
            and self.failures >= self.threshold
            and self.failures >= self.failure_rate * self.calls
        )
        if self.state == self.HALF_OPEN or tripped:
            self.opened_at = self.clock()
            self.trips += 1
            self._set(self.OPEN)

    def _set(self, state: str) -> None:
        if state == self.state:
            return
        self.state = state
        if state == self.OPEN:
            log.warning(
                "lapor_breaker_opened",
                breaker=self.name,
                failures=self.failures,
                calls=self.calls,
                error=self.last_error,
            )
        elif state == self.CLOSED:
            log.info("lapor_breaker_closed", breaker=self.name)
        for listener in list(self.listeners):
            listener(self)

    def snapshot(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "state": self.state,
            "failures": self.failures,
            "calls": self.calls,
            "trips": self.trips,
            "retry_in_s": round(self.retry_in(), 3),
            "last_error": self.last_error,
        }


def breakers() -> dict[str, dict[str, Any]]:
    """Every live breaker's state in this process, e.g. for ``/readyz`` details and metrics."""
    return {name: b.snapshot() for name, b in list(_REGISTRY.items())}
