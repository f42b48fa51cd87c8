"""The LAPOR! updates feed: read from the stored cursor, store each event once, apply it
without moving a status backwards, save the cursor in the same transaction.

Replicas share the feed: each page is committed under an advisory lock, and a page read
from a cursor another replica has since moved past is dropped (its events are stored by
whoever moved it).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import TYPE_CHECKING, Any

import asyncpg
import structlog
from aiohttp import web

from aggregator.errors import AuthError, PermanentError, TransientError
from aggregator.health import record
from aggregator.lapor.apply import ApplyResult, Classifier, store_and_apply
from aggregator.lapor.errors import Rejected
from aggregator.lapor.http import event_from_wire, verify_signature
from aggregator.lapor.port import LaporPort
from aggregator.storage import lapor as repo

if TYPE_CHECKING:
    from aggregator.wiring.services import Services

log = structlog.get_logger(__name__)

CATCH_UP = 200  # older events waiting for their complaint's Tracking ID, per page


class UpdatesLoop:
    name = "lapor_updates"

    def __init__(
        self,
        services: Services,
        port: LaporPort,
        *,
        classify: Classifier | None = None,
        page_size: int | None = None,
        poll_s: float | None = None,
    ) -> None:
        cfg = services.settings.lapor
        self.pool: asyncpg.Pool = services.pool
        self.port = port
        self.classify = classify or services.classifier
        self.page_size = page_size or cfg.updates_page
        self.poll_s = poll_s or cfg.updates_poll_s
        self.totals = ApplyResult()
        self.clock = services.clock

    async def run_once(self) -> int:
        """Read pages until the feed is drained; return the events applied. The outcome is
        the feed's recorded health (``aggregator.health``)."""
        try:
            handled = await self._drain()
        except Exception as exc:
            await record.failed(
                self.pool,
                "feed",
                None,
                self.clock(),
                f"{type(exc).__name__}: {exc}",
                needs_human=isinstance(exc, AuthError),
            )
            raise
        await record.succeeded(self.pool, "feed", None, self.clock(), handled)
        return handled

    async def _drain(self) -> int:
        """Read pages until the feed is drained.

        The next page is fetched while the current one is applied (the cursor it starts from
        is the one the current page gives), so the HTTP wait overlaps the database work.
        """
        handled = 0
        first = True
        async with self.pool.acquire() as conn:
            cursor = await repo.get_state(conn, repo.FEED)
        fetch = asyncio.ensure_future(self.port.read_updates(cursor, self.page_size))
        try:
            while True:
                try:
                    page = await fetch
                except Rejected:
                    if cursor is None:
                        raise
                    # LAPOR! no longer knows our cursor (past its 30-day retention, or a new
                    # server): read again from the oldest event it keeps; event_ids dedupe.
                    log.error("lapor_feed_cursor_refused", cursor=cursor[:40])
                    async with self.pool.acquire() as conn:
                        await repo.save_state(conn, repo.FEED, None)
                    cursor = None
                    fetch = asyncio.ensure_future(self.port.read_updates(None, self.page_size))
                    continue
                more = len(page.events) >= self.page_size and page.next_cursor not in (None, cursor)
                if more:
                    fetch = asyncio.ensure_future(
                        self.port.read_updates(page.next_cursor, self.page_size)
                    )
                async with self.pool.acquire() as conn, conn.transaction():
                    await repo.lock_feed(conn)
                    stored_cursor = await repo.get_state(conn, repo.FEED)
                    if stored_cursor != cursor:
                        # Another replica committed this page meanwhile: start from its cursor.
                        result = None
                    else:
                        # Events that waited for their Tracking ID are looked for once per run.
                        result = await store_and_apply(
                            conn,
                            page.events,
                            classify=self.classify,
                            catch_up=CATCH_UP if first else 0,
                        )
                        if page.next_cursor is not None:
                            await repo.save_state(conn, repo.FEED, page.next_cursor)
                if result is None:
                    if more:
                        fetch.cancel()
                    cursor = stored_cursor
                    fetch = asyncio.ensure_future(self.port.read_updates(cursor, self.page_size))
                    continue
                first = False
                self._count(result)
                handled += result.applied
                if result.stored or result.applied:
                    log.info(
                        "lapor_updates_applied",
                        stored=result.stored,
                        applied=result.applied,
                        stale=result.stale,
                        waiting=result.waiting,
                    )
                if not more:
                    return handled
                cursor = page.next_cursor
        finally:
            if not fetch.done():
                fetch.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await fetch

    def _count(self, r: ApplyResult) -> None:
        t = self.totals
        t.stored += r.stored
        t.applied += r.applied
        t.stale += r.stale
        t.notified += r.notified

    async def run(self, stop: asyncio.Event) -> None:
        failing = False
        while not stop.is_set():
            try:
                await self.run_once()
                if failing:
                    log.info("lapor_updates_recovered")
                    failing = False
            except (TransientError, AuthError, PermanentError) as exc:
                # Never let the feed take the daemon down; say so once, keep trying.
                if not failing:
                    log.warning("lapor_updates_failed", error=str(exc), kind=type(exc).__name__)
                    failing = True
            except (OSError, asyncpg.PostgresError) as exc:
                log.warning("lapor_updates_db_failed", error=repr(exc))
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.poll_s):
                    await stop.wait()


WEBHOOK_MAX_BYTES = 5 * 1024 * 1024  # a push carries events, never attachments


def webhook_handler(
    services: Services,
    secret: str,
    *,
    classify: Classifier | None = None,
    tolerance_s: float = 300.0,
    now: Any = time.time,
) -> Any:
    """An aiohttp handler for LAPOR!'s signed pushes (mount it at ``/lapor/webhook``).

    401 for a bad signature or a timestamp more than ``tolerance_s`` away; 204 once the
    events are stored (and applied); repeats are harmless.
    """
    pool: asyncpg.Pool = services.pool
    classifier = classify or services.classifier

    async def handle(request: web.Request) -> web.Response:
        # Refuse what cannot be a signed, fresh push before reading a body of any size.
        stamp = request.headers.get("X-Lapor-Timestamp", "")
        if (
            not request.headers.get("X-Lapor-Signature")
            or not stamp.isascii()
            or not stamp.isdigit()
            or abs(now() - int(stamp)) > tolerance_s
        ):
            log.warning("lapor_webhook_refused", remote=request.remote)
            return web.json_response({"error": "invalid_signature"}, status=401)
        if (request.content_length or 0) > WEBHOOK_MAX_BYTES:
            return web.json_response({"error": "too_large"}, status=413)
        raw = await request.read()  # without Content-Length: bounded by client_max_size
        if len(raw) > WEBHOOK_MAX_BYTES:
            return web.json_response({"error": "too_large"}, status=413)
        if not verify_signature(
            secret,
            request.headers.get("X-Lapor-Timestamp"),
            raw,
            request.headers.get("X-Lapor-Signature"),
            now=now(),
            tolerance_s=tolerance_s,
        ):
            log.warning("lapor_webhook_refused", remote=request.remote)
            return web.json_response({"error": "invalid_signature"}, status=401)
        try:
            import json

            body = json.loads(raw)
            events = [event_from_wire(e) for e in body["events"]]
        except (ValueError, KeyError, TypeError) as exc:
            return web.json_response(
                {"error": "invalid_body", "message": str(exc)[:200]}, status=400
            )
        async with pool.acquire() as conn, conn.transaction():
            result = await store_and_apply(conn, events, classify=classifier)
        log.info("lapor_webhook_applied", stored=result.stored, applied=result.applied)
        return web.Response(status=204)

    return handle
