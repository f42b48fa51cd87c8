"""Build the configured sources from the connector registry."""

from __future__ import annotations

from typing import Any

from aggregator.errors import ConfigError
from connectors.base import load_source_class
from schemas.config import Settings


def build_sources(settings: Settings, services: Any) -> dict[str, Any]:
    """Every enabled source, by name. A connector's own option errors are reported with the
    source's name so the administrator knows which block of the file to fix."""
    built: dict[str, Any] = {}
    for cfg in settings.sources:
        if not cfg.enabled:
            continue
        cls = load_source_class(cfg.kind)
        try:
            built[cfg.name] = cls(cfg, services)
        except ConfigError:
            raise
        except (ValueError, TypeError) as exc:
            raise ConfigError(f"source {cfg.name!r} (kind {cfg.kind}): {exc}") from exc
    return built


def sinks_of(sources: dict[str, Any]) -> dict[str, Any]:
    """The sinks by source name, for the channels that can answer."""
    sinks: dict[str, Any] = {}
    for name, src in sources.items():
        make = getattr(src, "sink", None)
        sink = make() if make is not None else None
        if sink is not None:
            sinks[name] = sink
    return sinks
