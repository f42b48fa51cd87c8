"""Faults the sandbox injects, set at start (``--faults k=v,…``) and at runtime
(``POST /_sandbox/faults``)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any


@dataclass
class Faults:
    latency: float = 0.0  # seconds added to every API request
    error5xx: float = 0.0  # share of API requests answered 500/502/503/504 before acting
    timeout_after_create: float = 0.0  # share of POSTs acted on, then left hanging
    drop: float = 0.0  # share of API requests whose connection is dropped (before or after acting)
    revoke_tokens: float = 0.0  # every N seconds every issued token is revoked (0 = never)
    revoke_every: float = 0.0  # every N API requests every issued token is revoked (0 = never)
    dup_events: float = 0.0  # share of feed events delivered twice
    reorder_events: float = 0.0  # share of feed events swapped with their successor
    hang_s: float = 30.0  # how long a "timeout after create" keeps the client waiting

    def as_dict(self) -> dict[str, float]:
        return asdict(self)

    def update(self, values: dict[str, Any]) -> None:
        known = {f.name for f in fields(self)}
        for key, value in values.items():
            if key not in known:
                raise ValueError(f"unknown fault {key!r}; known: {', '.join(sorted(known))}")
            number = float(value)
            if number < 0:
                raise ValueError(f"fault {key} must be >= 0")
            if (
                key in {"error5xx", "timeout_after_create", "drop", "dup_events", "reorder_events"}
                and number > 1
            ):
                raise ValueError(f"fault {key} is a share between 0 and 1")
            setattr(self, key, number)

    def reset(self) -> None:
        for f in fields(self):
            setattr(self, f.name, f.default)


def parse_faults(text: str | None) -> Faults:
    """``"latency=0.2,error5xx=0.2"`` → Faults. Empty or None → no faults."""
    faults = Faults()
    if not text:
        return faults
    values: dict[str, str] = {}
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        key, sep, value = part.partition("=")
        if not sep:
            raise ValueError(f"fault {part!r} must look like name=value")
        values[key.strip()] = value.strip()
    faults.update(values)
    return faults
