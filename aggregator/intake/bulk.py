"""Bulk path for archive rows kept as local history: planned in Python, written with COPY.

A backfill of an old form database brings hundreds of thousands of complaints that are
never pushed (the policy keeps them as *history*). For those the general intake path
(:class:`aggregator.intake.Intake`) does more than they need: it inserts raw items, then
updates each one again with its outcome, and moves every column through ``unnest`` with
JSON round trips. Here the outcome is known before the first write, so every row is written
once, with ``COPY`` in binary, into the same four tables and with the same content:

- ``raw_items`` with state ``accepted`` and its complaint,
- ``reporters`` (encrypted, with matching hashes),
- ``complaints`` with status ``history``,
- one ``complaint_ingested`` event each.

Everything that needs judgement still goes through the general path, in the same
transaction: a complaint to push, a possible reply, an item with attachments, a row that
turns out to duplicate an earlier one (it must be linked and the link told), anything
quarantined or ignored. Planning (:func:`plan_history`) is pure CPU work and touches no
connection, so a caller can plan the next batch while PostgreSQL writes the current one;
:func:`write_history` then checks, in the write's transaction, what planning could not know:
which rows are already held and which duplicate a stored complaint.

Archives repeat their reporters (one citizen, many complaints): sealing is cached per
identity, so a repeated identity costs one encryption. The cached ciphertexts are reused
as they are (AES-GCM with a fresh random nonce when first sealed); equal ciphertexts only
reveal what the matching hashes already show, that two complaints share a reporter.
"""

from __future__ import annotations

import uuid
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import asyncpg

from aggregator.intake.normalize import clean_text
from aggregator.intake.pii import SealedReporter, seal
from aggregator.intake.pipeline import (
    COMPLAINT_ROW,
    DUPLICATE_WINDOW_DAYS,
    Intake,
    complaint_row,
    content_hash,
    ingested_event,
)
from aggregator.intake.sealing import seal_meta, seal_payload
from aggregator.storage import intake as repo
from aggregator.storage.db import EncodedJson, json_text
from connectors.base import RawItem
from schemas.complaint import ComplaintDraft, ComplaintStatus, Reporter
from schemas.events import EventKind

if TYPE_CHECKING:
    from aggregator.crypto import Crypto
    from aggregator.intake.routing import Router

RAW_COLUMNS = (
    "id",
    "source",
    "source_ref",
    "received_at",
    "content_type",
    "payload",
    "meta",
    "state",
    "complaint_id",
    "content_hash",
    "payload_key",
)
REPORTER_COLUMNS = (
    "id",
    "key_id",
    "name_enc",
    "email_enc",
    "phone_enc",
    "nik_enc",
    "email_hash",
    "phone_hash",
    "nik_hash",
    "nik_valid",
)
# The planned tuple (shared with the general path), then the batch's two constants.
COMPLAINT_COLUMNS = (*COMPLAINT_ROW, "source", "source_agency")
EVENT_COLUMNS = ("complaint_id", "kind", "at", "actor", "data")


def eligible(draft: ComplaintDraft) -> bool:
    """Whether a complaint kept as history can take the bulk path: not a possible reply
    (that needs a look-up), no attachments (stored content-addressed, one by one) and not
    anonymous (its text is redacted and its original scrubbed on the general path)."""
    return not (
        draft.attachments
        or draft.anonymous
        or draft.origin.get("maybe_reply_by_phone")
        or draft.origin.get("maybe_reply_thread")
    )


class SealCache:
    """Sealed identities by their plaintext, least recently used dropped first."""

    def __init__(self, crypto: Any, size: int = 50_000) -> None:
        self.crypto, self.size = crypto, size
        self._cache: OrderedDict[tuple[Any, ...], SealedReporter] = OrderedDict()

    def seal(self, reporter: Reporter) -> SealedReporter:
        key = (
            self.crypto.current_id,
            reporter.name,
            reporter.email,
            reporter.phone,
            reporter.phone_raw,
            reporter.nik,
            reporter.nik_valid,
        )
        hit = self._cache.get(key)
        if hit is not None:
            self._cache.move_to_end(key)
            return SealedReporter(
                uuid.uuid4(),
                hit.key_id,
                hit.name_enc,
                hit.email_enc,
                hit.phone_enc,
                hit.nik_enc,
                hit.email_hash,
                hit.phone_hash,
                hit.nik_hash,
                hit.nik_valid,
            )
        sealed = seal(self.crypto, reporter)
        self._cache[key] = sealed
        if len(self._cache) > self.size:
            self._cache.popitem(last=False)
        return sealed


class Planning(Protocol):
    """What planning uses of intake (an :class:`Intake`, or a backfill worker's tools)."""

    @property
    def router(self) -> Router: ...

    @property
    def crypto(self) -> Crypto: ...


@dataclass
class HistoryRow:
    """One planned archive complaint; raw id filled in at write time."""

    item: RawItem
    why: str  # the policy's reason, for the summary
    cid: uuid.UUID
    sealed: SealedReporter | None
    chash: bytes
    # COMPLAINT_ROW, raw_item_id still None; its jsonb columns already encoded.
    complaint: tuple[Any, ...]
    event: EncodedJson
    # The raw original as stored: encrypted, its keyed digest, metadata with addresses sealed.
    payload_enc: bytes = b""
    payload_digest: bytes = b""
    meta: EncodedJson | None = None
    payload_key: str | None = None


