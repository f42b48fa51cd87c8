"""A worker process for the crash test: claims with a short lease, says so, then hangs.

Run as ``python crashing_worker.py DSN LEASE_S``; the test SIGKILLs it mid-job.
"""

from __future__ import annotations

import asyncio
import os
import sys

from aggregator.queue import JobQueue, Worker
from aggregator.storage.db import create_pool
from schemas.config import QueueConfig
from schemas.events import Job


async def main(dsn: str, lease_s: float) -> None:
    pool = await create_pool(dsn, min_size=1, max_size=3)
    queue = JobQueue(pool, QueueConfig(lease_s=lease_s, poll_s=0.1), owner=f"victim:{os.getpid()}")

    async def hang(job: Job) -> None:
        print(f"started {job.id}", flush=True)
        await asyncio.sleep(3600)

    await Worker(queue, {"push": hang}).run(asyncio.Event())


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], float(sys.argv[2])))
