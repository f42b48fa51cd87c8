"""What every part receives instead of reaching for globals: the one typed runtime.

``Services`` is frozen: what a process shares is fixed when it is built
(``wiring.runtime.open_services``; ``wiring.assemble`` adds the embedded sandbox's URL with
:meth:`Services.with_lapor_base_url` before anything uses the LAPOR! port). The parts built
from it — the LAPOR! port, intake, the configured sources and the follow-up classifier — are
made once per runtime on first use and shared by everything that holds it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import aiohttp
import asyncpg

from aggregator.crypto import Crypto
from schemas.config import Settings

if TYPE_CHECKING:
    from aggregator.intake.pipeline import Intake
    from aggregator.intake.spool import Spool
    from aggregator.judgement.worker import ModelProcess
    from aggregator.lapor.apply import Classifier
    from aggregator.lapor.port import LaporPort
    from aggregator.queue import JobQueue
    from connectors.base import Source


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def process_owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


@dataclass(frozen=True, eq=False)
class Services:
    settings: Settings
    pool: asyncpg.Pool
    http: aiohttp.ClientSession
    crypto: Crypto
    queue: JobQueue
    clock: Callable[[], dt.datetime] = utcnow
    owner: str = field(default_factory=process_owner)
    # The router's model in a child process (the daemon starts it); None: routed in-process.
    model_process: ModelProcess | None = None
    # The database URL the pool was opened on (``migrate --dump-schema`` dumps it).
    dsn: str | None = None
    # The embedded LAPOR! sandbox's API base when ``lapor.sandbox`` is on.
    lapor_base_url: str | None = None

    def with_lapor_base_url(self, base_url: str) -> Services:
        """The same runtime talking to the embedded sandbox at ``base_url``; the LAPOR! port
        must not have been built yet (it would keep the configured URL)."""
        if "lapor" in self.__dict__:
            raise RuntimeError("the LAPOR! port was built before the sandbox URL was known")
        return dataclasses.replace(self, lapor_base_url=base_url)

    @functools.cached_property
    def spool(self) -> Spool:
        """The HTTP intakes' local spool for when PostgreSQL is away (aggregator.intake.spool);
        nothing is written until the first request that needs it."""
        from aggregator.intake.spool import Spool

        return Spool.from_settings(self.settings, self.crypto)

    @functools.cached_property
    def classifier(self) -> Classifier:
        """The follow-up labeller with the phrases configured under ``[followup]``."""
        from aggregator.lapor.apply import default_classifier

        return default_classifier(self.settings.followup)

    @functools.cached_property
    def lapor(self) -> LaporPort:
        """The configured LAPOR! adapter: one per process, so every worker shares one token
        bucket and one circuit breaker."""
        from aggregator.lapor import make_port

        return make_port(self)

    @functools.cached_property
    def intake(self) -> Intake:
        """The one intake (it holds the router, which is costly to build)."""
        from aggregator.intake.pipeline import Intake

        return Intake(self)

    @functools.cached_property
    def sources(self) -> dict[str, Source]:
        """Every enabled source, built by its connector, by name (closed by ``assemble``)."""
        from aggregator.wiring.sources import build_sources

        return build_sources(self.settings, self)


Runtime = Services


def ensure_spool(services: Services) -> Spool:
    return services.spool