@dataclass
class HistoryResult:
    written: list[HistoryRow]
    held: int  # already stored: a re-run
    rerouted: list[HistoryRow]  # duplicates of a stored complaint: for the general path


def encoded_json(value: object) -> EncodedJson:
    """``value`` as the jsonb codec would encode it, ready to be sent as it is."""
    return EncodedJson(json_text(value).encode())


_JSONB_COLUMNS = tuple(COMPLAINT_ROW.index(c) for c in ("location", "origin"))


def _encode_json_columns(row: tuple[Any, ...]) -> tuple[Any, ...]:
    out = list(row)
    for i in _JSONB_COLUMNS:
        if out[i] is not None:
            out[i] = encoded_json(out[i])
    return tuple(out)


def plan_history(
    intake: Planning,
    seals: SealCache,
    source: Any,
    rows: list[tuple[RawItem, ComplaintDraft, str]],
) -> list[HistoryRow]:
    """Everything but the writes, for drafts the policy keeps as history. Rows whose text is
    empty after cleaning are left out: the general path quarantines them with a reason.
    JSON is encoded here too (planning may run in a worker process: the writer only
    copies bytes)."""
    cfg = source.cfg
    out: list[HistoryRow] = []
    cleaned = [(item, d, why, clean_text(d.content)) for item, d, why in rows]
    # One model call for the batch (route() below reads the prepared decisions).
    intake.router.prepare([f"{d.title or ''}\n{c}" for _, d, _, c in cleaned if c])
    for item, d, why, content in cleaned:
        if not content:
            continue
        cid = uuid.uuid4()
        sealed = None if d.reporter.is_empty() else seals.seal(d.reporter)
        chash = content_hash(content)
        route = intake.router.route(f"{d.title or ''}\n{content}", cfg.agency)
        status = ComplaintStatus.HISTORY
        complaint = complaint_row(d, content, cid, None, sealed, status, None, chash, route)
        event = ingested_event(source, d, status, route)
        crypto = intake.crypto
        out.append(
            HistoryRow(
                item,
                why,
                cid,
                sealed,
                chash,
                _encode_json_columns(complaint),
                encoded_json(event),
                seal_payload(crypto, item.payload),
                crypto.digest(item.payload),
                encoded_json(seal_meta(crypto, item.meta)),
                crypto.current_id,
            )
        )
    return out


async def write_history(
    conn: asyncpg.Connection, source: Any, rows: list[HistoryRow]
) -> HistoryResult:
    """Write planned rows inside the caller's transaction. Rows already held are skipped;
    rows that duplicate a stored complaint (or an earlier row of this batch) are handed
    back for the general path, which links them."""
    if not rows:
        return HistoryResult([], 0, [])
    held = await repo.held_raw_refs(conn, source.name, [r.item.source_ref for r in rows])
    fresh = [r for r in rows if r.item.source_ref not in held]
    index: dict[bytes, list[Any]] = {}
    for d in await repo.recent_duplicates(
        conn, list({r.chash for r in fresh}), DUPLICATE_WINDOW_DAYS
    ):
        index.setdefault(bytes(d.content_hash), []).append(
            (d.id, d.phone_hash, d.email_hash, d.nik_hash)
        )
    written: list[HistoryRow] = []
    rerouted: list[HistoryRow] = []
    for r in fresh:
        s = r.sealed
        if Intake._find_duplicate(index, r.chash, s) is not None:
            rerouted.append(r)
            continue
        index.setdefault(r.chash, []).append(
            (r.cid, s.phone_hash, s.email_hash, s.nik_hash) if s else (r.cid, None, None, None)
        )
        written.append(r)
    if not written:
        return HistoryResult([], len(rows) - len(fresh), rerouted)
    # Raw ids up front, so each raw item is written once, already pointing at its complaint.
    ids, now = await repo.reserve_raw_ids(conn, len(written))
    await repo.copy_rows(
        conn,
        "raw_items",
        columns=RAW_COLUMNS,
        records=[
            (
                rid,
                source.name,
                r.item.source_ref,
                r.item.received_at,
                r.item.content_type,
                r.payload_enc,
                r.meta,
                "accepted",
                r.cid,
                r.payload_digest,
                r.payload_key,
            )
            for rid, r in zip(ids, written, strict=True)
        ],
    )
    sealed = [r.sealed for r in written if r.sealed is not None]
    if sealed:
        await repo.copy_rows(
            conn,
            "reporters",
            columns=REPORTER_COLUMNS,
            records=[
                (
                    s.id,
                    s.key_id,
                    s.name_enc,
                    s.email_enc,
                    s.phone_enc,
                    s.nik_enc,
                    s.email_hash,
                    s.phone_hash,
                    s.nik_hash,
                    s.nik_valid,
                )
                for s in sealed
            ],
        )
    await repo.copy_rows(
        conn,
        "complaints",
        columns=COMPLAINT_COLUMNS,
        records=[
            (*r.complaint[:2], rid, *r.complaint[3:], source.name, source.cfg.agency)
            for rid, r in zip(ids, written, strict=True)
        ],
    )
    actor = f"source:{source.name}"
    await repo.copy_rows(
        conn,
        "events",
        columns=EVENT_COLUMNS,
        records=[(r.cid, EventKind.COMPLAINT_INGESTED, now, actor, r.event) for r in written],
    )
    return HistoryResult(written, len(rows) - len(fresh), rerouted)
