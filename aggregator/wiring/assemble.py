"""Wire the parts together for one daemon process.

Everything the supervisor runs is built here from the settings: the LAPOR! port (and the
embedded sandbox when asked for), the sources and their sinks, the job handlers of every
part in one shared worker, the loops, the HTTP routes, and in the demo the simulated citizens.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Protocol

import structlog
from aiohttp import web

from aggregator import metrics
from aggregator.errors import ConfigError
from aggregator.intake.loop import IngestLoop
from aggregator.lapor.port import LaporPort
from aggregator.lapor.sandbox.embedded import embedded_sandbox
from aggregator.lapor.sandbox.life import DEMO_STORY
from aggregator.queue import Handler, Worker
from aggregator.retention import PurgeLoop
from aggregator.wiring.services import Services
from aggregator.wiring.sources import Capabilities, capabilities
from connectors.base import Sink, Source
from schemas.events import JobKind

log = structlog.get_logger(__name__)


class Loop(Protocol):
    """What the supervisor runs: ``run`` until stopped, ``run_once`` for ``until_idle``."""

    name: str

    async def run(self, stop: asyncio.Event) -> None: ...

    async def run_once(self) -> int: ...


@dataclass
class Components:
    services: Services  # the runtime the components were built on (with the sandbox's URL)
    sources: dict[str, Source]
    sinks: dict[str, Sink]
    port: LaporPort
    worker: Worker
    loops: list[Loop]
    # LAPOR! pushes and replies: their own worker and concurrency (lapor.push_concurrency),
    # so requests waiting on LAPOR! never hold the slots of notifications and write-backs.
    push_worker: Worker | None = None
    http_routes: list[tuple[str, list[web.RouteDef]]] = field(default_factory=list)
    http_setup: list[Callable[[web.Application], None]] = field(default_factory=list)
    banner: list[str] = field(default_factory=list)
    # For ``until_idle``: work under way outside the job queue (a LAPOR! life still being
    # played), each check saying what is outstanding or None; a bound on that wait; and what
    # to run once everything is done.
    outstanding: list[Callable[[], Awaitable[str | None]]] = field(default_factory=list)
    outstanding_timeout_s: float | None = None
    on_idle: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    # Where the HTTP listener is, once the supervisor has started it.
    http_base: str | None = None


def job_handlers(services: Services, port: LaporPort, caps: Capabilities) -> dict[str, Handler]:
    from aggregator.lapor.push import PushHandlers
    from aggregator.notify.handler import make_notify_handler
    from aggregator.notify.writeback import WriteBackHandler

    core: dict[str, Handler] = {
        **PushHandlers(services, port).handlers(),
        JobKind.NOTIFY.value: make_notify_handler(services, dict(caps.sinks)),
        JobKind.WRITE_BACK.value: WriteBackHandler(services, caps.writers),
    }
    if clash := sorted(set(core) & set(caps.job_handlers)):
        raise ConfigError(f"a connector declares handlers for the core's job kinds: {clash}")
    return {**core, **caps.job_handlers}


def http_routes(services: Services, caps: Capabilities) -> list[tuple[str, list[web.RouteDef]]]:
    from aggregator.web.status import status_routes

    out: list[tuple[str, list[web.RouteDef]]] = []
    for name, src in caps.http_intake.items():
        if defs := list(src.routes()):
            out.append((f"/intake/{name}", defs))
    out.append(("", status_routes(services, caps.receipts)))
    secret = services.settings.lapor.webhook_secret
    if secret is not None and secret.get_secret_value():
        from aggregator.lapor.feed import webhook_handler

        out.append(
            ("", [web.post("/lapor/webhook", webhook_handler(services, secret.get_secret_value()))])
        )
    return out


def instrument(loop: Loop) -> Loop:
    """Count every loop's iterations and failures in /metrics, whoever wrote the loop: each
    loop's ``run`` calls ``self.run_once``, so wrapping that one method covers them all."""
    name = getattr(loop, "name", type(loop).__name__)
    inner = loop.run_once

    async def run_once() -> int:
        try:
            n: int = await inner()
        except Exception:
            metrics.LOOP_ERRORS.labels(loop=name).inc()
            raise
        metrics.LOOP_ITERATIONS.labels(loop=name).inc()
        return n

    loop.run_once = run_once  # type: ignore[method-assign]
    return loop


