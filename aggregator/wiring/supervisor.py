"""The supervisor: every loop in one TaskGroup, one HTTP listener, a clean stop.

SIGTERM (or SIGINT) stops claiming new work, lets in-flight work finish within a grace
period, releases leases, logs one summary line and exits 0. ``until_idle`` runs every loop
once per round until a round handles nothing (for scripts and tests) and nothing the
components declare outstanding is left; it exits 1 if that wait exceeds their bound.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import signal
import sys
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import structlog
from aiohttp import web

from aggregator import taskdump
from aggregator.logging import configure_logging
from aggregator.storage import jobs as jobs_repo
from aggregator.web.app import make_app
from aggregator.wiring.assemble import Components, assemble
from aggregator.wiring.runtime import open_services
from schemas.config import Settings

if TYPE_CHECKING:
    from aggregator.wiring.services import Services

log = structlog.get_logger(__name__)
IDLE_LOOKAHEAD_S = 10.0
OUTSTANDING_POLL_S = 1.0


@dataclass
class RunStats:
    started: float = field(default_factory=time.monotonic)
    rounds: int = 0
    handled: dict[str, int] = field(default_factory=dict)

    def add(self, name: str, n: int) -> None:
        if n:
            self.handled[name] = self.handled.get(name, 0) + n


async def run_daemon(
    settings: Settings,
    *,
    until_idle: bool = False,
    migrate: bool | None = None,
    citizens: bool = False,
    outstanding_timeout_s: float | None = None,
) -> int:
    configure_logging(settings.log_level, settings.log_format)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    taskdump.install(loop)
    stats = RunStats()
    async with (
        open_services(settings, run_migrations=migrate, wait_for_database=True) as opened,
        assemble(opened, citizens=citizens) as comp,
    ):
        services = comp.services
        if outstanding_timeout_s is not None:
            comp.outstanding_timeout_s = outstanding_timeout_s
        runner = await _start_http(services, comp)
        finished = True
        try:
            if until_idle:
                finished = await _until_idle(services, comp, stop, stats)
                if finished and not stop.is_set():
                    for hook in comp.on_idle:
                        await hook()
            else:
                await _supervise(comp, stop, stats)
        finally:
            await runner.cleanup()
    log.info(
        "daemon_stopped",
        uptime_s=round(time.monotonic() - stats.started, 1),
        rounds=stats.rounds,
        handled=stats.handled,
    )
    return 0 if finished else 1


async def _start_http(services: Services, comp: Components) -> web.AppRunner:
    cfg = services.settings.http
    app = make_app(services, extra=comp.http_routes, setup=comp.http_setup)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, cfg.host, cfg.port)
    try:
        await site.start()
    except OSError as exc:
        await runner.cleanup()
        from aggregator.errors import ConfigError

        raise ConfigError(
            f"cannot listen on {cfg.host}:{cfg.port} (http.host/http.port): {exc.strerror or exc}"
        ) from exc
    port = runner.addresses[0][1] if runner.addresses else cfg.port
    base = f"http://{cfg.host}:{port}"
    comp.http_base = base
    log.info("http_listening", url=base)
    print(
        f"satukanal: dashboard  {base}/dasbor\n"
        f"satukanal: health     {base}/readyz   metrics {base}/metrics   API {base}/api/",
        file=sys.stderr,
        flush=True,
    )
    for line in comp.banner:
        print(f"satukanal: {line}", file=sys.stderr, flush=True)
    return runner


async def _supervise(comp: Components, stop: asyncio.Event, stats: RunStats) -> None:
    async with asyncio.TaskGroup() as tg:
        for lp in comp.loops:
            tg.create_task(lp.run(stop), name=getattr(lp, "name", type(lp).__name__))
        tg.create_task(comp.worker.run(stop), name="worker")
        if comp.push_worker is not None:
            tg.create_task(comp.push_worker.run(stop), name="push_worker")
        await stop.wait()
        log.info("daemon_stopping", reason="signal")
    # Every loop has returned: in-flight work finished or was handed back (leases released).
    for lp in comp.loops:
        total = getattr(lp, "total", None)
        if isinstance(total, int):
            stats.add(getattr(lp, "name", type(lp).__name__), total)
    stats.add("jobs", getattr(comp.worker, "_handled", 0))
    stats.add("jobs", getattr(comp.push_worker, "_handled", 0))


async def _until_idle(
    services: Services, comp: Components, stop: asyncio.Event, stats: RunStats
) -> bool:
    """Rounds of every loop's ``run_once`` until one round handles nothing at all, no job
    falls due within ``IDLE_LOOKAHEAD`` (a short backoff or a notification burst's merge
    window is part of the work at hand, not a reason to stop) and no component reports work
    outstanding. False when ``comp.outstanding_timeout_s`` ran out first."""
    quiet_rounds = 0
    started = time.monotonic()
    limit = comp.outstanding_timeout_s
    while not stop.is_set():
        if limit is not None and time.monotonic() - started > limit:
            waiting = [w for check in comp.outstanding if (w := await check())]
            log.error("until_idle_gave_up", after_s=limit, waiting=waiting)
            print(
                f"satukanal: stopped waiting after {limit:.0f} s; still outstanding: "
                + ("; ".join(waiting) or "work kept arriving"),
                file=sys.stderr,
                flush=True,
            )
            return False
        stats.rounds += 1
        total = 0
        for lp in comp.loops:
            n = await lp.run_once()
            stats.add(getattr(lp, "name", type(lp).__name__), n)
            total += n
        for worker in (comp.worker, comp.push_worker):
            if worker is not None:
                n = await worker.run_once()
                stats.add("jobs", n)
                total += n
        if total == 0:
            horizon = services.clock() + dt.timedelta(seconds=IDLE_LOOKAHEAD_S)
            async with services.pool.acquire() as conn:
                due = await jobs_repo.oldest_due(conn, now=horizon)
            if due is not None:
                await asyncio.sleep(
                    min(max((due - services.clock()).total_seconds(), 0.05), IDLE_LOOKAHEAD_S)
                )
                continue
            if any([await check() for check in comp.outstanding]):
                quiet_rounds = 0
                await asyncio.sleep(OUTSTANDING_POLL_S)
                continue
            quiet_rounds += 1
            if quiet_rounds >= 2:
                return True
            await asyncio.sleep(0.2)
        else:
            quiet_rounds = 0
    return True
