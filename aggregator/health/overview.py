"""What status, /readyz, /metrics and the dashboard show about health: every configured
component with its computed state, and the incidents that are open."""

from __future__ import annotations

import datetime as dt
import functools
import json
from typing import Any

import asyncpg

from aggregator.errors import ConfigError
from aggregator.health.record import component_id
from aggregator.health.state import FAILING, LABELS, component_state
from aggregator.storage import health as repo
from aggregator.storage import lapor as lapor_repo
from connectors.base import load_source_class
from schemas.config import Settings


@functools.cache
def _polled(kind: str) -> bool:
    """Whether sources of this kind are polled (an ingest loop runs for them). A channel
    that only pushes to its webhook has no interval to miss: a quiet one is not "not
    running" (the source_silent incident notices a channel gone quiet)."""
    try:
        cls = load_source_class(kind)
    except ConfigError:
        return True
    return callable(getattr(cls, "pull", None))


def expected_components(settings: Settings) -> list[tuple[str, str, float | None]]:
    """(kind, name, expected interval) of everything configured, known before first contact."""
    out: list[tuple[str, str, float | None]] = [
        ("source", s.name, s.poll_s if _polled(s.kind) else None)
        for s in settings.sources
        if s.enabled
    ]
    if settings.lapor.adapter != "manual":
        out.append(("lapor", "lapor", None))
        out.append(("feed", "feed", settings.lapor.updates_poll_s))
    return out


async def register_components(conn: asyncpg.Connection, settings: Settings) -> None:
    for kind, name, interval in expected_components(settings):
        await repo.register_component(
            conn, component_id(kind, None if kind == name else name), kind, name, interval
        )


async def breaker_state(conn: asyncpg.Connection) -> dict[str, Any] | None:
    raw = await lapor_repo.get_state(conn, lapor_repo.BREAKER)
    return json.loads(raw) if raw else None


async def components(
    conn: asyncpg.Connection, settings: Settings, now: dt.datetime
) -> list[dict[str, Any]]:
    """Every configured component (and any other that recorded an outcome) with its state."""
    rows = {r["component"]: r for r in await repo.list_components(conn)}
    for kind, name, interval in expected_components(settings):
        cid = component_id(kind, None if kind == name else name)
        rows.setdefault(
            cid,
            {
                "component": cid,
                "kind": kind,
                "name": name,
                "registered_at": None,
                "last_attempt_at": None,
                "last_success_at": None,
                "last_failure_at": None,
                "consecutive_failures": 0,
                "needs_human": False,
                "last_error": None,
                "expected_interval_s": interval,
                "last_items": 0,
            },
        )
    breaker = await breaker_state(conn)
    alerts = settings.alerts
    out = []
    for _cid, row in sorted(rows.items(), key=lambda kv: (_ORDER.get(kv[1]["kind"], 9), kv[0])):
        stale = alerts.feed_stale_s if row["kind"] == "feed" else None
        state = component_state(
            row, now, failures_to_fail=alerts.failures_to_fail, stale_after_s=stale
        )
        item = dict(row)
        if row["kind"] == "lapor" and breaker is not None:
            item["breaker"] = breaker.get("state")
            if breaker.get("state") == "open":
                state = FAILING
                item["last_error"] = item["last_error"] or breaker.get("last_error")
        item["state"] = state
        item["state_label"] = LABELS[state]
        out.append(item)
    return out


_ORDER = {"lapor": 0, "feed": 1, "source": 2, "sink": 3}


async def health_overview(
    conn: asyncpg.Connection, settings: Settings, now: dt.datetime
) -> dict[str, Any]:
    comps = await components(conn, settings, now)
    incidents = await repo.open_incidents(conn)
    return {
        "components": comps,
        "incidents": incidents,
        "ready": readiness(comps, incidents, settings, now),
    }


def readiness(
    comps: list[dict[str, Any]],
    incidents: list[dict[str, Any]],
    settings: Settings,
    now: dt.datetime,
) -> tuple[bool, str | None]:
    """Not ready when this instance cannot do its job and restarting or rerouting is worth
    a look: every configured source failing, or the LAPOR! link down past the threshold.
    Other incidents (backlog, dead jobs, silence) need a human, not an orchestrator."""
    sources = [
        c
        for c in comps
        if c["kind"] == "source" and any(s.name == c["name"] for s in settings.sources)
    ]
    if sources and all(c["state"] == FAILING for c in sources):
        return False, "every source is failing: " + ", ".join(c["name"] for c in sources)
    limit = settings.alerts.unready_after_s
    for inc in incidents:
        if (
            inc["kind"] == "lapor_unreachable"
            and inc["opened_at"] is not None
            and (now - inc["opened_at"]).total_seconds() >= limit
        ):
            return False, f"LAPOR! unreachable since {inc['first_seen_at'].isoformat()}"
    return True, None
