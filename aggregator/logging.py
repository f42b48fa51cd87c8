"""structlog configuration, in one place.

JSON when stdout is not a terminal (journald, containers), pretty on a terminal. A redaction
processor removes e-mail addresses, phone numbers and 16-digit NIKs from every field of every
log line, whatever the caller passed: personal data never reaches a log (UU 27/2022).
"""

from __future__ import annotations

import logging
import re
import sys
from typing import Any

import structlog

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_NIK = re.compile(r"(?<!\d)\d{16}(?!\d)")
# +62 / 62 / 0 followed by 8 and 7-12 more digits, with optional separators.
_PHONE = re.compile(r"(?<![\w])(?:\+?62|0)[\s.-]?8(?:[\s.-]?\d){7,12}(?!\d)")


def redact_text(text: str) -> str:
    text = _EMAIL.sub("[email]", text)
    text = _NIK.sub("[nik]", text)
    return _PHONE.sub("[phone]", text)


def _redact_value(value: Any) -> Any:
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        return {k: _redact_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_redact_value(v) for v in value)
    if isinstance(value, BaseException):
        return redact_text(f"{type(value).__name__}: {value}")
    return value


def redact_processor(_logger: Any, _name: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    return {k: _redact_value(v) for k, v in event_dict.items()}


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
    structlog.configure(
        processors=[*shared, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(
            getattr(logging, level.upper(), logging.INFO)
        ),
        logger_factory=structlog.PrintLoggerFactory(file=stream),
        cache_logger_on_first_use=False,
    )
