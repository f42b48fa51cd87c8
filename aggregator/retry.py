"""The one retry policy for short in-call retries.

Exponential with jitter, a few attempts, only on ``TransientError`` — never on
``InDoubtError`` (the job's next attempt checks before resending) nor on an open circuit
breaker. A peer's ``Retry-After`` is honoured when it is longer than the backoff. Long
retries are the job row's ``run_after``, not a sleeping coroutine.
"""

from __future__ import annotations

import random
from typing import Any

import structlog
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
)

from aggregator.errors import Deferred, InDoubtError, TransientError

log = structlog.get_logger(__name__)


def is_retryable(exc: BaseException) -> bool:
    # Deferred covers the open breaker (BreakerOpen): the job waits, not the coroutine.
    return isinstance(exc, TransientError) and not isinstance(exc, InDoubtError | Deferred)


class _WaitHonouringRetryAfter:
    """Exponential backoff with jitter; a longer ``Retry-After`` from the peer wins."""

    def __init__(self, *, initial: float, maximum: float) -> None:
        self.initial = initial
        self.maximum = maximum

    def __call__(self, retry_state: RetryCallState) -> float:
        exp = self.initial * 2 ** max(retry_state.attempt_number - 1, 0)
        backoff = min(self.maximum, exp + random.uniform(0, self.initial))  # noqa: S311
        exc = retry_state.outcome.exception() if retry_state.outcome else None
        after = getattr(exc, "retry_after", None)
        if after:
            backoff = max(backoff, min(float(after), self.maximum))
        return backoff


def _before_sleep(state: RetryCallState) -> None:
    exc = state.outcome.exception() if state.outcome else None
    log.warning(
        "call_retried",
        attempt=state.attempt_number,
        sleep_s=round(state.next_action.sleep, 3) if state.next_action else None,
        error=type(exc).__name__,
        detail=str(exc)[:200],
    )


def short_retry(
    *, attempts: int = 3, initial: float = 0.2, maximum: float = 5.0, **kw: Any
) -> AsyncRetrying:
    """``await short_retry()(fn, *args)``, or
    ``async for attempt in short_retry(): with attempt: …``."""
    return AsyncRetrying(
        stop=stop_after_attempt(attempts),
        wait=_WaitHonouringRetryAfter(initial=initial, maximum=maximum),
        retry=retry_if_exception(is_retryable),
        before_sleep=_before_sleep,
        reraise=True,
        **kw,
    )
