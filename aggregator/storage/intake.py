"""SQL of the intake pipeline: raw items, complaints, reporters, attachments, replies' targets.

Every function runs in the caller's transaction (it takes the connection); the batch shapes
(one list per column, sent through ``unnest``) are the pipeline's, see aggregator/intake/.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg

from aggregator.storage.sqlfiles import q

Columns = Sequence[Sequence[Any]]


@dataclass(frozen=True, slots=True)
class RawRef:
    id: int
    source_ref: str


@dataclass(frozen=True, slots=True)
class HeldRaw:
    """A held raw item: its digest and sealed original (aggregator.intake.sealing)."""

    source_ref: str
    content_hash: bytes | None
    payload: bytes
    payload_key: str | None


@dataclass(frozen=True, slots=True)
class DuplicateCandidate:
    """A stored complaint with the same normalised text, with its reporter's hashes."""

    id: uuid.UUID
    content_hash: bytes
    phone_hash: bytes | None
    email_hash: bytes | None
    nik_hash: bytes | None


@dataclass(frozen=True, slots=True)
class ComplaintRef:
    id: uuid.UUID
    status: str


@dataclass(frozen=True, slots=True)
class OpenByPhone:
    phone_hash: bytes
    id: uuid.UUID
    received_at: dt.datetime


@dataclass(frozen=True, slots=True)
class OpenByEmail:
    email_hash: bytes
    id: uuid.UUID
    received_at: dt.datetime


@dataclass(frozen=True, slots=True)
class PhoneComplaint:
    phone_hash: bytes
    id: uuid.UUID


@dataclass(frozen=True, slots=True)
class FollowonComplaint:
    """What the reply-or-new decision reads of a reporter's open complaint."""

    id: uuid.UUID
    title: str | None
    content: str
    route_category: str | None
    lapor_tracking_id: str | None
    waiting_on_reporter: bool | None
    reporter_id: uuid.UUID | None
    content_hash: bytes | None


@dataclass(frozen=True, slots=True)
class FormRowComplaint:
    """The complaint an old form's row became (locked for its update)."""

    id: uuid.UUID
    status: str
    legacy_status: str | None
    origin: dict[str, Any] | None


@dataclass(frozen=True, slots=True)
class OpenCluster:
    id: uuid.UUID
    category: str
    place: str


def _lists(columns: Columns) -> list[list[Any]]:
    return [list(c) for c in columns]


# Raw items ---------------------------------------------------------------------------------


async def insert_raw_items(
    conn: asyncpg.Connection,
    source: str,
    refs: list[str],
    received_at: list[dt.datetime | None],
    content_types: list[str],
    payloads: list[bytes],
    metas: list[str | None],
    digests: list[bytes],
    key_id: str,
) -> list[RawRef]:
    """The items that were new; held ones are skipped."""
    rows = await conn.fetch(
        q("insert_raw_items"),
        source,
        refs,
        received_at,
        content_types,
        payloads,
        metas,
        digests,
        key_id,
    )
    return [RawRef(**r) for r in rows]


async def insert_quarantined_raw_item(
    conn: asyncpg.Connection,
    source: str,
    ref: str,
    received_at: dt.datetime | None,
    content_type: str,
    payload: bytes,
    meta: Any,
    reason: str,
    key_id: str,
    digest: bytes,
) -> int | None:
    rid: int | None = await conn.fetchval(
        q("insert_quarantined_raw_item"),
        source,
        ref,
        received_at,
        content_type,
        payload,
        meta,
        reason,
        key_id,
        digest,
    )
    return rid


async def set_raw_states(conn: asyncpg.Connection, columns: Columns) -> None:
    """Columns: raw ids, states, reasons, complaint ids."""
    await conn.execute(q("set_raw_states"), *_lists(columns))


async def held_raw_refs(conn: asyncpg.Connection, source: str, refs: list[str]) -> set[str]:
    rows = await conn.fetch(q("find_held_raw_refs"), source, refs)
    return {r["source_ref"] for r in rows}


async def held_raw_digests(conn: asyncpg.Connection, source: str, refs: list[str]) -> list[HeldRaw]:
    """Held items under these refs."""
    return [HeldRaw(**r) for r in await conn.fetch(q("held_raw_digests"), source, refs)]


async def reserve_raw_ids(conn: asyncpg.Connection, n: int) -> tuple[list[int], dt.datetime]:
    """``n`` raw item ids drawn up front and the transaction's time (bulk history import)."""
    got = await conn.fetch(q("reserve_raw_item_ids"), n)
    return [x["id"] for x in got], got[0]["now"]


async def copy_rows(
    conn: asyncpg.Connection, table: str, columns: Sequence[str], records: list[tuple[Any, ...]]
) -> None:
    """COPY ``records`` into one of the tables the bulk history import fills."""
    if table not in _COPY_TABLES:
        raise ValueError(f"bulk copy into {table!r} is not allowed")
    await conn.copy_records_to_table(table, columns=list(columns), records=records)


# Jobs are not among them: every job goes through aggregator.storage.jobs.
_COPY_TABLES = frozenset({"raw_items", "reporters", "complaints", "events"})


# Complaints --------------------------------------------------------------------------------


async def insert_reporters(conn: asyncpg.Connection, columns: Columns) -> None:
    await conn.execute(q("insert_reporters"), *_lists(columns))


async def insert_complaints(
    conn: asyncpg.Connection, source: str, agency: str | None, columns: Columns
) -> None:
    await conn.execute(q("insert_complaints"), source, agency, *_lists(columns))


async def set_resolved_by_reporter(
    conn: asyncpg.Connection, complaint_id: uuid.UUID, resolved: bool
) -> None:
    await conn.execute(q("set_resolved_by_reporter"), complaint_id, resolved)


