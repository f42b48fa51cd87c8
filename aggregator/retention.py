"""The purge job: retention periods applied by the daemon (``privacy.retention``).

UU 27/2022 asks that personal data be kept no longer than its purpose needs. Once a
complaint is final its raw original is emptied after ``raw_originals_days``; quarantined and
ignored items are deleted after ``quarantined_days``; message texts, finished jobs, old
sessions and the access log after their own periods. ``satukanal purge`` runs the same once.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import structlog

from aggregator.storage.privacy import purge

log = structlog.get_logger(__name__)


class PurgeLoop:
    name = "purge"

    def __init__(self, services: Any) -> None:
        self.services = services
        self.retention = services.settings.privacy.retention
        self._last: float | None = None
        self.total = 0

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.run_once()
            except Exception as exc:  # the next interval tries again; never stops the daemon
                log.error("purge_failed", error=f"{type(exc).__name__}: {exc}"[:300])
            try:
                await asyncio.wait_for(stop.wait(), self.retention.purge_interval_s)
            except TimeoutError:
                pass

    async def run_once(self) -> int:
        """Purge when the interval has passed since the last purge (the first call always)."""
        now = time.monotonic()
        if self._last is not None and now - self._last < self.retention.purge_interval_s:
            return 0
        self._last = now
        async with self.services.pool.acquire() as conn:
            done = await purge(
                conn,
                self.retention,
                statement_timeout_s=self.services.settings.database.long_statement_timeout_s,
            )
        n = sum(done.values())
        if n:
            log.info("personal_data_purged", **done)
        self.total += n
        return n
