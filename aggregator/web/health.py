"""/healthz, /readyz and /metrics."""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING, Any

import asyncpg
import structlog
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

from aggregator import metrics
from aggregator.health.overview import health_overview
from aggregator.health.state import LABELS
from aggregator.lapor.health import lapor_health
from aggregator.storage import admin as admin_repo
from aggregator.storage import jobs as jobs_repo
from aggregator.storage import sources as sources_repo
from aggregator.storage.migrate import pending
from aggregator.web.keys import SERVICES

log = structlog.get_logger(__name__)
if TYPE_CHECKING:
    from aggregator.wiring.services import Services

routes = web.RouteTableDef()


@routes.get("/healthz")
async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "alive"})


@routes.get("/readyz")
async def readyz(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    details: dict[str, Any] = {}
    try:
        async with services.pool.acquire(timeout=5) as conn:
            todo = await pending(conn)
            degraded = [r.source for r in await sources_repo.list_states(conn) if r.degraded]
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        return web.json_response(
            {"status": "unready", "reason": f"database unreachable: {exc}"}, status=503
        )
    if todo:
        return web.json_response(
            {
                "status": "unready",
                "reason": f"database not migrated: {len(todo)} pending (run satukanal migrate)",
            },
            status=503,
        )
    async with services.pool.acquire(timeout=5) as conn:
        details["lapor"] = await lapor_health(conn)
        overview = await health_overview(conn, services.settings, services.clock())
    failing = [
        c["name"]
        for c in overview["components"]
        if c["kind"] == "source" and c["state"] in ("failing", "degraded")
    ]
    details["degraded_sources"] = sorted(set(degraded) | set(failing))
    details["components"] = {
        c["component"]: {
            "state": c["state"],
            "last_success_at": c["last_success_at"],
            "consecutive_failures": c["consecutive_failures"],
            "last_error": c["last_error"],
        }
        for c in overview["components"]
    }
    details["incidents"] = [
        {k: i[k] for k in ("id", "kind", "subject", "summary", "opened_at", "first_seen_at")}
        for i in overview["incidents"]
    ]
    ready, reason = overview["ready"]
    body = {"status": "ready" if ready else "unready", **details}
    if reason:
        body["reason"] = reason
    return web.json_response(
        body, status=200 if ready else 503, dumps=lambda d: json.dumps(d, default=str)
    )


async def refresh_gauges(services: Services) -> None:
    async with services.pool.acquire() as conn:
        metrics.QUEUE_DEPTH.clear()
        for kind, states in (await jobs_repo.depth(conn)).items():
            for state, n in states.items():
                metrics.QUEUE_DEPTH.labels(kind=kind, state=state).set(n)
        metrics.COMPLAINTS.clear()
        for status, n in (await admin_repo.status_counts(conn)).items():
            metrics.COMPLAINTS.labels(status=status).set(n)
        for r in await sources_repo.list_states(conn):
            metrics.SOURCE_DEGRADED.labels(source=r.source).set(1 if r.degraded else 0)
            if r.last_success_at is not None:
                metrics.SOURCE_LAST_SUCCESS.labels(source=r.source).set(
                    r.last_success_at.timestamp()
                )
        overview = await health_overview(conn, services.settings, services.clock())
    for g in (
        metrics.COMPONENT_STATE,
        metrics.COMPONENT_FAILURES,
        metrics.COMPONENT_LAST_SUCCESS,
        metrics.INCIDENT_OPEN,
        metrics.INCIDENTS_OPEN,
    ):
        g.clear()
    for c in overview["components"]:
        for state in LABELS:
            metrics.COMPONENT_STATE.labels(c["component"], c["kind"], state).set(
                1 if c["state"] == state else 0
            )
        metrics.COMPONENT_FAILURES.labels(c["component"], c["kind"]).set(c["consecutive_failures"])
        if c["last_success_at"] is not None:
            metrics.COMPONENT_LAST_SUCCESS.labels(c["component"], c["kind"]).set(
                c["last_success_at"].timestamp()
            )
        if c["kind"] == "lapor":
            metrics.LAPOR_BREAKER_OPEN.set(1 if c.get("breaker") == "open" else 0)
    from aggregator.health.alerts import KIND_LABELS

    for kind in KIND_LABELS:  # every kind present, 0 when none is open: alert rules see it
        metrics.INCIDENTS_OPEN.labels(kind).set(0)
    for i in overview["incidents"]:
        metrics.INCIDENT_OPEN.labels(i["kind"], i["subject"]).set(1)
        metrics.INCIDENTS_OPEN.labels(i["kind"]).inc()


@routes.get("/metrics")
async def metrics_endpoint(request: web.Request) -> web.Response:
    from aggregator.intake.spool import DB_AWAY

    try:
        async with asyncio.timeout(5.0):
            await refresh_gauges(request.app[SERVICES])
    except DB_AWAY as exc:
        # The database is away: the process's own figures (the intake spool filling up,
        # the breaker, loop errors) are what an operator needs now; the database's gauges
        # keep their last values.
        log.warning("metrics_database_away", error=repr(exc))
    resp = web.Response(body=generate_latest(REGISTRY))
    resp.content_type = CONTENT_TYPE_LATEST.split(";")[0]
    resp.charset = "utf-8"
    return resp
