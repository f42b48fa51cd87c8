"""Load the configuration: one TOML file plus ``SATUKANAL_…`` environment overrides.

Every command loads it through the start-up check (``aggregator.wiring.check``), so the
daemon refuses exactly what ``satukanal config check`` reports, in the same words.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import structlog
from pydantic import SecretStr

from aggregator.wiring.check import check_configuration
from schemas.config import Settings

log = structlog.get_logger(__name__)


def load_settings(
    path: Path | None, *, environ: Mapping[str, str] | None = None, demo: bool = False
) -> Settings:
    """Read ``path`` (None: environment and defaults only) and check everything; a
    ``ConfigError`` lists every problem. Warnings go to the log."""
    result = check_configuration(
        path, environ=os.environ if environ is None else environ, demo=demo
    )
    settings = result.raise_for_errors()
    for warning in result.warnings:
        log.warning("config_warning", where=warning.where, problem=warning.message)
    return settings


def masked(settings: Settings) -> dict[str, Any]:
    """The effective configuration as plain data, every secret shown as ``***``."""

    def walk(value: Any) -> Any:
        if isinstance(value, SecretStr):
            secret = value.get_secret_value()
            return show_url(secret) if _URL.match(secret) else ("***" if secret else "")
        if isinstance(value, str) and _URL.match(value):
            return show_url(value)
        if isinstance(value, dict):
            return {
                k: ("***" if _secret_key(k) and v and not k.endswith("_file") else walk(v))
                for k, v in value.items()
            }
        if isinstance(value, list | tuple):
            return [walk(v) for v in value]
        if isinstance(value, Path):
            return str(value)
        return value

    data = settings.model_dump(mode="python")
    return json.loads(json.dumps(walk(data), default=str))


def _secret_key(key: str) -> bool:
    return any(s in key.lower() for s in ("password", "secret", "token", "passkey"))


_URL = re.compile(r"^[a-z][a-z0-9+.-]*://", re.IGNORECASE)


def show_url(url: str) -> str:
    """A connection URL an administrator can check: scheme, user, host, port and database
    shown, the password (and any ``password=`` parameter) masked."""
    url = re.sub(r"^([^:/]+://[^:/@]*):[^@]*@", r"\1:***@", url)
    return re.sub(r"((?:password|passwd|secret|token)=)[^&]*", r"\1***", url, flags=re.I)
