"""The one runtime factory for tests: a real ``Services`` on the test's database.

``make_services(pool)`` is the demo configuration (the queue's owner is ``owner``); pass
``settings``, ``http`` when the part under test talks
HTTP, a ``clock`` to drive time and ``queue_clock`` for the job queue's (by default the
database's). Folder helpers (``tests.lapor.helpers.make_services`` …) only choose settings
and call this.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Mapping

import aiohttp
import asyncpg

from aggregator.crypto import Crypto
from aggregator.queue import JobQueue
from aggregator.wiring.services import Services, utcnow
from connectors.base import Source
from schemas.config import CryptoConfig, Settings


def make_services(
    pool: asyncpg.Pool,
    http: aiohttp.ClientSession | None = None,
    settings: Settings | None = None,
    *,
    clock: Callable[[], dt.datetime] | None = None,
    queue_clock: Callable[[], dt.datetime] | None = None,
    owner: str = "test",
) -> Services:
    settings = settings or Settings(demo=True)
    return Services(
        settings=settings,
        pool=pool,
        # Parts that never make a request are tested without a session.
        http=http,  # type: ignore[arg-type]
        crypto=Crypto.from_config(CryptoConfig(), demo=True),
        queue=JobQueue(pool, settings.queue, owner=owner, clock=queue_clock),
        clock=clock or utcnow,
    )


def with_sources(services: Services, sources: Mapping[str, Source]) -> Services:
    """The runtime with these built sources instead of the configured ones (for test
    connectors that no entry point names): the ``sources`` cache is primed, nothing else."""
    primed = dataclasses.replace(services)
    primed.__dict__["sources"] = dict(sources)
    return primed
