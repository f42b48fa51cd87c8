"""Connectors are found through the entry-point group ``satukanal.connectors``.

``kind = "package.module:SourceClass"``: a third party adds a channel by installing a
package that declares one; the core never imports a connector module by name.
"""

from __future__ import annotations

from importlib.metadata import EntryPoint, entry_points
from typing import Any

from aggregator.errors import ConfigError

ENTRY_POINT_GROUP = "satukanal.connectors"


def registry() -> dict[str, EntryPoint]:
    """The installed connectors' entry points, by kind."""
    return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}


def load_source_class(kind: str) -> Any:
    eps = registry()
    if kind not in eps:
        known = ", ".join(sorted(eps)) or "(none installed)"
        raise ConfigError(f"unknown source kind {kind!r}; installed kinds: {known}")
    return eps[kind].load()
