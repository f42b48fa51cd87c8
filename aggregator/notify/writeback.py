"""The ``write_back`` job: mirror one complaint's state into its channel's own old records.

So the old PHP pages citizens and staff still open show real progress. This side owns our
database: it reads the complaint (Tracking ID, status, agency responses), serialises jobs of
one complaint, hands the state as plain data to the source's ``LegacyWriter`` (for forms,
``connectors/forms/writeback.py``, which alone touches the old tables) and records the
outcome on the timeline.

Every write is keyed in our database (``form_writes``, migration 0120): under a per-complaint
advisory lock the job first records each write's wording (the writer's ``wordings``; a key
recorded before keeps its first wording), then mirrors, then confirms what the old records now
hold, so a retry after a crash or a kill writes the same text (found by the old table's NOT
EXISTS) and a confirmed write is not attempted again.

Jobs: kind ``write_back`` with ``complaint_id`` set; they are queued by triggers (migration
0041) in the very transaction that sets a Tracking ID, moves a status or stores a response.

Once a re-scan has found a complaint's row deleted in the old database
(``origin.legacy_row_deleted``), its jobs write nothing there and end done, with a
``form_write_back_skipped`` event. A job that finds the row gone itself (no re-scan since)
records the deletion as a re-scan would (``origin.legacy_row_deleted`` and one
``legacy_row_deleted`` event) and ends the same way.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import structlog

from aggregator.errors import PermanentError
from aggregator.storage import forms as repo
from aggregator.storage.events import append_event
from connectors.base import LegacyWriter, MissingRow, WriteBackNote, WriteBackRequest
from schemas.events import EventKind, Job

if TYPE_CHECKING:
    from aggregator.wiring.services import Services

log = structlog.get_logger(__name__)


class WriteBackHandler:
    """Runs ``write_back`` jobs through the writers of the sources that offer one, by name."""

    def __init__(self, services: Services, writers: Mapping[str, LegacyWriter]) -> None:
        self.services = services
        self.writers = dict(writers)

    async def __call__(self, job: Job) -> None:
        if job.complaint_id is None:
            raise PermanentError("write_back job without complaint_id")
        async with self.services.pool.acquire() as conn:
            c = await repo.get_write_back_state(conn, job.complaint_id)
            followups = await repo.list_followups_for_write_back(conn, job.complaint_id)
        if c is None:
            raise PermanentError(f"complaint {job.complaint_id} does not exist")
        writer = self.writers.get(c.source)
        if writer is None:
            return  # write-back is off for this source (or its channel has no old records)
        row_id = c.origin.get("row_id")
        if c.origin.get("legacy_row_deleted"):
            await self._skip_deleted(job, c.source, row_id)
            return
        if row_id is None:
            raise PermanentError("complaint has no form row id (origin.row_id)")
        request = WriteBackRequest(
            row_id=row_id,
            tracking_id=c.tracking_id,
            status=c.status,
            notes=tuple(
                WriteBackNote(
                    kind=f.kind,
                    text=f.text,
                    agency=f.agency_name,
                    at=f.at,
                    key=f"followup:{f.id}",
                )
                for f in followups
            ),
        )
        # Two jobs of one complaint (a status and a response, or two replicas) must not both
        # pass the old table's NOT EXISTS check before either inserts: one at a time.
        async with (
            self.services.pool.acquire() as conn,
            repo.write_back_locked(conn, job.complaint_id),
        ):
            # The ledger first: each write's wording is fixed (and kept if fixed before) in
            # our database before the old table is touched; what it confirms is not redone.
            ledger = await repo.plan_form_writes(conn, job.complaint_id, writer.wordings(request))
            request = replace(
                request,
                wordings={k: w.wording for k, w in ledger.items()},
                confirmed=frozenset(k for k, w in ledger.items() if w.confirmed),
            )
            result = await writer.mirror(request)
            await repo.confirm_form_writes(conn, job.complaint_id, list(result.confirmed))
        if result.missing is not None:
            # Deleted in the old admin before a re-scan saw it: record it as the re-scan
            # would, then end like a job for a deletion already known.
            await self._record_deleted(job, c.source, result.missing)
            await self._skip_deleted(job, c.source, row_id)
            return
        done = list(result.wrote)
        if done:
            async with self.services.pool.acquire() as conn:
                await append_event(
                    conn,
                    job.complaint_id,
                    EventKind.FORM_WRITTEN_BACK,
                    {"source": c.source, "row_id": row_id, "wrote": done},
                )
        log.info(
            "form_written_back",
            source=c.source,
            complaint_id=str(job.complaint_id),
            wrote=",".join(done) or "nothing new",
        )

    async def _record_deleted(self, job: Job, source: str, gone: MissingRow) -> None:
        """``origin.legacy_row_deleted`` and its ``legacy_row_deleted`` event, once: a re-scan
        or another job that recorded it first leaves both as they are."""
        assert job.complaint_id is not None
        async with self.services.pool.acquire() as conn, conn.transaction():
            if not await repo.mark_form_row_deleted(conn, job.complaint_id):
                return
            await append_event(
                conn,
                job.complaint_id,
                EventKind.LEGACY_ROW_DELETED,
                {"form_table": gone.table, "row_id": str(gone.row_id)},
                actor=f"source:{source}",
            )
        log.info(
            "legacy_row_deleted",
            source=source,
            complaint_id=str(job.complaint_id),
            row_id=gone.row_id,
            seen_by="write_back",
        )

    async def _skip_deleted(self, job: Job, source: str, row_id: Any) -> None:
        """The form row was deleted in the old database: there is nothing left to mirror onto
        (a status has no row to set, a response would hang off a missing ``pengaduan``), and
        nothing there is ours to restore or delete. The job is done; the timeline says which
        change stayed out of the old form, and why."""
        change = str(job.payload.get("reason") or "resync")
        async with self.services.pool.acquire() as conn:
            await append_event(
                conn,
                job.complaint_id,
                EventKind.FORM_WRITE_BACK_SKIPPED,
                {
                    "source": source,
                    "row_id": row_id,
                    "change": change,
                    "reason": "legacy_row_deleted",
                },
            )
        log.info(
            "form_write_back_skipped",
            source=source,
            complaint_id=str(job.complaint_id),
            row_id=row_id,
            change=change,
            reason="legacy_row_deleted",
        )

    async def close(self) -> None:
        """Close the writers (their sources close them too; closing twice is harmless)."""
        for w in self.writers.values():
            await w.close()