async def start_models(services: Services, stack: contextlib.AsyncExitStack) -> Services:
    """The learned models, off the event loop: fitted models are cached in the data directory
    (keyed by corpus, corrections, policy and code), the router's model runs in a child
    process that loads or fits it while the daemon starts, and the follow-up labeller is
    loaded or fitted in a thread. Nothing here waits for a fit."""
    import asyncio
    from pathlib import Path

    from aggregator.followup.quality import labeller
    from aggregator.intake.routing import corrections
    from aggregator.judgement import cache
    from aggregator.judgement.router import Router
    from aggregator.judgement.worker import ModelProcess

    settings = services.settings
    cache.set_directory(Path(settings.data_dir))
    process = getattr(services, "model_process", None)
    if process is None:
        extra = corrections(Path(settings.data_dir)) if settings.router.enabled else []
        process = ModelProcess(Router.from_settings(settings, extra), followup=settings.followup)
        process.start()
        if settings.router.enabled:
            services = dataclasses.replace(services, model_process=process)
        stack.push_async_callback(process.aclose)

    async def load_labeller() -> None:
        await process.ready()  # fitted and cached by the child: loading it is quick
        await asyncio.to_thread(lambda: labeller(settings.followup).model)

    warm = asyncio.ensure_future(load_labeller())
    stack.callback(warm.cancel)
    return services


@contextlib.asynccontextmanager
async def assemble(services: Services, *, citizens: bool = False) -> AsyncIterator[Components]:
    from aggregator.followup.loop import SlaLoop
    from aggregator.lapor.feed import UpdatesLoop
    from aggregator.notify.delivery import DeliveryLoop

    settings = services.settings
    async with contextlib.AsyncExitStack() as stack:
        banner: list[str] = []
        if settings.lapor.sandbox:
            # The demo plays each report's life in seconds; tests drive lives themselves.
            base_url = await stack.enter_async_context(
                embedded_sandbox(
                    settings.data_dir / "lapor-sandbox.json",
                    life="fast" if settings.demo else "none",
                    life_unit_s=2.0 if settings.demo else None,
                    rate_per_s=settings.lapor.rate_limit_per_s,
                    burst=settings.lapor.rate_burst,
                    story=DEMO_STORY if settings.demo else None,
                )
            )
            services = services.with_lapor_base_url(base_url)
            banner.append(f"LAPOR!     built-in sandbox at {base_url} (not the real LAPOR!)")
        services = await start_models(services, stack)
        port = services.lapor
        sources = services.sources
        for src in sources.values():
            stack.push_async_callback(src.close)
        caps = capabilities(sources)
        sinks = dict(caps.sinks)
        from aggregator.lapor.push import push_concurrency

        handlers = job_handlers(services, port, caps)
        lapor_kinds = {JobKind.PUSH.value, JobKind.REPLY_UP.value}
        worker = Worker(
            services.queue,
            {k: h for k, h in handlers.items() if k not in lapor_kinds},
            concurrency=settings.queue.workers,
            on_outcome=metrics.job_outcome,
            grace_s=20.0,
            outage_log_every_s=settings.database.outage_log_every_s,
        )
        push_worker = Worker(
            services.queue,
            {k: h for k, h in handlers.items() if k in lapor_kinds},
            concurrency=push_concurrency(settings.lapor),
            on_outcome=metrics.job_outcome,
            grace_s=20.0,
            outage_log_every_s=settings.database.outage_log_every_s,
        )
        # Push-only sources (HTTP intake) have nothing to poll: no loop for them.
        loops: list[Loop] = [IngestLoop(services, sources[name]) for name in caps.pulling]
        if settings.lapor.adapter != "manual":
            loops.append(UpdatesLoop(services, port))
        loops.append(SlaLoop(services, sinks, interval_s=settings.sla.check_interval_s))
        loops.append(DeliveryLoop(services, caps.delivery_status))
        loops.append(PurgeLoop(services))
        if caps.http_intake:
            from aggregator.intake.spool import SpoolDrainer
            from aggregator.wiring.services import ensure_spool

            loops.append(SpoolDrainer(services, ensure_spool(services)))
        from aggregator.health.incidents import IncidentLoop

        loops.append(IncidentLoop(services, sinks=list(sinks)))
        from aggregator.followup.stats import StatsLoop

        loops.append(StatsLoop(services, port))

        loops = [instrument(lp) for lp in loops]
        comp = Components(
            services=services,
            sources=sources,
            sinks=sinks,
            port=port,
            worker=worker,
            push_worker=push_worker,
            loops=loops,
            http_routes=http_routes(services, caps),
            banner=banner,
        )
        if settings.demo:
            from aggregator.demo.citizens import attach_demo

            await attach_demo(services, comp, stack, citizens=citizens)
        yield comp
