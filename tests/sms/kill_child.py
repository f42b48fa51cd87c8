"""Run one ingest poll of a Gammu source and die by SIGKILL right after intake committed,
before ``Processed`` is set: the crash the exactly-once guarantee has to survive.

Usage: python -m tests.sms.kill_child <our-db-dsn> <driver> <gammu-dsn>
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys

from aggregator.intake.loop import IngestLoop
from aggregator.storage.db import create_pool
from tests.sms.conftest import gammu_source, make_services


async def main(dsn: str, driver: str, gammu_dsn: str) -> None:
    pool = await create_pool(dsn, min_size=1, max_size=2)
    services = make_services(pool)
    src = gammu_source(driver, gammu_dsn, services, multipart_wait_s=600)

    async def die(batch: object) -> None:
        os.kill(os.getpid(), signal.SIGKILL)

    src.ack = die  # the process dies where the real ack would run
    await IngestLoop(services, src).run_once()


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:4]))
