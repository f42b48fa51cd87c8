"""What every part receives instead of reaching for globals."""

from __future__ import annotations

import datetime as dt
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import aiohttp
import asyncpg

from aggregator.crypto import Crypto
from schemas.config import Settings

if TYPE_CHECKING:
    from aggregator.intake.spool import Spool
    from aggregator.judgement.worker import ModelProcess
    from aggregator.queue import JobQueue


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def process_owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


@dataclass
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
    # Shared runtime objects other parts register (LAPOR! port, circuit breaker, sinks, …).
    extras: dict[str, Any] = field(default_factory=dict)
    # The HTTP intakes' local spool for when PostgreSQL is away (aggregator.intake.spool),
    # made on first use by ensure_spool.
    spool: Spool | None = None


def ensure_spool(services: Services) -> Spool:
    if services.spool is None:
        from aggregator.intake.spool import Spool

        services.spool = Spool.from_settings(services.settings)
    return services.spool
