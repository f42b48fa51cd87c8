"""Copy delivery outcomes from channels that can report them later onto notifications.

A sink with ``delivery_status(notification_id)`` (Gammu: ``sentitems`` status) is asked
about its messages still marked ``sent`` from the last ``lookback``; gateways that push
reports instead (Kannel's dlr-url) update the rows themselves through their intake.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import asyncpg
import structlog

from aggregator.errors import TransientError
from aggregator.notify import redeliver
from aggregator.storage import followup as repo
from connectors.base import delivery_reporter

if TYPE_CHECKING:
    from aggregator.wiring.services import Services

log = structlog.get_logger(__name__)


class DeliveryLoop:
    name = "notify_delivery"

    def __init__(
        self,
        services: Services,
        sinks: Mapping[str, Any],
        *,
        interval_s: float = 60.0,
        lookback: dt.timedelta = dt.timedelta(days=3),
        batch: int = 200,
    ) -> None:
        self.services = services
        self.sinks = {n: r for n, s in sinks.items() if (r := delivery_reporter(s)) is not None}
        self.interval_s = interval_s
        self.lookback = lookback
        self.batch = batch

    async def run_once(self) -> int:
        if not self.sinks:
            return 0
        since = self.services.clock() - self.lookback
        changed = 0
        async with self.services.pool.acquire() as conn:
            for row in await repo.undelivered(conn, since, list(self.sinks), self.batch):
                status = await self.sinks[row.source].delivery_status(str(row.id))
                if status.state in ("delivered", "failed"):
                    async with conn.transaction():
                        await repo.set_delivery(
                            conn, row.id, status.state, status.at, status.detail
                        )
                        if status.state == "failed":
                            await redeliver.schedule(self.services, conn, row.id)
                    log.info(
                        "notification_delivery_recorded",
                        notification_id=str(row.id),
                        state=status.state,
                    )
                    changed += 1
        return changed

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.run_once()
            except (OSError, asyncpg.PostgresError, TransientError) as exc:
                # The database busy or away, a statement cut off: the next pass tries again.
                log.warning("notify_delivery_pass_failed", error=str(exc))
            try:
                await asyncio.wait_for(stop.wait(), timeout=self.interval_s)
            except TimeoutError:
                pass
