"""Group commit for the HTTP intakes: requests that arrive together share one transaction.

A gateway posts each SMS on its own request, and a request written alone costs a
transaction (a dozen round trips and a disk flush) for one message. ``GroupCommit`` holds
the requests of one source that arrive within ``spool.group_window_ms`` of each other, or
while the previous group is being written, and writes them as one batch through the same
intake (``Intake.ingest``), at most ``spool.group_max_items`` items at a time. Each
request is answered only once the transaction holding it committed, with its own items'
outcome (stored, already held, quarantined).

What is unchanged: nothing is acknowledged before it is durable. A group whose database is
away fails every request in it with that error, and each request then goes to the spool on
its own (``spool.spooling_ingest`` wraps this, one request at a time); a group that fails
for another reason is written again request by request, so one request's failure is its own
and the others are stored. Within a batch, an item the database refuses is quarantined by
the intake on its own (``Intake._write_split``) and the rest flows on.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable

import structlog

from aggregator.intake.pipeline import SKIPPED, IngestResult
from aggregator.intake.spool import DB_AWAY
from connectors.base import Batch, IngestOutcome
from schemas.events import RawState

log = structlog.get_logger(__name__)

Write = Callable[[Batch], Awaitable[IngestResult]]
_Pending = tuple[Batch, "asyncio.Future[IngestOutcome]"]


def outcome_of(batch: Batch, result: IngestResult) -> IngestOutcome:
    """One request's answer, from the result of the batch it was written in."""
    items = [result.items.get(i.source_ref) for i in batch.items]
    return IngestOutcome(
        complaint_ids=tuple(r.complaint_id for r in items if r and r.complaint_id),
        skipped=sum(1 for r in items if r is not None and r.state == SKIPPED),
        quarantined=sum(1 for r in items if r is not None and r.state == RawState.QUARANTINED),
    )


def merged(batches: list[Batch]) -> Batch:
    """The requests' items as one batch, with the newest cursor any of them carries."""
    cursor = next((b.cursor for b in reversed(batches) if b.cursor is not None), None)
    return Batch(items=[i for b in batches for i in b.items], cursor=cursor)


class GroupCommit:
    """``context.ingest`` of one HTTP intake source, writing concurrent requests together.

    ``write`` stores one batch in one transaction (the core intake); ``timeout_s`` bounds
    one group's write (a database that hangs fails the group, whose requests then spool).
    """

    def __init__(
        self,
        write: Write,
        *,
        source: str,
        window_s: float,
        max_items: int,
        timeout_s: float,
    ) -> None:
        self._write = write
        self.source = source
        self.window_s = window_s
        self.max_items = max_items
        self.timeout_s = timeout_s
        self._pending: deque[_Pending] = deque()
        self._writer: asyncio.Task[None] | None = None

    async def __call__(self, batch: Batch) -> IngestOutcome:
        future: asyncio.Future[IngestOutcome] = asyncio.get_running_loop().create_future()
        self._pending.append((batch, future))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._run(), name=f"satukanal-intake-{self.source}")
        # Cancelling this request (its client went away) leaves the group to be written.
        return await future

    async def _run(self) -> None:
        try:
            while self._pending:
                # Let the requests arriving meanwhile join (a bare yield when the window is
                # 0: the handlers already running reach their ingest first).
                await asyncio.sleep(self.window_s)
                group = self._take()
                try:
                    await self._write_group(group)
                finally:
                    for _, future in group:
                        future.cancel()  # no-op for the answered; cut off: no answer
        except asyncio.CancelledError:
            for _, future in self._pending:
                future.cancel()
            self._pending.clear()
            raise

    def _take(self) -> list[_Pending]:
        """The next group: pending requests in arrival order, up to ``max_items`` items (at
        least one request), none repeating a reference already in the group (a gateway's
        retry racing its first try waits for the next group, where it is found held)."""
        group: list[_Pending] = []
        later: list[_Pending] = []
        refs: set[str] = set()
        size = 0
        while self._pending:
            batch, future = self._pending[0]
            if group and size + len(batch.items) > self.max_items:
                break
            self._pending.popleft()
            if future.done():  # cancelled while waiting: its client is gone
                continue
            mine = [i.source_ref for i in batch.items]
            if group and refs.intersection(mine):
                later.append((batch, future))
                continue
            refs.update(mine)
            size += len(batch.items)
            group.append((batch, future))
        self._pending.extendleft(reversed(later))
        return group

    async def _write_group(self, group: list[_Pending]) -> None:
        if not group:
            return
        batches = [b for b, _ in group]
        try:
            async with asyncio.timeout(self.timeout_s):
                result = await self._write(merged(batches))
        except DB_AWAY as exc:
            # Every request spools on its own (the caller's spooling_ingest).
            for _, future in group:
                if not future.done():
                    future.set_exception(exc)
            return
        except Exception as exc:
            if len(group) == 1:
                if not group[0][1].done():
                    group[0][1].set_exception(exc)
                return
            log.warning(
                "intake_group_fell_back",
                source=self.source,
                requests=len(group),
                error=type(exc).__name__,
            )
            await self._one_by_one(group)
            return
        for batch, future in group:
            if not future.done():
                future.set_result(outcome_of(batch, result))

    async def _one_by_one(self, group: list[_Pending]) -> None:
        """A group that failed as a whole, written again request by request: each request's
        own result or error."""
        for batch, future in group:
            try:
                async with asyncio.timeout(self.timeout_s):
                    result = await self._write(batch)
            except Exception as exc:
                if not future.done():
                    future.set_exception(exc)
                continue
            if not future.done():
                future.set_result(outcome_of(batch, result))
