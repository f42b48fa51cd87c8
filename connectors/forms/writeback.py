"""Write-back: LAPOR!'s progress mirrored into the old form's own tables.

So the PHP pages citizens and staff still open show real progress: the Tracking ID (in a
column the agency added, or else as a response row), our status mapped back to the form's
values (never moved backwards), and each agency response as a row in ``tanggapan``.

Idempotent by a key the core records in our database (``form_writes``, migration 0120): the
Tracking ID and each agency response have a key, their wording is fixed in that ledger before
anything is written (``wordings``), a write the ledger confirms is not repeated, and every
insert is still ``INSERT … SELECT … WHERE NOT EXISTS`` on the same complaint and that one
wording, so a job retried after a crash between the old table's insert and our confirmation
writes nothing twice, nor in a second wording. Updates only change a differing value. Nothing
is ever deleted, and a ``tanggapan`` row is only ever inserted while its ``pengaduan`` row
exists. A row is reported missing only when a SELECT that ran to completion found no row.

This module only touches the *old* database. The core's ``write_back`` job
(``aggregator/notify/writeback.py``) reads our state, hands it over as a plain
``WriteBackRequest`` to ``FormWriter.mirror`` (the toolkit's ``LegacyWriter`` protocol, offered
by ``SqlTableSource.writer()``) and records what came back: what was written, or that the
row is gone (``WriteBackResult.missing``).
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import structlog

from connectors.base import (
    MissingRow,
    Origin,
    OutboundMessage,
    SendResult,
    WriteBackNote,
    WriteBackRequest,
    WriteBackResult,
)
from connectors.base.errors import PermanentError
from connectors.forms.legacy_db import LegacyDb, StatementTimeout
from connectors.forms.options import SqlTableOptions

log = structlog.get_logger(__name__)


class FormRowMissing(PermanentError):
    """The complaint's row is not in the old form table (deleted there). A ``PermanentError``
    so a caller that does not expect it still gives up instead of retrying."""

    def __init__(self, table: str, row_id: Any) -> None:
        super().__init__(f"row {row_id} no longer exists in {table}")
        self.table = table
        self.row_id = row_id


def tracking_text(tracking_id: str) -> str:
    return (
        f"Laporan Anda telah diteruskan ke SP4N-LAPOR! dengan Tracking ID #{tracking_id}. "
        f"Pantau perkembangannya di https://www.lapor.go.id dengan nomor tersebut."
    )


def response_text(agency: str | None, text: str) -> str:
    who = f"Tanggapan {agency} melalui SP4N-LAPOR!" if agency else "Tanggapan melalui SP4N-LAPOR!"
    return f"[{who}] {text}"


class FormWriter:
    """Writes into one old form database. One connection, opened on first use."""

    def __init__(
        self,
        source: str,
        opts: SqlTableOptions,
        timezone: str = "Asia/Jakarta",
    ) -> None:
        self.source = source
        self.opts = opts
        self.wb = opts.write_back
        self.db = LegacyDb(
            opts.url.get_secret_value(),
            opts.charset,
            read_only=False,
            pool_size=opts.pool_size,
            statement_timeout_s=opts.statement_timeout_s,
        )
        self.zone = ZoneInfo(timezone or opts.timezone)

    async def _ready(self) -> None:
        """Each written table's charset, once (configured, else the server's own): text is
        written through a connection in the table's charset."""
        if not self.db.charsets:
            tables = [self.wb.table] + ([self.opts.responses.table] if self.opts.responses else [])
            await self.db.detect_charsets(tables, self.opts.table_charsets)

    def _cs(self, table: str) -> str | None:
        return self.db.charset_of(table)

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
        await self._ready()
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
        sql = (
            f"INSERT INTO {table} ({', '.join(d.ident(c) for c in cols)}) "
            f"SELECT {d.phs(1, n)} FROM (SELECT 1 AS one) AS dual_ WHERE NOT EXISTS ("
            f"SELECT 1 FROM {table} WHERE {d.ident(spec.complaint_column)} = {d.ph(n + 1)} "
            f"AND {d.ident(spec.text_column)} = {d.ph(n + 2)}) AND EXISTS ("
            f"SELECT 1 FROM {d.ident(self.wb.table)} "
            f"WHERE {d.ident(self._id_col())} = {d.ph(n + 3)})"
        )
        if d.dialect == "postgresql":  # untyped parameters in a SELECT list need a cast
            sql = sql.replace(
                f"SELECT {d.phs(1, n)} FROM",
                "SELECT "
                + ", ".join(f"${i + 1}::{_pg_type(v)}" for i, v in enumerate(vals))
                + " FROM",
            )
        if (
            await d.execute(
                sql, [*vals, row_id, self._value(text), row_id], charset=self._cs(spec.table)
            )
            > 0
        ):
            return True
        await self._require_row(row_id)
        return False

    async def has_response(self, row_id: Any, text: str) -> bool:
        """Read back: the ``tanggapan`` row with this text exists for the form row (what the
        old PHP page will show the citizen)."""
        spec = self.opts.responses
        if spec is None:
            return False
        d = self.db
        rows = await d.fetch(
            f"SELECT 1 AS one FROM {d.ident(spec.table)} WHERE "
            f"{d.ident(spec.complaint_column)} = {d.ph(1)} AND {d.ident(spec.text_column)} = "
            f"{d.ph(2)}",
            [row_id, self._value(text)],
        )
        return bool(rows)

    async def _require_row(self, row_id: Any) -> None:
        """Raises ``FormRowMissing`` when the form row is gone (after a write changed nothing:
        "already there" and "no row" look alike until asked)."""
        d = self.db
        rows = await d.fetch(
            f"SELECT 1 AS one FROM {d.ident(self.wb.table)} "
            f"WHERE {d.ident(self._id_col())} = {d.ph(1)}",
            [row_id],
            charset=self._cs(self.wb.table),
        )
        if not rows:
            raise FormRowMissing(self.wb.table, row_id)

    async def set_tracking(self, row_id: Any, tracking_id: str) -> bool:
        """The Tracking ID into the agency's column (or, without one, its response row)."""
        d, col = self.db, self.wb.tracking_column
        if col is None:
            return await self.add_response(row_id, tracking_text(tracking_id), None)
        await self._ready()
        sql = (
            f"UPDATE {d.ident(self.wb.table)} SET {d.ident(col)} = {d.ph(1)} "
            f"WHERE {d.ident(self._id_col())} = {d.ph(2)} "
            f"AND ({d.ident(col)} IS NULL OR {d.ident(col)} <> {d.ph(3)})"
        )
        if (
            await d.execute(
                sql, [tracking_id, row_id, tracking_id], charset=self._cs(self.wb.table)
            )
            > 0
        ):
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
        await self._ready()
        if col is None or value is None:
            await self._require_row(row_id)
            return False
        d = self.db
        rows = await d.fetch(
            f"SELECT {d.ident(col)} AS s FROM {d.ident(self.wb.table)} "
            f"WHERE {d.ident(self._id_col())} = {d.ph(1)}",
            [row_id],
            charset=self._cs(self.wb.table),
        )
        if not rows:
            raise FormRowMissing(self.wb.table, row_id)
        cur = rows[0]["s"]
        cur = cur.decode("latin-1") if isinstance(cur, bytes) else (cur or "")
        # Never backwards: staff may have closed it in the old admin already.
        if cur == value or self._rank(cur) > self._rank(value):
            return False
        sql = (
            f"UPDATE {d.ident(self.wb.table)} SET {d.ident(col)} = {d.ph(1)} "
            f"WHERE {d.ident(self._id_col())} = {d.ph(2)}"
        )
        return await d.execute(sql, [value, row_id], charset=self._cs(self.wb.table)) > 0

    @staticmethod
    def tracking_key(tracking_id: str) -> str:
        return f"tracking:{tracking_id}"

    def _note_text(self, note: WriteBackNote) -> str:
        if note.kind == "info_request":
            return f"[Permintaan informasi SP4N-LAPOR!] {note.text}"
        return response_text(note.agency, note.text)

    def wordings(self, request: WriteBackRequest) -> dict[str, str]:
        """The text of each keyed write (pure): the Tracking ID (its column value, or its
        response row's text) and every agency response."""
        out: dict[str, str] = {}
        if request.tracking_id:
            out[self.tracking_key(request.tracking_id)] = (
                request.tracking_id
                if self.wb.tracking_column
                else tracking_text(request.tracking_id)
            )
        for note in request.notes:
            if note.key:
                out[note.key] = self._note_text(note)
        return out

    async def mirror(self, request: WriteBackRequest) -> WriteBackResult:
        """Bring the form row up to date with ``request``; what changed, in order, or the
        row reported missing (deleted in the old admin).

        Writes whose key the core's ledger says the old table holds are not repeated; the
        others are written in the ledger's wording (``request.wordings``). A statement that
        timed out is retried once here (every write is idempotent), then left to the job's
        own retry."""
        try:
            return await self._mirror(request)
        except StatementTimeout as exc:
            log.warning("form_write_back_retry", source=self.source, reason=str(exc))
            return await self._mirror(request)

    async def _mirror(self, request: WriteBackRequest) -> WriteBackResult:
        await self._ready()
        done: list[str] = []
        held: list[str] = []
        row_id = request.row_id
        planned = {**self.wordings(request), **request.wordings}
        try:
            if request.tracking_id:
                key = self.tracking_key(request.tracking_id)
                if key not in request.confirmed:
                    wording = planned[key]
                    if self.wb.tracking_column:
                        wrote = await self.set_tracking(row_id, wording)
                    else:
                        wrote = await self.add_response(row_id, wording, None)
                    if wrote:
                        done.append("tracking_id")
                    held.append(key)
            if await self.set_status(row_id, request.status):
                done.append("status")
            for note in request.notes:
                if note.key and note.key in request.confirmed:
                    continue
                text = planned.get(note.key) if note.key else None
                if await self.add_response(row_id, text or self._note_text(note), note.at):
                    done.append("response")
                if note.key:
                    held.append(note.key)
        except FormRowMissing as gone:
            return WriteBackResult(
                wrote=tuple(done),
                missing=MissingRow(gone.table, gone.row_id),
                confirmed=tuple(held),
            )
        return WriteBackResult(wrote=tuple(done), confirmed=tuple(held))

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
            log.info(
                "form_answer_skipped",
                source=origin.source,
                row_id=row_id,
                notification_id=message.notification_id,
                reason="legacy_row_deleted",
            )
            return SendResult(
                delivered=None,
                detail="not written: the form row was deleted in "
                "the old database; kept for the status page",
            )
        try:
            written = await self.writer.add_response(row_id, message.text, None)
        except FormRowMissing:
            # Gone before a re-scan noticed: the same as above. The re-scan (or a write-back
            # job) records the deletion on the complaint; the sink has no queue database.
            log.info(
                "form_answer_skipped",
                source=origin.source,
                row_id=row_id,
                notification_id=message.notification_id,
                reason="legacy_row_missing",
            )
            return SendResult(
                delivered=None,
                detail="not written: the form row no longer "
                "exists in the old database; kept for the "
                "status page",
            )
        # Confirmed by reading the row back: what the form's page shows is the delivery.
        confirmed = await self.writer.has_response(row_id, message.text)
        return SendResult(
            external_id=f"tanggapan:{row_id}:{message.notification_id}",
            delivered=True if confirmed else None,
            detail=("written" if written else "already there")
            + (
                "; read back from the form's response table"
                if confirmed
                else "; not found when read back"
            ),
        )

    def recognises_resend(self) -> bool:
        return True  # the same text on the same form row is never written twice

    async def close(self) -> None:
        await self.writer.close()
