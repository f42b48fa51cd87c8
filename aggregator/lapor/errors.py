"""LAPOR!-specific errors, each a kind of the project's errors (what to do next)."""

from __future__ import annotations

from typing import Any

from aggregator.errors import Deferred, PermanentError, TransientError


class RateLimited(TransientError):
    """429: LAPOR! refused the request before acting on it, for our pace, not the job's
    content. Retried within the call after ``retry_after``; a job it still stops is
    deferred, not failed (no attempt spent), and every replica holds for ``retry_after``."""


class BreakerOpen(Deferred):
    """The circuit breaker is open: do not call LAPOR! now; try after ``retry_after``.
    Nothing was sent, so the job is deferred rather than failed (no attempt spent)."""


class Rejected(PermanentError):
    """422: LAPOR! refused the input; ``fields`` say what an operator must fix."""

    def __init__(self, message: str, *, fields: list[dict[str, Any]]) -> None:
        super().__init__(message, details=fields)
        self.fields = fields


class DuplicateExternalRef(PermanentError):
    """409 duplicate_external_ref: the report already exists under ``tracking_id``."""

    def __init__(self, message: str, *, tracking_id: str | None) -> None:
        super().__init__(message, details={"tracking_id": tracking_id})
        self.tracking_id = tracking_id


class IdempotencyKeyReused(PermanentError):
    """409 idempotency_key_reused: the key came before with another body."""


class NotFound(PermanentError):
    """404."""


class Gone(PermanentError):
    """410: deleted by a LAPOR! administrator."""


class AttachmentRefused(PermanentError):
    """413 / 415: too large or a type LAPOR! does not take."""
