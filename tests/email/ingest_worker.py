"""Run the real ingest loop for one IMAP source in its own process (killed by the tests).

Usage: python -m tests.email.ingest_worker '<json>' with keys dsn, data_dir, source (a
SourceConfig as a dict). Prints one line per poll: the number of items handled.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

from aggregator.intake.loop import IngestLoop
from aggregator.wiring.runtime import open_services
from aggregator.wiring.sources import build_sources
from schemas.config import Settings


async def main(args: dict) -> None:
    settings = Settings(
        demo=True,
        data_dir=Path(args["data_dir"]),
        log_level="warning",
        database={"url": args["dsn"], "migrate_on_start": False, "pool_min": 1, "pool_max": 2},
        sources=[args["source"]],
    )
    async with open_services(settings, run_migrations=False) as services:
        source = build_sources(settings, services)[args["source"]["name"]]
        loop = IngestLoop(services, source)
        try:
            while True:
                n = await loop.run_once()
                print(n, flush=True)
                if n == 0 and args.get("until_empty"):
                    return
        finally:
            await source.close()


if __name__ == "__main__":
    asyncio.run(main(json.loads(sys.argv[1])))
