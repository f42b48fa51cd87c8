"""Errors sorted by what to do next.

Library exceptions are translated into these at the boundary (``raise … from exc``), so the
loops only ever decide between: retry later, give up on this item, ask a human, quarantine.
"""

from __future__ import annotations


class SatukanalError(Exception):
    """Base of every error the project raises on purpose."""


class TransientError(SatukanalError):
    """Retry later. ``retry_after`` (seconds) is honoured when the peer gave one."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class InDoubtError(TransientError):
    """The request may have been acted on (timeout or dropped connection after sending)."""


class Deferred(TransientError):
    """Not attempted, or failed only because a shared dependency is known to be down (the
    LAPOR! circuit breaker is open): the job waits ``retry_after`` seconds without spending
    an attempt and without its age counting against it. ``in_doubt``: the job may have
    acted already, and keeps the in-doubt mark so its next attempt checks first."""

    def __init__(
        self, message: str, *, retry_after: float | None = None, in_doubt: bool = False
    ) -> None:
        super().__init__(message, retry_after=retry_after)
        self.in_doubt = in_doubt


class PermanentError(SatukanalError):
    """Give up on this item; ``reason`` is kept for operators."""

    def __init__(self, message: str, *, details: object | None = None) -> None:
        super().__init__(message)
        self.details = details


class AuthError(SatukanalError):
    """Credentials were refused: a human must act; the source or adapter is degraded."""


class InvalidInput(SatukanalError):
    """This raw item cannot be understood: quarantine it with the reason and go on."""


class ConfigError(SatukanalError):
    """The configuration is wrong; the message is written for a municipal administrator."""
