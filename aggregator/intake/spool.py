"""A local durable spool for the HTTP intakes while PostgreSQL is away.

The SMS webhook and the form endpoint are pushed to: a gateway that does not retry (many
don't) loses a message answered 500. So ``context.ingest`` of every source goes through
``spooling_ingest``: when the database cannot be reached within ``spool.db_timeout_s`` the
batch is written to ``spool.dir`` (one file per batch, written to a temporary name,
fsynced, renamed, the directory fsynced) and only then is the channel answered as
accepted. ``SpoolDrainer`` ingests the files in arrival order once the database answers
again and removes each one after its transaction committed; an item stored already (the
database was up after all, or a drain was cut off after its commit) is skipped by the
intake's own de-duplication on the channel's id (``source_ref``), so nothing is stored
twice. The spool is bounded (``spool.max_mb``): past it, intakes refuse rather than fill
the disk. A file that cannot be ingested for another reason than the database is moved
to ``failed/`` beside the spool with the reason, for an operator; the drain goes on.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import json
import os
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import asyncpg
import structlog

from aggregator import metrics
from aggregator.errors import ConfigError
from aggregator.redact import redact_text
from connectors.base import Batch, IngestOutcome, RawItem
from schemas.config import Settings

if TYPE_CHECKING:
    from aggregator.crypto import Crypto

log = structlog.get_logger(__name__)

SUFFIX = ".json"  # a batch spooled by a version that wrote them in plaintext
SEALED = ".sealed"  # a batch encrypted with the reporters' keys (what is written now)
SPOOL_FIELD = "spool.batch"
# The database is away (or too slow to wait for): spool instead.
DB_AWAY: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.CannotConnectNowError,
    asyncpg.AdminShutdownError,
    asyncpg.TooManyConnectionsError,
    asyncpg.QueryCanceledError,  # past database.statement_timeout_s: too slow to wait for
)
# After a failure, requests go straight to the spool for this long instead of each
# waiting for the database's timeout.
DOWN_HOLD_S = 1.0

Ingest = Callable[[Batch], Awaitable[IngestOutcome]]


class SpoolFull(Exception):
    """The spool holds ``max_mb`` already: the request is refused."""


def spool_dir(settings: Settings) -> Path:
    return settings.spool.dir or settings.data_dir / "spool"


def _encode(source: str, batch: Batch) -> bytes:
    return json.dumps(
        {
            "v": 1,
            "source": source,
            "cursor": batch.cursor,
            "items": [
                {
                    "source_ref": i.source_ref,
                    "payload": base64.b64encode(i.payload).decode(),
                    "received_at": i.received_at.isoformat() if i.received_at else None,
                    "meta": i.meta,
                    "content_type": i.content_type,
                }
                for i in batch.items
            ],
        },
        ensure_ascii=False,
    ).encode()


def _decode(raw: bytes) -> tuple[str, Batch]:
    doc = json.loads(raw)
    items = [
        RawItem(
            source_ref=i["source_ref"],
            payload=base64.b64decode(i["payload"]),
            received_at=(dt.datetime.fromisoformat(i["received_at"]) if i["received_at"] else None),
            meta=i["meta"],
            content_type=i["content_type"],
        )
        for i in doc["items"]
    ]
    return str(doc["source"]), Batch(items=items, cursor=doc["cursor"])


def _batches(directory: Path) -> list[Path]:
    """The spooled batches in ``directory``, oldest first (names start with the time)."""
    if not directory.is_dir():
        return []
    return sorted(p for p in directory.iterdir() if p.suffix in (SUFFIX, SEALED) and p.is_file())


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Spool:
    """The directory of spooled batches, with its depth kept in memory (and in /metrics).

    A batch is a form post with the reporter's name, NIK and phone, an SMS with its sender:
    personal data at rest, for as long as the outage lasts (and in ``failed/`` until an
    operator acts), so each file is encrypted with the reporters' keys (``crypto``), as the
    database's raw originals are. Files a version before wrote in plaintext are still read,
    and ``satukanal keys rotate`` seals them (:meth:`rotate`)."""

    def __init__(self, directory: Path, *, max_bytes: int, crypto: Crypto | None = None) -> None:
        self.dir = directory
        self.max_bytes = max_bytes
        self.crypto = crypto
        # Made on the first write: a daemon whose database never goes away needs no spool
        # directory (nor the right to make one).
        self._lock = asyncio.Lock()
        self.items, self.bytes = 0, 0
        for path in self.pending():
            self.items += 1
            self.bytes += path.stat().st_size
        self._down_until = 0.0
        self.spooled_total = 0
        self._publish()

    @classmethod
    def from_settings(cls, settings: Settings, crypto: Crypto | None = None) -> Spool:
        return cls(
            spool_dir(settings), max_bytes=int(settings.spool.max_mb * 1024 * 1024), crypto=crypto
        )

    def pending(self) -> list[Path]:
        """Spooled batches, oldest first (the names start with the time they came in)."""
        return _batches(self.dir)

    # -- the database's state as the intakes saw it ----------------------------------------

    def database_away(self) -> bool:
        return time.monotonic() < self._down_until

    def mark_away(self) -> None:
        self._down_until = time.monotonic() + DOWN_HOLD_S

    # -- writing ----------------------------------------------------------------------------

    async def put(self, source: str, batch: Batch) -> Path:
        """Write the batch durably; returns only once it is on disk. ``SpoolFull`` past the
        bound."""
        data = self._seal(_encode(source, batch))
        async with self._lock:
            if self.bytes + len(data) > self.max_bytes:
                metrics.SPOOL_REFUSED.inc()
                raise SpoolFull(f"the spool at {self.dir} holds {self.bytes} bytes already")
            name = f"{time.time_ns():020d}-{uuid.uuid4().hex[:8]}"
            suffix = SEALED if self.crypto is not None else SUFFIX
            path = await asyncio.to_thread(self._write, name, data, suffix)
            self.items += 1
            self.bytes += len(data)
            self.spooled_total += 1
            self._publish()
        return path

    def _seal(self, data: bytes) -> bytes:
        return data if self.crypto is None else self.crypto.encrypt_bytes(SPOOL_FIELD, data)

    def _write(self, name: str, data: bytes, suffix: str, directory: Path | None = None) -> Path:
        directory = directory or self.dir
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = directory / f".{name}.tmp"
        final = directory / f"{name}{suffix}"
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, final)
        _fsync_dir(directory)
        return final

    # -- reading back -----------------------------------------------------------------------

    def load(self, path: Path) -> tuple[str, Batch]:
        """The batch in ``path``; ``ValueError`` when it cannot be read (set aside)."""
        return _decode(self._open(path))

    def _open(self, path: Path) -> bytes:
        raw = path.read_bytes()
        if path.suffix != SEALED:
            return raw
        if self.crypto is None:
            raise ValueError("a sealed spool entry, and no keys to open it")
        try:
            return self.crypto.decrypt_bytes(SPOOL_FIELD, raw)
        except (ConfigError, IndexError) as exc:
            raise ValueError(f"cannot open a sealed spool entry: {exc}") from exc

    def rotate(self) -> int:
        """Every entry, waiting or set aside, encrypted under the newest key (those written in
        plaintext by an older version too); how many were rewritten. For ``keys rotate``:
        an old key may be removed afterwards without losing a spooled message."""
        if self.crypto is None:
            return 0
        done = 0
        failed = self.dir.parent / f"{self.dir.name}-failed"
        for directory in (self.dir, failed):
            for path in _batches(directory):
                raw = path.read_bytes()
                sealed = path.suffix == SEALED
                if sealed and self.crypto.key_id_of(raw) == self.crypto.current_id:
                    continue
                data = self._seal(self._open(path))
                self._write(path.stem, data, SEALED, directory)
                if path.suffix != SEALED:
                    path.unlink()
                done += 1
        if done:
            self.items, self.bytes = 0, 0
            for path in self.pending():
                self.items += 1
                self.bytes += path.stat().st_size
            self._publish()
        return done

    def remove(self, path: Path) -> None:
        size = path.stat().st_size
        path.unlink()
        self.items -= 1
        self.bytes -= size
        self._publish()

    def set_aside(self, path: Path, reason: str) -> Path:
        """An entry the intake refuses for another reason than the database: kept with the
        reason under ``failed/`` beside the spool, out of the drain's way."""
        failed = self.dir.parent / f"{self.dir.name}-failed"
        failed.mkdir(parents=True, exist_ok=True, mode=0o700)
        size = path.stat().st_size
        target = failed / path.name
        os.replace(path, target)
        # The reason is an exception's text, which may quote what the citizen sent.
        (failed / f"{path.stem}.reason.txt").write_text(
            redact_text(reason)[:2000], encoding="utf-8"
        )
        self.items -= 1
        self.bytes -= size
        self._publish()
        return target

    def depth(self) -> dict[str, int]:
        return {"items": self.items, "bytes": self.bytes}

    def _publish(self) -> None:
        metrics.SPOOL_DEPTH.set(self.items)
        metrics.SPOOL_BYTES.set(self.bytes)


