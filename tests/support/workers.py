"""The daemon's job handlers in a worker of their own, for tests that drive one part."""

from __future__ import annotations

from aggregator.lapor.port import LaporPort
from aggregator.lapor.push import PushHandlers
from aggregator.queue import Worker
from aggregator.wiring.services import Services


def push_worker(services: Services, port: LaporPort, *, concurrency: int | None = None) -> Worker:
    """A worker with the LAPOR! push handlers (push, reply_up) alone, as the daemon's shared
    worker runs them."""
    return Worker(
        services.queue,
        PushHandlers(services, port).handlers(),
        concurrency=concurrency or services.settings.queue.workers,
    )