async def add_attachment(
    conn: asyncpg.Connection,
    complaint_id: uuid.UUID,
    digest: bytes,
    content_type: str,
    data: bytes,
    filename: str | None,
    note: str | None,
) -> None:
    """The bytes once per digest, linked to the complaint."""
    await conn.execute(q("insert_attachment"), digest, content_type, len(data), data)
    await conn.execute(q("link_attachment"), complaint_id, digest, filename, note)


async def insert_events(conn: asyncpg.Connection, columns: Columns) -> None:
    """Columns: complaint ids, kinds, actors, data (JSON text)."""
    await conn.execute(q("insert_events"), *_lists(columns))


async def recent_duplicates(
    conn: asyncpg.Connection, hashes: list[bytes], days: int
) -> list[DuplicateCandidate]:
    """Same-text complaints of the window, oldest first."""
    rows = await conn.fetch(q("find_recent_duplicates"), hashes, days)
    return [DuplicateCandidate(**r) for r in rows]


# What a message answers ------------------------------------------------------------------


def _ref(row: asyncpg.Record | None) -> ComplaintRef | None:
    return ComplaintRef(**row) if row is not None else None


async def complaint_by_id(conn: asyncpg.Connection, cid: uuid.UUID) -> ComplaintRef | None:
    return _ref(await conn.fetchrow(q("find_complaint_by_id"), cid))


async def complaint_by_tracking_id(
    conn: asyncpg.Connection, tracking_id: str
) -> ComplaintRef | None:
    return _ref(await conn.fetchrow(q("find_complaint_by_tracking_id"), tracking_id))


async def complaint_by_thread(conn: asyncpg.Connection, refs: list[str]) -> ComplaintRef | None:
    return _ref(await conn.fetchrow(q("find_complaint_by_thread"), refs))


async def open_complaint_by_reporter_hash(
    conn: asyncpg.Connection,
    phone_hash: bytes | None,
    email_hash: bytes | None,
    days: int,
    closed_too: bool,
) -> ComplaintRef | None:
    row = await conn.fetchrow(
        q("find_open_complaint_by_reporter_hash"), phone_hash, email_hash, days, closed_too
    )
    return _ref(row)


async def open_complaints_by_phone_hashes(
    conn: asyncpg.Connection, hashes: list[bytes], days: int
) -> list[OpenByPhone]:
    """The newest open complaint per phone."""
    rows = await conn.fetch(q("find_open_complaints_by_phone_hashes"), hashes, days)
    return [OpenByPhone(**r) for r in rows]


async def open_complaints_for_phone_hashes(
    conn: asyncpg.Connection, hashes: list[bytes], days: int
) -> list[PhoneComplaint]:
    """Up to three newest open complaints per phone, newest first."""
    rows = await conn.fetch(q("find_open_complaints_for_phone_hashes"), hashes, days)
    return [PhoneComplaint(**r) for r in rows]


async def open_complaints_by_email_hashes(
    conn: asyncpg.Connection, hashes: list[bytes], days: int
) -> list[OpenByEmail]:
    """The newest open complaint per e-mail address."""
    rows = await conn.fetch(q("find_open_complaints_by_email_hashes"), hashes, days)
    return [OpenByEmail(**r) for r in rows]


async def complaint_for_followon(
    conn: asyncpg.Connection, cid: uuid.UUID
) -> FollowonComplaint | None:
    row = await conn.fetchrow(q("find_complaint_for_followon"), cid)
    return FollowonComplaint(**row) if row is not None else None


# Old forms' rows ---------------------------------------------------------------------------


async def complaint_by_form_row(
    conn: asyncpg.Connection, source: str, thread_key: str
) -> FormRowComplaint | None:
    """Locked for the update."""
    row = await conn.fetchrow(q("find_complaint_by_form_row"), source, thread_key)
    return FormRowComplaint(**row) if row is not None else None


async def apply_legacy_form_update(
    conn: asyncpg.Connection, cid: uuid.UUID, status: str | None, origin_patch: dict[str, Any]
) -> None:
    await conn.execute(q("apply_legacy_form_update"), cid, status, origin_patch)


# Routes, bursts ----------------------------------------------------------------------------


async def burst_target_open(
    conn: asyncpg.Connection, target: uuid.UUID, now: dt.datetime, quiet_s: float
) -> bool:
    return await conn.fetchrow(q("find_burst_target"), target, now, quiet_s) is not None


async def extend_burst(
    conn: asyncpg.Connection, target: uuid.UUID, part: str, now: dt.datetime, quiet_s: float
) -> None:
    await conn.execute(q("extend_burst"), target, part, now, quiet_s)


# Clusters ----------------------------------------------------------------------------------


async def find_or_open_clusters(
    conn: asyncpg.Connection,
    categories: list[str],
    places: list[str],
    new_ids: list[uuid.UUID],
    window_s: float,
) -> list[OpenCluster]:
    """The cluster gathering each (category, place) within the window, else one opened with
    the id given (run before the batch's complaints are written)."""
    rows = await conn.fetch(q("find_or_open_clusters"), categories, places, new_ids, window_s)
    return [OpenCluster(**r) for r in rows]


async def count_clusters(conn: asyncpg.Connection, cluster_ids: list[uuid.UUID]) -> None:
    await conn.execute(q("count_clusters"), cluster_ids)


async def delete_raw_item(conn: asyncpg.Connection, raw_id: int) -> None:
    """A quarantined item's row, before it is replayed (its original moves to the new row)."""
    await conn.execute(q("delete_raw_item"), raw_id)
