"""The one retry policy for short in-call retries.

Exponential with jitter, a few attempts, only on ``TransientError`` — never on
``InDoubtError`` (the job's next attempt checks before resending) nor on an open circuit
breaker. A peer's ``Retry-After`` is honoured when it is longer than the backoff. Long
retries are the job row's ``run_after``, not a sleeping coroutine.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import structlog
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
)

from aggregator.errors import Deferred, InDoubtError, TransientError

log = structlog.get_logger(__name__)

T = TypeVar("T")


def is_retryable(exc: BaseException) -> bool:
    # Deferred covers the open breaker (BreakerOpen): the job waits, not the coroutine.
    return isinstance(exc, TransientError) and not isinstance(exc, InDoubtError | Deferred)


class _WaitHonouringRetryAfter:
    """Exponential backoff with jitter; a longer ``Retry-After`` from the peer wins."""

    def __init__(self, *, initial: float, maximum: float) -> None:
        self.initial = initial
        self.maximum = maximum

    def __call__(self, retry_state: RetryCallState) -> float:
        exc = retry_state.outcome.exception() if retry_state.outcome else None
        return self.delay(retry_state.attempt_number, exc)

    def delay(self, attempt_number: int, exc: BaseException | None) -> float:
        exp = self.initial * 2 ** max(attempt_number - 1, 0)
        backoff = min(self.maximum, exp + random.uniform(0, self.initial))  # noqa: S311
        after = getattr(exc, "retry_after", None)
        if after:
            backoff = max(backoff, min(float(after), self.maximum))
        return backoff


def _before_sleep(state: RetryCallState, offset: int = 0) -> None:
    exc = state.outcome.exception() if state.outcome else None
    log.warning(
        "call_retried",
        attempt=state.attempt_number + offset,
        sleep_s=round(state.next_action.sleep, 3) if state.next_action else None,
        error=type(exc).__name__,
        detail=str(exc)[:200],
    )


def short_retry(
    *,
    attempts: int = 3,
    initial: float = 0.2,
    maximum: float = 5.0,
    attempt_offset: int = 0,
    **kw: Any,
) -> AsyncRetrying:
    """``await short_retry()(fn, *args)``, or
    ``async for attempt in short_retry(): with attempt: …``."""
    return AsyncRetrying(
        stop=stop_after_attempt(attempts),
        wait=_WaitHonouringRetryAfter(initial=initial, maximum=maximum),
        retry=retry_if_exception(is_retryable),
        before_sleep=lambda state: _before_sleep(state, attempt_offset),
        reraise=True,
        **kw,
    )


async def call_retrying(
    fn: Callable[[], Awaitable[T]],
    *,
    attempts: int = 3,
    initial: float = 0.2,
    maximum: float = 5.0,
) -> T:
    """``short_retry()(fn)`` with a first attempt that costs nothing: almost every call
    succeeds at once, and building tenacity's machinery (a few ``inspect`` look-ups per
    callback) for each one was a measurable share of a LAPOR! push. Only after a
    retryable failure does tenacity take over, for the attempts left, with the backoff
    those attempts would have had."""
    try:
        return await fn()
    except Exception as exc:
        if attempts <= 1 or not is_retryable(exc):
            raise
        first = exc
    sleep_s = _WaitHonouringRetryAfter(initial=initial, maximum=maximum).delay(1, first)
    log.warning(
        "call_retried",
        attempt=1,
        sleep_s=round(sleep_s, 3),
        error=type(first).__name__,
        detail=str(first)[:200],
    )
    await asyncio.sleep(sleep_s)
    # Attempt k of the whole call waits initial * 2^(k-1): the rest starts one doubling on.
    rest: T = await short_retry(
        attempts=attempts - 1, initial=initial * 2, maximum=maximum, attempt_offset=1
    )(fn)
    return rest
