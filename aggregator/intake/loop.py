"""Pull each source, store each batch, then acknowledge it to the channel."""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING, Any

import asyncpg
import structlog

from aggregator import metrics
from aggregator.errors import AuthError, ConfigError, TransientError
from aggregator.health import record
from aggregator.health.outage import DB_DOWN, OutageLog
from aggregator.intake import Intake
from aggregator.redact import redact_text
from aggregator.storage import sources as repo
from connectors.base import abilities

if TYPE_CHECKING:
    from aggregator.wiring.services import Services

log = structlog.get_logger(__name__)


class IngestLoop:
    """One loop per configured source. ``run_once`` drains what the source has now."""

    def __init__(self, services: Services, source: Any, intake: Intake | None = None) -> None:
        self.services = services
        self.source = source
        self.intake = intake or services.intake
        self.name = f"ingest:{source.name}"
        self.degraded = False
        self.failures = 0  # failed polls in a row
        self.last_poll_items = 0
        self.total = 0  # items handled since start, for the shutdown summary
        self.lease_s = source.cfg.lease_s
        self.lease_lost = 0  # renewals refused: another replica took the source meanwhile

    async def run_once(self) -> int:
        src = self.source
        pool = self.services.pool
        async with pool.acquire() as conn:
            row = await repo.take_lease(conn, src.name, src.kind, self.services.owner, self.lease_s)
        if row is None:  # another replica polls this source
            self.last_poll_items = 0
            return 0
        handled = 0
        bound = log.bind(source=src.name)
        heartbeat = asyncio.create_task(self._renew_lease())
        try:
            async for batch in src.pull(row.cursor):
                result = await self.intake.ingest(src, batch)
                # Only now, with the batch committed, may the channel forget it.
                await src.ack(batch)
                handled += len(batch.items)
                metrics.INGESTED.labels(source=src.name).inc(result.new)
                metrics.QUARANTINED.labels(source=src.name).inc(result.quarantined)
                if result.new:
                    bound.info(
                        "batch_ingested",
                        items=len(batch.items),
                        new=result.new,
                        complaints=result.complaints,
                        replies=result.replies,
                        quarantined=result.quarantined,
                        ignored=result.ignored,
                    )
            async with pool.acquire() as conn:
                await repo.record_poll(conn, src.name, handled)
            await record.succeeded(pool, "source", src.name, self.services.clock(), handled)
            metrics.SOURCE_LAST_SUCCESS.labels(source=src.name).set_to_current_time()
            self.failures = 0
            if self.degraded:
                self.degraded = False
                bound.info("source_recovered")
                async with pool.acquire() as conn:
                    await repo.clear_degraded(conn, src.name)
        except (AuthError, ConfigError) as exc:
            await self._failed(exc, degraded=True)
        except TransientError as exc:
            await self._failed(exc, degraded=self.degraded)
        except (TimeoutError, OSError) as exc:
            await self._failed(
                TransientError(f"{type(exc).__name__}: {exc}"), degraded=self.degraded
            )
        except Exception as exc:
            # A bug (an item that crashes the parser at every poll) is a failed poll too: the
            # source must not look healthy while nothing comes through. ``run`` logs it.
            await self._failed(exc, degraded=self.degraded, crashed=True)
            raise
        finally:
            heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await heartbeat
            async with pool.acquire() as conn:
                await repo.release_lease(conn, src.name, self.services.owner)
        self.last_poll_items = handled
        self.total += handled
        return handled

    async def _renew_lease(self) -> None:
        """Keep the source's lease while a poll runs, however long: it is short so that a
        replica that died hands the source over within seconds."""
        src = self.source
        while True:
            await asyncio.sleep(self.lease_s / 3)
            try:
                async with self.services.pool.acquire() as conn:
                    row = await repo.take_lease(
                        conn, src.name, src.kind, self.services.owner, self.lease_s
                    )
            except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                log.warning("source_lease_renewal_failed", source=src.name, error=str(exc)[:200])
                continue
            if row is None:
                # This poll outlived its lease (a stalled process): another replica polls
                # now. Ingest stays exactly-once by (source, source_ref); say so once.
                self.lease_lost += 1
                log.warning("source_lease_lost", source=src.name)

    async def _failed(self, exc: Exception, *, degraded: bool, crashed: bool = False) -> None:
        src = self.source
        metrics.SOURCE_ERRORS.labels(source=src.name).inc()
        error = redact_text(f"{type(exc).__name__}: {exc}" if crashed else str(exc))
        self.failures += 1
        # Failing poll after poll (one poison item crashing every poll, an unreachable
        # server) is degraded too, not only refused credentials.
        degraded = degraded or self.failures >= src.cfg.degrade_after_failures
        await record.failed(
            self.services.pool,
            "source",
            src.name,
            self.services.clock(),
            error,
            needs_human=degraded,
        )
        # Log once when it goes down, once when it is back: not at every poll.
        if degraded and not self.degraded:
            log.error("source_degraded", source=src.name, error=str(exc))
        elif not degraded:
            log.warning("source_poll_failed", source=src.name, error=error)
        self.degraded = degraded
        async with self.services.pool.acquire() as conn:
            await repo.record_error(conn, src.name, error[:1000], degraded)

    async def run(self, stop: asyncio.Event) -> None:
        interval = self.source.cfg.poll_s
        outage = OutageLog(
            log.bind(source=self.source.name),
            self.name,
            every_s=self.services.settings.database.outage_log_every_s,
        )
        while not stop.is_set():
            try:
                n = await self.run_once()
            except DB_DOWN as exc:
                # The database is away: said once with why, then counted, not a traceback
                # at every poll; the source's items wait in the channel meanwhile.
                outage.failed(exc)
                n = 0
            except Exception:  # a bug in one source must not stop the daemon
                log.exception("ingest_loop_crashed", source=self.source.name)
                n = 0
            else:
                outage.succeeded()
            if n:
                continue
            waits = abilities(self.source).waits_for_new
            with contextlib.suppress(asyncio.TimeoutError):
                if waits is not None and not self.degraded:
                    await asyncio.wait_for(
                        _first(stop.wait(), waits.wait_for_new(interval)), interval + 5
                    )
                else:
                    await asyncio.wait_for(stop.wait(), interval)


async def _first(*aws: Any) -> None:
    tasks = [asyncio.ensure_future(a) for a in aws]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for t in tasks:
            t.cancel()
