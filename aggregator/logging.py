"""structlog configuration, in one place.

JSON when stdout is not a terminal (journald, containers), pretty on a terminal. A redaction
processor removes e-mail addresses, phone numbers and NIKs (``aggregator.redact``) from every
field of every log line, whatever the caller passed: personal data never reaches a log (UU
27/2022). The standard library's loggers (asyncio's "Task exception was never retrieved",
aiohttp's server errors, any library) are routed through the same processors, so their
messages and tracebacks are redacted too.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

import structlog

from aggregator.receipts import hide_in_text
from aggregator.redact import redact_text

__all__ = ["configure_logging", "redact_processor", "redact_text"]


def _redact_value(value: Any) -> Any:
    if isinstance(value, str):
        return hide_in_text(redact_text(value))
    if isinstance(value, dict):
        return {k: _redact_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_redact_value(v) for v in value)
    if isinstance(value, BaseException):
        return hide_in_text(redact_text(f"{type(value).__name__}: {value}"))
    return value


def redact_processor(_logger: Any, _name: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    return {k: _redact_value(v) for k, v in event_dict.items()}


class _PoolRetryFilter(logging.Filter):
    """asyncpg's pool, refilling its minimum of connections while PostgreSQL is away, logs
    a full traceback at each retry. The loops already say the database is down (once, then
    a count: ``aggregator.health.outage``), so its line keeps the reason without the
    traceback, at most once every ``every_s`` seconds."""

    def __init__(self, every_s: float = 60.0) -> None:
        super().__init__()
        self.every_s = every_s
        self._last: float | None = None
        self._dropped = 0

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info is None or not record.getMessage().startswith("Failed to restore"):
            return True
        if self._last is not None and record.created - self._last < self.every_s:
            self._dropped += 1
            return False
        exc = record.exc_info[1]
        why = f"{type(exc).__name__}: {exc}" if exc is not None else "unknown"
        record.msg = f"{record.getMessage()} ({why}; {self._dropped} more since the last line)"
        record.args, record.exc_info, record.exc_text = None, None, None
        self._last, self._dropped = record.created, 0
        return True


def _isatty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def configure_logging(level: str = "info", fmt: str = "auto", stream: Any = None) -> None:
    stream = stream or sys.stderr
    use_json = fmt == "json" or (fmt == "auto" and not stream.isatty())
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
        redact_processor,
    ]
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if use_json
        # No colour codes in a file or a pipe (the demo's console format, redirected).
        else structlog.dev.ConsoleRenderer(colors=_isatty(stream))
    )
    # Records from the standard library's loggers pass the same chain (tracebacks formatted,
    # then redacted) before they are rendered.
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[structlog.stdlib.add_logger_name, *shared],
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
    )
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, "_satukanal", False)]:
        root.removeHandler(old)
    handler._satukanal = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(getattr(logging, level.upper(), logging.INFO))
    # Access lines would carry request paths (a status page's receipt code is the citizen's
    # secret); request counts are in /metrics instead.
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    pool_logger = logging.getLogger("asyncpg.pool")
    if not any(isinstance(f, _PoolRetryFilter) for f in pool_logger.filters):
        pool_logger.addFilter(_PoolRetryFilter())
    structlog.configure(
        processors=[*shared, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(
            getattr(logging, level.upper(), logging.INFO)
        ),
        logger_factory=structlog.PrintLoggerFactory(file=stream),
        cache_logger_on_first_use=False,
    )
