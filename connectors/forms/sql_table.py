"""Source ``sql_table``: complaints from an old form's database, by declarative mapping.

Reads new rows by an id watermark (``last_id`` in the cursor). Old form schemas have no
``updated_at``, so every ``rescan.interval_s`` the open rows are read again and a change of
status, a new ``tanggapan`` row or a deleted row becomes an *update* item
(``upd:<id>:<digest>@<round>``), parsed into a ``LegacyUpdate`` that intake applies to the
row's complaint, so the timeline shows what staff still do in the old PHP admin. The round
(when that re-scan fell due, kept in the cursor) makes a state the row returns to later a new
item, while a re-pull of the same round repeats the same ``source_ref`` and is stored once.
The database is never written here; write-back (``connectors.forms.writeback``) has its own
connection.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any, ClassVar

import structlog

from connectors.base import Batch, ConnectorContext, RawItem, Sink, load_options
from connectors.base.conformance import ConformanceSamples
from connectors.forms.legacy_db import LegacyDb
from connectors.forms.options import SqlTableOptions
from connectors.forms.photo import fetch_photo
from connectors.forms.rows import decode_payload, encode_row, row_to_draft
from schemas.complaint import Parsed
from schemas.config import SourceConfig

if TYPE_CHECKING:
    from connectors.forms.writeback import FormWriter

log = structlog.get_logger(__name__)


def _plain(v: Any) -> Any:
    """A row id as JSON can hold it (cursor, source_ref)."""
    if isinstance(v, bytes):
        return v.decode("latin-1")
    return v


class SqlTableSource:
    kind: ClassVar[str] = "sql_table"
    options_model: ClassVar[type[SqlTableOptions]] = SqlTableOptions

    @classmethod
    def conformance_samples(cls) -> ConformanceSamples:
        from connectors.forms.samples import sql_table_samples

        return sql_table_samples()

    backfill_read_ahead: bool = True  # ack() is a no-op: pages may be read ahead
    # parse() needs only the options (the row's bytes and charsets travel in the payload),
    # so a backfill may parse in worker processes, each with a never-connected copy.
    backfill_parse_anywhere: bool = True

    def __init__(self, cfg: SourceConfig, context: ConnectorContext | None = None) -> None:
        self.name = cfg.name
        self.cfg = cfg
        self.opts: SqlTableOptions = load_options(SqlTableOptions, cfg.name, cfg.options)
        self.context = context or ConnectorContext(source=cfg.name)
        self.clock = self.context.clock
        self._writer: FormWriter | None = None
        self.db = LegacyDb(
            self.opts.url.get_secret_value(),
            self.opts.charset,
            read_only=True,
            pool_size=self.opts.pool_size,
            statement_timeout_s=self.opts.statement_timeout_s,
        )
        self.page_size = cfg.batch_size

    # -- SQL on the legacy database ----------------------------------------------------
    def _base(self) -> str:
        if self.opts.query:
            return f"({self.opts.query}) src"
        assert self.opts.table is not None
        return f"{self.db.ident(self.opts.table)} src"

    def _id(self) -> str:
        return f"src.{self.db.ident(self.opts.id_column)}"

    def page_sql(self, after: bool) -> str:
        where = f" WHERE {self._id()} > {self.db.ph(1)}" if after else ""
        limit = self.db.ph(2 if after else 1)
        return f"SELECT * FROM {self._base()}{where} ORDER BY {self._id()} LIMIT {limit}"

    async def _charsets(self) -> None:
        """Each table's charset, once per process (configured, else the server's own)."""
        if self.db.charsets:
            return
        tables = [self.opts.main_table]
        if self.opts.responses is not None:
            tables.append(self.opts.responses.table)
        found = await self.db.detect_charsets(tables, self.opts.table_charsets)
        log.info(
            "form_table_charsets",
            source=self.name,
            charsets=",".join(f"{t}={c}" for t, c in found.items()),
        )

    def _cs_main(self) -> str | None:
        return self.db.charset_of(self.opts.main_table)

    def _cs_responses(self) -> str | None:
        return self.db.charset_of(self.opts.responses.table) if self.opts.responses else None

    async def check(self) -> None:
        await self._charsets()
        rows = await self.db.fetch(f"SELECT * FROM {self._base()} LIMIT 1", charset=self._cs_main())
        if rows:
            f = self.opts.fields
            wanted = [self.opts.id_column, *[c for c in f.model_dump().values() if c]]
            missing = [c for c in wanted if c not in rows[0]]
            if missing:
                from connectors.base.errors import ConfigError

                raise ConfigError(
                    f"sources.{self.name}.options.fields: columns not found in the form "
                    f"table/query: {', '.join(missing)}"
                )

    # -- pulling -----------------------------------------------------------------------
    async def pull(self, cursor: dict[str, Any] | None) -> AsyncIterator[Batch]:
        cur: dict[str, Any] = dict(cursor or {})
        last = cur.get("last_id")
        open_map: dict[str, str] = dict(cur.get("open") or {})
        # A backfill records the open rows it reads as the live poll does (the live loop
        # takes them over with its cursor and re-scans them), but runs no re-scan itself.
        rescan = self.opts.rescan.enabled
        if rescan and "rescan_after" not in cur:  # rows about to be read cannot have changed
            cur["rescan_after"] = (
                self.clock() + dt.timedelta(seconds=self.opts.rescan.interval_s)
            ).isoformat()
        await self._charsets()
        while True:
            params: tuple[Any, ...] = (
                (last, self.page_size) if last is not None else (self.page_size,)
            )
            rows = await self.db.fetch(
                self.page_sql(last is not None), params, charset=self._cs_main()
            )
            if not rows:
                break
            responses = await self._responses([r[self.opts.id_column] for r in rows])
            items = []
            for row in rows:
                rid = _plain(row[self.opts.id_column])
                resp = responses.get(rid, [])
                items.append(await self._row_item(rid, row, resp))
                if rescan and self._is_open(row):
                    open_map[str(rid)] = self._digest(row, resp)
            last = _plain(rows[-1][self.opts.id_column])
            if len(open_map) > self.opts.rescan.max_rows:
                dropped = len(open_map) - self.opts.rescan.max_rows
                open_map = self._newest(open_map)
                log.warning(
                    "form_rescan_rows_dropped",
                    source=self.name,
                    dropped=dropped,
                    max_rows=self.opts.rescan.max_rows,
                    hint="raise rescan.max_rows to follow every open row",
                )
            cur["last_id"] = last
            if rescan:
                cur["open"] = dict(open_map)
            yield Batch(items=items, cursor=dict(cur))
            if len(rows) < self.page_size:
                break
        if rescan and not cur.get("backfill") and self._rescan_due(cur):
            async for batch in self._rescan(cur, open_map):
                yield batch

    async def _row_item(
        self, rid: Any, row: dict[str, Any], responses: list[dict[str, Any]]
    ) -> RawItem:
        photo = None
        if self.opts.fields.photo and row.get(self.opts.fields.photo):
            ref = row[self.opts.fields.photo]
            ref = ref.decode("utf-8", "replace") if isinstance(ref, bytes) else str(ref)
            photo = await fetch_photo(self.opts.photo, ref, self.context.http)
        payload = encode_row(
            self.opts.table or "query", rid, row, responses, photo, **self._cs_extra()
        )
        return RawItem(
            source_ref=f"row:{rid}",
            payload=payload,
            received_at=self.clock(),
            meta={"row_id": rid, "kind": "form_row"},
            content_type="application/x-satukanal-form-row+json",
        )

    async def _responses(self, ids: list[Any]) -> dict[Any, list[dict[str, Any]]]:
        spec = self.opts.responses
        if spec is None or not ids:
            return {}
        fk = self.db.ident(spec.complaint_column)
        sql = (
            f"SELECT * FROM {self.db.ident(spec.table)} WHERE {fk} IN "
            f"({self.db.phs(1, len(ids))}) ORDER BY {self.db.ident(spec.id_column)}"
        )
        out: dict[Any, list[dict[str, Any]]] = {}
        for r in await self.db.fetch(sql, ids, charset=self._cs_responses()):
            out.setdefault(_plain(r[spec.complaint_column]), []).append(r)
        return out

    # -- re-scan of open rows ----------------------------------------------------------
    def _status_raw(self, row: dict[str, Any]) -> bytes:
        col = self.opts.fields.status
        v = row.get(col) if col else None
        if v is None:
            return b"\0"
        return v if isinstance(v, bytes) else str(v).encode()

    def _is_open(self, row: dict[str, Any]) -> bool:
        if not self.opts.fields.status:
            return False
        raw = self._status_raw(row).decode("latin-1").strip().lower()
        return raw in {s.lower() for s in self.opts.rescan.open_statuses}

    def _theirs(self, responses: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Responses staff wrote in the old admin, not the ones our write-back added."""
        spec, mine = self.opts.responses, self.opts.write_back.staff_id
        if spec is None or spec.staff_column is None or mine is None:
            return responses
        return [r for r in responses if r.get(spec.staff_column) != mine]

    def _digest(self, row: dict[str, Any], responses: list[dict[str, Any]]) -> str:
        spec = self.opts.responses
        ids = (
            sorted(str(_plain(r[spec.id_column])) for r in self._theirs(responses)) if spec else []
        )
        h = hashlib.sha256(self._status_raw(row) + b"|" + ",".join(ids).encode())
        return h.hexdigest()[:12]

    def _newest(self, open_map: dict[str, str]) -> dict[str, str]:
        def key(k: str) -> tuple[int, Any]:
            return (0, int(k)) if k.lstrip("-").isdigit() else (1, k)

        keep = sorted(open_map, key=key)[-self.opts.rescan.max_rows :]
        return {k: open_map[k] for k in keep}

    def _rescan_due(self, cur: dict[str, Any]) -> bool:
        after = cur.get("rescan_after")
        return after is not None and dt.datetime.fromisoformat(after) <= self.clock()

    async def _rescan(
        self,
        cur: dict[str, Any],
        open_map: dict[str, str],
    ) -> AsyncIterator[Batch]:
        """One round: at most ``rescan.rows_per_round`` open rows, continuing after the last
        round's position (``rescan_pos``) and wrapping around, so the cost of a round stays
        bounded however many open rows an archive has; each row is read by primary key."""

        def key(k: str) -> tuple[int, Any]:
            return (0, int(k)) if k.lstrip("-").isdigit() else (1, k)

        ordered = sorted(open_map, key=key)
        pos = cur.get("rescan_pos")
        if pos is not None:
            after = [k for k in ordered if key(k) > key(str(pos))]
            ordered = after + [k for k in ordered if k not in set(after)]
        ids = ordered[: self.opts.rescan.rows_per_round]
        round_ = dt.datetime.fromisoformat(cur["rescan_after"]).strftime("%Y%m%dT%H%M%S")
        items: list[RawItem] = []
        # Rows not read this round keep their digest until their turn.
        new_map: dict[str, str] = {k: v for k, v in open_map.items() if k not in set(ids)}
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            typed: list[Any] = [int(i) if i.lstrip("-").isdigit() else i for i in chunk]
            sql = (
                f"SELECT * FROM {self._base()} WHERE {self._id()} IN ({self.db.phs(1, len(typed))})"
            )
            got = await self.db.fetch(sql, typed, charset=self._cs_main())
            rows = {str(_plain(r[self.opts.id_column])): r for r in got}
            responses = await self._responses(typed)
            for rid in chunk:
                row = rows.get(rid)
                if row is None:
                    items.append(
                        self._update_item(rid, f"gone@{round_}", None, [], "legacy_row_deleted")
                    )
                    continue
                resp = responses.get(_plain(row[self.opts.id_column]), [])
                digest = self._digest(row, resp)
                if self._is_open(row):
                    new_map[rid] = digest
                if digest != open_map[rid]:
                    items.append(
                        self._update_item(rid, f"{digest}@{round_}", row, resp, "legacy_update")
                    )
        cur["open"] = new_map
        cur["rescan_pos"] = ids[-1] if ids and len(ordered) > len(ids) else None
        cur["rescan_after"] = (
            self.clock() + dt.timedelta(seconds=self.opts.rescan.interval_s)
        ).isoformat()
        log.info(
            "form_rescan_finished",
            source=self.name,
            open_rows=len(open_map),
            read=len(ids),
            changed=len(items),
        )
        yield Batch(items=items, cursor=dict(cur))

    def _update_item(
        self,
        rid: str,
        version: str,
        row: dict[str, Any] | None,
        responses: list[dict[str, Any]],
        why: str,
    ) -> RawItem:
        status = None if row is None else self._status_raw(row).decode("latin-1")
        # Only what staff wrote: our own write-back rows coming back as news would be applied
        # to the complaint again on every re-scan.
        theirs = self._theirs(responses)
        reason = f"{why}: baris {rid} " + (
            "dihapus di basis data lama"
            if row is None
            else f"status {status!r}, {len(theirs)} tanggapan"
        )
        payload = encode_row(
            self.opts.table or "query",
            rid,
            row or {},
            theirs,
            None,
            kind="update",
            reason=reason,
            deleted=row is None,
            **self._cs_extra(),
        )
        return RawItem(
            source_ref=f"upd:{rid}:{version}",
            payload=payload,
            received_at=self.clock(),
            meta={"kind": why, "row_id": rid, "legacy_status": status, "responses": len(theirs)},
            content_type="application/x-satukanal-form-row+json",
        )

    def _cs_extra(self) -> dict[str, str]:
        """The charsets of a payload's bytes, for the parser (only where the server said a
        table is not the source's default)."""
        extra = {}
        if (cs := self._cs_main()) and cs != self.opts.charset:
            extra["charset"] = cs
        if (cs := self._cs_responses()) and cs != self.opts.charset:
            extra["responses_charset"] = cs
        return extra

    # -- the rest of the protocol ------------------------------------------------------
    async def ack(self, batch: Batch) -> None:
        """Nothing to tell an old form database: it is only read."""

    def parse(self, item: RawItem) -> Parsed:
        doc = decode_payload(item.payload)
        return row_to_draft(self.opts, doc, item.received_at or self.clock())

    def sink(self) -> Sink | None:
        if not self.opts.write_back.enabled:
            return None
        from connectors.forms.writeback import FormDbSink

        return FormDbSink(self.name, self.opts)

    def writer(self) -> FormWriter | None:
        """The write-back into the old tables (its own read-write connection), when enabled."""
        if not self.opts.write_back.enabled:
            return None
        if self._writer is None:
            from connectors.forms.writeback import FormWriter

            self._writer = FormWriter(self.name, self.opts, self.context.timezone)
        return self._writer

    # -- backfill ------------------------------------------------------------------------
    def backfill_cursor(self, cursor: dict[str, Any] | None) -> dict[str, Any]:
        """A backfill reads the archive recording its open rows (``open``) for the live
        re-scan, without running re-scans itself."""
        return {**(cursor or {}), "backfill": True}

    async def count_remaining(self, cursor: dict[str, Any] | None) -> int | None:
        """Rows after the cursor, for a backfill's progress bar (None if it cannot tell)."""
        last = (cursor or {}).get("last_id")
        where = f" WHERE {self._id()} > {self.db.ph(1)}" if last is not None else ""
        try:
            rows = await self.db.fetch(
                f"SELECT COUNT(*) AS n FROM {self._base()}{where}",
                (last,) if last is not None else (),
            )
        except Exception:  # a progress bar without a total is fine
            return None
        return int(rows[0]["n"]) if rows else None

    async def close(self) -> None:
        await self.db.close()
        if self._writer is not None:
            await self._writer.close()