def spool_depth(settings: Settings) -> dict[str, Any]:
    """For ``satukanal status`` in another process: what the spool directory holds now."""
    directory = spool_dir(settings)
    if not directory.is_dir():
        return {"dir": str(directory), "items": 0, "bytes": 0}
    files = _batches(directory)
    return {
        "dir": str(directory),
        "items": len(files),
        "bytes": sum(p.stat().st_size for p in files),
    }


def spooling_ingest(ingest: Ingest, spool: Spool, source: str, *, timeout_s: float) -> Ingest:
    """``context.ingest`` for a source: straight to the database when it answers within
    ``timeout_s``, else into the spool (the answer then says ``spooled``)."""

    async def ingest_or_spool(batch: Batch) -> IngestOutcome:
        if not spool.database_away():
            try:
                async with asyncio.timeout(timeout_s):
                    return await ingest(batch)
            except DB_AWAY as exc:
                spool.mark_away()
                log.warning("intake_database_away", source=source, error=repr(exc))
        await spool.put(source, batch)
        log.info("intake_spooled", source=source, items=len(batch.items), spool_items=spool.items)
        return IngestOutcome(spooled=True)

    return ingest_or_spool


class SpoolDrainer:
    """The loop that ingests the spool once the database is back."""

    name = "spool_drain"

    def __init__(
        self,
        services: Any,
        spool: Spool,
        ingest: Callable[[Any, Any, Batch], Awaitable[Any]] | None = None,
    ) -> None:
        self.services = services
        self.spool = spool
        self._ingest = ingest
        self.total = 0

    async def _ingest_one(self, source: Any, batch: Batch) -> None:
        ingest = self._ingest
        if ingest is None:
            from aggregator.intake import ingest as core_ingest

            ingest = core_ingest
        async with asyncio.timeout(self.services.settings.spool.db_timeout_s * 10):
            await ingest(self.services, source, batch)

    async def run_once(self) -> int:
        """Ingest every spooled batch in order; stop at the first sign the database is still
        away. Returns how many batches went in."""
        n = 0
        sources: Mapping[str, Any] = self.services.sources
        for path in self.spool.pending():
            try:
                name, batch = self.spool.load(path)
            except (OSError, ValueError, KeyError, TypeError) as exc:
                self.spool.set_aside(path, f"unreadable spool entry: {exc!r}")
                log.error("spool_entry_unreadable", path=str(path), error=repr(exc))
                continue
            source = sources.get(name)
            if source is None:
                self.spool.set_aside(path, f"source {name!r} is not configured any more")
                log.error("spool_entry_source_unknown", path=str(path), source=name)
                continue
            try:
                await self._ingest_one(source, batch)
            except DB_AWAY as exc:
                log.info("spool_drain_waiting", items=self.spool.items, error=repr(exc))
                break
            except Exception as exc:
                self.spool.set_aside(path, f"ingest failed: {exc!r}")
                log.exception("spool_entry_failed", path=str(path), source=name)
                continue
            self.spool.remove(path)
            n += 1
        if n:
            log.info("spool_drained", batches=n, left=self.spool.items)
            self.total += n
        return n

    async def run(self, stop: asyncio.Event) -> None:
        interval = self.services.settings.spool.drain_interval_s
        while not stop.is_set():
            if self.spool.items:
                await self.run_once()
            try:
                async with asyncio.timeout(interval):
                    await stop.wait()
            except TimeoutError:
                pass
