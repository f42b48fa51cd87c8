"""A daemon process for the fault test: the push worker and the updates loop, until killed.

Run as ``python tests/lapor/daemon_proc.py DSN BASE_URL``. It builds its Services the way
the daemon does (pool, one shared HTTP session, crypto, queue) and runs the LAPOR! loops.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))


async def main(dsn: str, base_url: str) -> None:
    import aiohttp

    from aggregator.crypto import Crypto
    from aggregator.db import create_pool
    from aggregator.lapor.http import HttpLaporAdapter
    from aggregator.logging import configure_logging
    from aggregator.loops.push import PushLoop
    from aggregator.loops.updates import UpdatesLoop
    from aggregator.queue import JobQueue
    from aggregator.services import Services, process_owner
    from schemas.config import CryptoConfig, LaporConfig, QueueConfig, Settings

    configure_logging("warning", "console")
    lapor = LaporConfig(adapter="http", base_url=base_url, client_id="satukanal",
                        client_secret="sandbox-secret", timeout_s=1.5, connect_timeout_s=1.0,
                        rate_limit_per_s=60.0, rate_burst=100, updates_poll_s=0.3,
                        updates_page=200, breaker_failures=50, breaker_reset_s=0.5)
    queue_cfg = QueueConfig(workers=8, lease_s=3.0, backoff_base_s=0.1, backoff_max_s=1.0,
                            poll_s=0.3, max_attempts=1000)
    settings = Settings(demo=True, lapor=lapor, queue=queue_cfg)
    pool = await create_pool(dsn, min_size=2, max_size=12)
    owner = process_owner()
    async with aiohttp.ClientSession() as http:
        services = Services(settings=settings, pool=pool, http=http,
                            crypto=Crypto.from_config(CryptoConfig(), demo=True),
                            queue=JobQueue(pool, queue_cfg, owner=owner), owner=owner)
        port = HttpLaporAdapter(lapor, http)
        stop = asyncio.Event()
        print("daemon_ready", flush=True)
        async with asyncio.TaskGroup() as tg:
            tg.create_task(PushLoop(services, port).run(stop))
            tg.create_task(UpdatesLoop(services, port).run(stop))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
