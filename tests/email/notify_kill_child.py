"""Run the notify job once and die by SIGKILL the moment the sink returns: after the channel
took the message, before the notifier recorded it.

Usage: python -m tests.email.notify_kill_child <our-db-dsn> <source-config-json>
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import signal
import sys
from typing import Any

from aggregator.notify.handler import make_notify_handler
from aggregator.queue import Worker
from aggregator.storage.db import create_pool
from aggregator.wiring.sources import build_source, sinks_of
from connectors.base import Origin, OutboundMessage, SendResult
from schemas.config import SourceConfig
from tests.followup.helpers import Clock, make_services


class DieAfterSend:
    """The real sink; the process ends where the notifier would record its answer."""

    def __init__(self, real: Any) -> None:
        self.real = real

    async def send(self, origin: Origin, message: OutboundMessage) -> SendResult:
        await self.real.send(origin, message)
        os.kill(os.getpid(), signal.SIGKILL)
        raise AssertionError("unreachable")

    async def close(self) -> None:
        await self.real.close()

    def __getattr__(self, name: str) -> Any:  # the sink's other abilities, unchanged
        return getattr(self.real, name)


async def main(dsn: str, cfg_json: str) -> None:
    pool = await create_pool(dsn, min_size=1, max_size=2)
    cfg = SourceConfig.model_validate(json.loads(cfg_json))
    services = make_services(
        pool,
        Clock(dt.datetime.now(dt.UTC)),
        sources=[cfg],
        notify={"merge_window_s": 0},
        queue={"lease_s": 1.0},
    )
    src = build_source(cfg, services)
    sinks = {name: DieAfterSend(s) for name, s in sinks_of({src.name: src}).items()}
    await Worker(services.queue, {"notify": make_notify_handler(services, sinks)}).run_once()


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:3]))
