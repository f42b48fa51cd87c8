"""Conditions become incidents: opened once, closed when clear, damped against flapping,
and each opening told to the admin contacts once.

A condition that holds is first *pending*; it opens once it has held ``open_after_s``. An
open incident whose condition is no longer seen starts *clearing* and is resolved once clear
``close_after_s``; seen again meanwhile, it simply stays open. A pending one that clears is
dropped: nobody was told about a blip. One replica evaluates at a time (advisory lock).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import asyncpg
import structlog

from aggregator import metrics
from aggregator.errors import TransientError
from aggregator.health.alerts import AlertNotifier
from aggregator.health.overview import components, register_components
from aggregator.health.state import DEGRADED, FAILING, STALE
from aggregator.storage import health as repo
from schemas.config import Settings

if TYPE_CHECKING:
    from aggregator.wiring.services import Services

log = structlog.get_logger(__name__)

MAX_NOTIFY_ATTEMPTS = 10


@dataclass(frozen=True)
class Condition:
    kind: str
    subject: str
    summary: str
    detail: dict[str, Any] = field(default_factory=dict)


async def conditions(
    conn: asyncpg.Connection, settings: Settings, now: dt.datetime
) -> list[Condition]:
    """Every condition that holds now."""
    a = settings.alerts
    found: list[Condition] = []
    for c in await components(conn, settings, now):
        err = (c["last_error"] or "")[:300]
        if c["kind"] == "source" and c["state"] in (FAILING, STALE):
            what = "tidak dijalankan" if c["state"] == STALE else "gagal"
            found.append(
                Condition(
                    "source_failing",
                    c["name"],
                    f"Sumber {c['name']} {what}: {err or 'tidak ada tarikan'}",
                    {
                        "failures": c["consecutive_failures"],
                        "needs_human": c["needs_human"],
                        "state": c["state"],
                    },
                )
            )
        elif c["kind"] == "lapor" and c["state"] == FAILING:
            found.append(
                Condition(
                    "lapor_unreachable",
                    "",
                    f"LAPOR! tidak terjangkau: {err or 'sirkuit terbuka'}",
                    {"failures": c["consecutive_failures"], "breaker": c.get("breaker")},
                )
            )
        elif c["kind"] == "feed" and _feed_stale(c, now, a.feed_stale_s):
            last = c["last_success_at"].isoformat() if c["last_success_at"] else None
            found.append(
                Condition(
                    "feed_stale",
                    "",
                    "Umpan pembaruan LAPOR! tidak terbaca"
                    + (f" sejak {last}" if last else " sama sekali")
                    + (f": {err}" if err else ""),
                    {"last_success_at": last},
                )
            )
        elif c["kind"] == "sink" and c["state"] == FAILING:
            found.append(
                Condition(
                    "sink_failing",
                    c["name"],
                    f"Pesan lewat {c['name']} gagal terkirim: {err}",
                    {"failures": c["consecutive_failures"]},
                )
            )
    span = dt.timedelta(hours=a.silent_after_h)
    days = a.silent_baseline_days
    volume = await repo.source_volume(
        conn,
        [s.name for s in settings.sources if s.enabled],
        now - span,
        now - span - dt.timedelta(days=days),
    )
    for s in settings.sources:
        baseline, recent = volume.get(s.name, (0, 0))
        per_day = baseline / days
        if s.enabled and per_day >= a.silent_min_per_day and recent == 0:
            found.append(
                Condition(
                    "source_silent",
                    s.name,
                    f"Sumber {s.name} biasanya membawa {per_day:.0f} per hari, "
                    f"tetapi tidak ada satu pun dalam {a.silent_after_h:g} jam",
                    {"per_day": round(per_day, 1)},
                )
            )
    if (n := await repo.backlog(conn)) > a.backlog_max:
        found.append(
            Condition(
                "backlog",
                "",
                f"{n} pekerjaan menunggu di antrean (batas {a.backlog_max})",
                {"jobs": n},
            )
        )
    if (n := await repo.dead_jobs(conn)) > a.dead_jobs_max:
        found.append(
            Condition("dead_jobs", "", f"{n} pekerjaan mati menunggu ulangi/buang", {"jobs": n})
        )
    sent, failed = await repo.delivery_outcomes(
        conn, now - dt.timedelta(seconds=a.delivery_window_s)
    )
    if failed >= a.delivery_failures_min and failed >= a.delivery_failure_share * sent:
        found.append(
            Condition(
                "delivery_failures",
                "",
                f"{failed} dari {sent} pesan ke warga gagal dalam "
                f"{a.delivery_window_s / 60:g} menit terakhir",
                {"sent": sent, "failed": failed},
            )
        )
    breaches, complaints_n = await repo.recent_breaches(
        conn, now - dt.timedelta(hours=a.sla_breach_window_h)
    )
    if breaches >= a.sla_breaches_min:
        found.append(
            Condition(
                "sla_breach",
                "",
                f"{breaches} tenggat SLA terlewati ({complaints_n} pengaduan) "
                f"dalam {a.sla_breach_window_h:g} jam terakhir",
                {"breaches": breaches, "complaints": complaints_n},
            )
        )
    return found


def _feed_stale(c: dict[str, Any], now: dt.datetime, limit_s: float) -> bool:
    """Stale means no good read for ``limit_s``: a failing read alone is the LAPOR! link's
    incident, not a second one for the same outage, until the feed really falls behind."""
    if c["state"] == STALE:
        return True
    if c["state"] not in (FAILING, DEGRADED):
        return False
    since = c["last_success_at"] or c["registered_at"] or c["last_failure_at"]
    return since is not None and (now - since).total_seconds() >= limit_s


@dataclass
class Evaluation:
    opened: list[dict[str, Any]] = field(default_factory=list)
    resolved: list[dict[str, Any]] = field(default_factory=list)
    notified: int = 0


class IncidentLoop:
    name = "incidents"

    def __init__(
        self,
        services: Services,
        notifier: AlertNotifier | None = None,
        *,
        sinks: Sequence[str] = (),
    ) -> None:
        self.services = services
        self.settings: Settings = services.settings
        self.notifier = notifier or AlertNotifier(services.settings, services.http)
        self.sinks = list(sinks)  # channels that answer citizens: listed before first send
        self.registered = False
        self.last = Evaluation()

    async def run_once(self) -> int:
        ev = await self.evaluate()
        ev.notified = await self.notify()
        self.last = ev
        return len(ev.opened) + len(ev.resolved) + ev.notified

    async def evaluate(self) -> Evaluation:
        a = self.settings.alerts
        ev = Evaluation()
        async with self.services.pool.acquire() as conn:
            if not self.registered:
                await register_components(conn, self.settings)
                for name in self.sinks:
                    await repo.register_component(conn, f"sink:{name}", "sink", name, None)
                self.registered = True
            async with conn.transaction():
                if not await repo.try_lock_evaluation(conn):
                    return ev  # another replica evaluates right now
                now = self.services.clock()
                seen = {(c.kind, c.subject): c for c in await conditions(conn, self.settings, now)}
                active = {(i["kind"], i["subject"]): i for i in await repo.active_incidents(conn)}
                for key, cond in seen.items():
                    inc = active.get(key)
                    if inc is None:
                        inc = await repo.insert_pending(
                            conn, cond.kind, cond.subject, cond.summary, cond.detail, now
                        )
                    else:
                        inc = await repo.touch(conn, inc["id"], now, cond.summary, cond.detail)
                    if (
                        inc is not None
                        and inc["state"] == "pending"
                        and (now - inc["first_seen_at"]).total_seconds() >= a.open_after_s
                    ):
                        opened = await repo.open_(conn, inc["id"], now)
                        if opened is not None:
                            ev.opened.append(opened)
                            log.warning(
                                "incident_opened",
                                incident_id=opened["id"],
                                kind=opened["kind"],
                                subject=opened["subject"],
                            )
                for key, inc in active.items():
                    if key in seen:
                        continue
                    if inc["state"] == "pending":
                        await repo.delete_pending(conn, inc["id"])
                        continue
                    inc = await repo.clearing(conn, inc["id"], now) or inc
                    if (now - inc["clear_since"]).total_seconds() >= a.close_after_s:
                        done = await repo.resolve(conn, inc["id"], now)
                        if done is not None:
                            ev.resolved.append(done)
                            log.info(
                                "incident_resolved",
                                incident_id=done["id"],
                                kind=done["kind"],
                                subject=done["subject"],
                            )
        return ev

    async def notify(self) -> int:
        """Tell each contact about each opening (and resolution) it has not been told of."""
        told = 0
        since = self.services.clock() - dt.timedelta(days=1)
        for contact in self.notifier.contacts():
            async with self.services.pool.acquire() as conn:
                todo = await repo.unnotified(conn, contact, since, MAX_NOTIFY_ATTEMPTS)
            for inc in todo:
                event = "resolved" if inc["state"] == "resolved" else "opened"
                if event == "resolved" and not self.settings.alerts.notify_resolved:
                    continue
                try:
                    await self.notifier.send(contact, inc, event)
                except TransientError as exc:
                    log.warning(
                        "incident_alert_failed",
                        incident_id=inc["id"],
                        contact=contact,
                        error=str(exc),
                    )
                    metrics.ALERTS_SENT.labels(contact=contact, outcome="failed").inc()
                    async with self.services.pool.acquire() as conn:
                        await repo.mark_notified(conn, inc["id"], {}, 1)
                    continue
                async with self.services.pool.acquire() as conn:
                    await repo.mark_notified(
                        conn,
                        inc["id"],
                        {f"{event}:{contact}": self.services.clock().isoformat()},
                        0,
                    )
                metrics.ALERTS_SENT.labels(contact=contact, outcome="sent").inc()
                log.info("incident_alert_sent", incident_id=inc["id"], contact=contact, alert=event)
                told += 1
        return told

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.run_once()
            except (OSError, asyncpg.PostgresError) as exc:
                log.warning("incident_evaluation_failed", error=repr(exc))
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.settings.alerts.evaluate_s):
                    await stop.wait()
