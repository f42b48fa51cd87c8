"""Write-back: LAPOR!'s progress mirrored into the old form's own tables.

So the PHP pages citizens and staff still open show real progress: the Tracking ID (in a
column the agency added, or else as a response row), our status mapped back to the form's
values (never moved backwards), and each agency response as a row in ``tanggapan``.

Idempotent without any bookkeeping on our side: every insert is ``INSERT … SELECT … WHERE
NOT EXISTS`` on the same complaint and text, and every update only changes a differing value,
so a job retried after a crash (or run twice by two replicas) writes nothing twice. Nothing
is ever deleted. Once a re-scan has found a complaint's row deleted in the old database
(``origin.legacy_row_deleted``), its jobs write nothing there and end done, with a
``form_write_back_skipped`` event; the sink keeps its messages for the status page. A job
that finds the row gone itself (no re-scan since) records the deletion as a re-scan would
(``origin.legacy_row_deleted`` and one ``legacy_row_deleted`` event) and ends the same way;
a ``tanggapan`` row is only ever inserted while its ``pengaduan`` row exists.

Jobs: kind ``write_back`` with ``complaint_id`` set; ``payload`` may be empty (the handler
mirrors the complaint's whole current state). They are queued by triggers (migration 0041)
in the very transaction that sets a Tracking ID, moves a status or stores a response, so no
other part has to remember; ``enqueue_write_back`` exists for an explicit re-sync.
``handlers(services)`` returns the handler for the worker.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any
from zoneinfo import ZoneInfo

import structlog

from aggregator.errors import PermanentError
from aggregator.storage.sqlfiles import q
from connectors.base import Origin, OutboundMessage, SendResult
from connectors.forms.legacy_db import LegacyDb
from connectors.forms.options import SqlTableOptions, validate_options
from schemas.events import Job, JobKind

log = structlog.get_logger(__name__)


class FormRowMissing(PermanentError):
    """The complaint's row is not in the old form table (deleted there). A ``PermanentError``
    so a caller that does not expect it still gives up instead of retrying."""

    def __init__(self, table: str, row_id: Any) -> None:
        super().__init__(f"row {row_id} no longer exists in {table}")
        self.table = table
        self.row_id = row_id


def tracking_text(tracking_id: str) -> str:
    return (f"Laporan Anda telah diteruskan ke SP4N-LAPOR! dengan Tracking ID #{tracking_id}. "
            f"Pantau perkembangannya di https://www.lapor.go.id dengan nomor tersebut.")


def response_text(agency: str | None, text: str) -> str:
    who = f"Tanggapan {agency} melalui SP4N-LAPOR!" if agency else "Tanggapan melalui SP4N-LAPOR!"
    return f"[{who}] {text}"


class FormWriter:
    """Writes into one old form database. One connection, opened on first use."""

    def __init__(self, source: str, opts: SqlTableOptions, timezone: str = "Asia/Jakarta",
                 ) -> None:
        self.source = source
        self.opts = opts
        self.wb = opts.write_back
        self.db = LegacyDb(opts.url.get_secret_value(), opts.charset, read_only=False)
        self.zone = ZoneInfo(timezone or opts.timezone)

    def _value(self, text: str) -> Any:
        # PHP 5 pages echo the stored bytes under a UTF-8 meta tag: write UTF-8 bytes through
        # the latin1 connection exactly as they did, or the old pages show mojibake.
        if self.db.dialect == "mysql" and self.wb.text_bytes == "utf8_as_latin1":
            return text.encode("utf-8")
        return text

    async def add_response(self, row_id: Any, text: str, at: dt.datetime | None) -> bool:
        """One ``tanggapan`` row, unless the same text is already there. True if written."""
        spec = self.opts.responses
        if spec is None:
            raise PermanentError(f"sources.{self.source}.options.responses is not configured")
        d = self.db
        cols = [spec.complaint_column, spec.text_column]
        vals: list[Any] = [row_id, self._value(text)]
        if spec.date_column:
            cols.append(spec.date_column)
            vals.append((at or dt.datetime.now(dt.UTC)).astimezone(self.zone).date())
        if spec.staff_column:
            cols.append(spec.staff_column)
            vals.append(self.wb.staff_id if self.wb.staff_id is not None else 0)
        n = len(vals)
        table = d.ident(spec.table)
        # The EXISTS on the form row makes the check and the insert one statement: a row
        # deleted meanwhile never gets an orphan response.
        sql = (f"INSERT INTO {table} ({', '.join(d.ident(c) for c in cols)}) "
               f"SELECT {d.phs(1, n)} FROM (SELECT 1 AS one) AS dual_ WHERE NOT EXISTS ("
               f"SELECT 1 FROM {table} WHERE {d.ident(spec.complaint_column)} = {d.ph(n + 1)} "
               f"AND {d.ident(spec.text_column)} = {d.ph(n + 2)}) AND EXISTS ("
               f"SELECT 1 FROM {d.ident(self.wb.table)} "
               f"WHERE {d.ident(self._id_col())} = {d.ph(n + 3)})")
        if d.dialect == "postgresql":  # untyped parameters in a SELECT list need a cast
            sql = sql.replace(f"SELECT {d.phs(1, n)} FROM",
                              "SELECT " + ", ".join(f"${i + 1}::{_pg_type(v)}"
                                                    for i, v in enumerate(vals)) + " FROM")
        if await d.execute(sql, [*vals, row_id, self._value(text), row_id]) > 0:
            return True
        await self._require_row(row_id)
        return False

    async def _require_row(self, row_id: Any) -> None:
        """Raises ``FormRowMissing`` when the form row is gone (after a write changed nothing:
        "already there" and "no row" look alike until asked)."""
        d = self.db
        rows = await d.fetch(f"SELECT 1 AS one FROM {d.ident(self.wb.table)} "
                             f"WHERE {d.ident(self._id_col())} = {d.ph(1)}", [row_id])
        if not rows:
            raise FormRowMissing(self.wb.table, row_id)

    async def set_tracking(self, row_id: Any, tracking_id: str) -> bool:
        d, col = self.db, self.wb.tracking_column
        if col is None:
            return await self.add_response(row_id, tracking_text(tracking_id), None)
        sql = (f"UPDATE {d.ident(self.wb.table)} SET {d.ident(col)} = {d.ph(1)} "
               f"WHERE {d.ident(self._id_col())} = {d.ph(2)} "
               f"AND ({d.ident(col)} IS NULL OR {d.ident(col)} <> {d.ph(3)})")
        if await d.execute(sql, [tracking_id, row_id, tracking_id]) > 0:
            return True
        await self._require_row(row_id)
        return False

    def _id_col(self) -> str:
        return self.wb.id_column or self.opts.id_column

    def _rank(self, value: str) -> int:
        order = list(dict.fromkeys(self.wb.status_values.values()))
        return order.index(value) if value in order else -1

    async def set_status(self, row_id: Any, our_status: str) -> bool:
        col = self.wb.status_column
        value = self.wb.status_values.get(our_status)
        if col is None or value is None:
            await self._require_row(row_id)
            return False
        d = self.db
        rows = await d.fetch(f"SELECT {d.ident(col)} AS s FROM {d.ident(self.wb.table)} "
                             f"WHERE {d.ident(self._id_col())} = {d.ph(1)}", [row_id])
        if not rows:
            raise FormRowMissing(self.wb.table, row_id)
        cur = rows[0]["s"]
        cur = cur.decode("latin-1") if isinstance(cur, bytes) else (cur or "")
        # Never backwards: staff may have closed it in the old admin already.
        if cur == value or self._rank(cur) > self._rank(value):
            return False
        sql = (f"UPDATE {d.ident(self.wb.table)} SET {d.ident(col)} = {d.ph(1)} "
               f"WHERE {d.ident(self._id_col())} = {d.ph(2)}")
        return await d.execute(sql, [value, row_id]) > 0

    async def close(self) -> None:
        await self.db.close()


def _pg_type(v: Any) -> str:
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, int):
        return "bigint"
    if isinstance(v, dt.date):
        return "date"
    return "text"


class FormDbSink:
    """Answers a citizen of an old form by a ``tanggapan`` row the PHP page shows (used for
    acknowledgements with the Tracking ID and for sunset notices)."""

    def __init__(self, source: str, opts: SqlTableOptions) -> None:
        self.writer = FormWriter(source, opts, opts.timezone)

    async def send(self, origin: Origin, message: OutboundMessage) -> SendResult:
        row_id = origin.thread.get("row_id")
        if row_id is None:
            raise PermanentError("this complaint has no form row to answer on")
        if origin.thread.get("legacy_row_deleted"):
            # A response row for a ``pengaduan`` that is gone would be an orphan no page
            # shows; the message stays on the status page, as for a form without write-back.
            log.info("form_answer_skipped", source=origin.source, row_id=row_id,
                     notification_id=message.notification_id, reason="legacy_row_deleted")
            return SendResult(delivered=None, detail="not written: the form row was deleted in "
                                                     "the old database; kept for the status page")
        try:
            written = await self.writer.add_response(row_id, message.text, None)
        except FormRowMissing:
            # Gone before a re-scan noticed: the same as above. The re-scan (or a write-back
            # job) records the deletion on the complaint; the sink has no queue database.
            log.info("form_answer_skipped", source=origin.source, row_id=row_id,
                     notification_id=message.notification_id, reason="legacy_row_missing")
            return SendResult(delivered=None, detail="not written: the form row no longer "
                                                     "exists in the old database; kept for the "
                                                     "status page")
        return SendResult(external_id=f"tanggapan:{row_id}:{message.notification_id}",
                          delivered=None, detail="written" if written else "already there")

    async def close(self) -> None:
        await self.writer.close()


class WriteBackHandler:
    """The ``write_back`` job: mirror one complaint's state into its old form database."""

    def __init__(self, services: Any) -> None:
        self.services = services
        self.writers: dict[str, FormWriter] = {}

    def _writer(self, source: str) -> FormWriter | None:
        if source in self.writers:
            return self.writers[source]
        cfg = next((s for s in self.services.settings.sources if s.name == source), None)
        if cfg is None or cfg.kind != "sql_table":
            return None
        opts = validate_options(SqlTableOptions, cfg.name, cfg.options)
        if not opts.write_back.enabled:
            return None
        self.writers[source] = FormWriter(source, opts, self.services.settings.sla.timezone)
        return self.writers[source]

    async def __call__(self, job: Job) -> None:
        if job.complaint_id is None:
            raise PermanentError("write_back job without complaint_id")
        async with self.services.pool.acquire() as conn:
            c = await conn.fetchrow(q("get_write_back_state"), job.complaint_id)
            followups = await conn.fetch(q("list_followups_for_write_back"), job.complaint_id)
        if c is None:
            raise PermanentError(f"complaint {job.complaint_id} does not exist")
        writer = self._writer(c["source"])
        if writer is None:
            return  # write-back is off for this source (or it is not a form database)
        origin = c["origin"] or {}
        row_id = origin.get("row_id")
        if origin.get("legacy_row_deleted"):
            await self._skip_deleted(job, c["source"], row_id)
            return
        if row_id is None:
            raise PermanentError("complaint has no form row id (origin.row_id)")
        # Two jobs of one complaint (a status and a response, or two replicas) must not both
        # pass the NOT EXISTS check before either inserts: one at a time per complaint.
        try:
            async with self.services.pool.acquire() as lock_conn, lock_conn.transaction():
                await lock_conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))",
                                        f"write_back:{job.complaint_id}")
                done = await self._mirror(writer, row_id, c, followups)
        except FormRowMissing as gone:
            # Deleted in the old admin before a re-scan saw it: record it as the re-scan
            # would, then end like a job for a deletion already known.
            await self._record_deleted(job, c["source"], gone)
            await self._skip_deleted(job, c["source"], row_id)
            return
        if done:
            from aggregator.storage.events import append_event

            async with self.services.pool.acquire() as conn:
                await append_event(conn, job.complaint_id, "form_written_back",
                                   {"source": c["source"], "row_id": row_id, "wrote": done})
        log.info("form_written_back", source=c["source"], complaint_id=str(job.complaint_id),
                 wrote=",".join(done) or "nothing new")

    async def _record_deleted(self, job: Job, source: str, gone: FormRowMissing) -> None:
        """``origin.legacy_row_deleted`` and its ``legacy_row_deleted`` event, once: a re-scan
        or another job that recorded it first leaves both as they are."""
        from aggregator.storage.events import append_event

        async with self.services.pool.acquire() as conn, conn.transaction():
            if await conn.fetchval(q("mark_form_row_deleted"), job.complaint_id) is None:
                return
            await append_event(conn, job.complaint_id, "legacy_row_deleted",
                               {"form_table": gone.table, "row_id": str(gone.row_id)},
                               actor=f"source:{source}")
        log.info("legacy_row_deleted", source=source, complaint_id=str(job.complaint_id),
                 row_id=gone.row_id, seen_by="write_back")

    async def _skip_deleted(self, job: Job, source: str, row_id: Any) -> None:
        """The re-scan found the form row deleted in the old database: there is nothing left
        to mirror onto (a status has no row to set, a response would hang off a missing
        ``pengaduan``), and nothing there is ours to restore or delete. The job is done; the
        timeline says which change stayed out of the old form, and why."""
        from aggregator.storage.events import append_event

        change = str(job.payload.get("reason") or "resync")
        async with self.services.pool.acquire() as conn:
            await append_event(conn, job.complaint_id, "form_write_back_skipped",
                               {"source": source, "row_id": row_id, "change": change,
                                "reason": "legacy_row_deleted"})
        log.info("form_write_back_skipped", source=source, complaint_id=str(job.complaint_id),
                 row_id=row_id, change=change, reason="legacy_row_deleted")

    async def _mirror(self, writer: FormWriter, row_id: Any, c: Any,
                      followups: list[Any]) -> list[str]:
        done: list[str] = []
        if c["lapor_tracking_id"] and await writer.set_tracking(row_id, c["lapor_tracking_id"]):
            done.append("tracking_id")
        if await writer.set_status(row_id, c["status"]):
            done.append("status")
        for f in followups:
            if f["kind"] == "info_request":
                text = f"[Permintaan informasi SP4N-LAPOR!] {f['text']}"
            else:
                text = response_text(f["agency_name"], f["text"])
            if await writer.add_response(row_id, text, f["at"]):
                done.append("response")
        return done

    async def close(self) -> None:
        for w in self.writers.values():
            await w.close()


def handlers(services: Any) -> dict[str, Any]:
    """Job handlers this area provides, by job kind, for the core worker."""
    return {JobKind.WRITE_BACK.value: WriteBackHandler(services)}


async def enqueue_write_back(services: Any, conn: Any, complaint_id: uuid.UUID, *,
                             reason: str) -> int | None:
    """Ask for a write-back of one complaint (call inside the transaction that changed it).
    ``reason`` (e.g. the LAPOR! event id) keeps the job unique per change."""
    return await services.queue.enqueue(  # type: ignore[no-any-return]
        conn, JobKind.WRITE_BACK.value, complaint_id=complaint_id, payload={"reason": reason},
        dedup_key=f"write_back:{complaint_id}:{reason}")
