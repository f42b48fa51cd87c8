"""SQL of the legacy-form side on our database: write-back state and the public status page.

(The old form databases themselves are the connector's business; nothing here touches them.)
"""

from __future__ import annotations

import contextlib
import datetime as dt
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import asyncpg

from aggregator.storage.followup import safe_detail
from aggregator.storage.sqlfiles import q


@dataclass(frozen=True)
class WriteBackState:
    complaint_id: uuid.UUID
    source: str
    status: str
    tracking_id: str | None
    origin: dict[str, Any]


@dataclass(frozen=True)
class PublicFollowup:
    at: dt.datetime
    agency_name: str | None
    text: str
    kind: str


@dataclass(frozen=True)
class PublicStatus:
    """What the public status page may show of a complaint: no reporter, no text."""

    complaint_id: uuid.UUID
    status: str
    tracking_id: str | None
    received_at: dt.datetime
    agency_name: str | None
    confidential: bool


async def get_write_back_state(
    conn: asyncpg.Connection, complaint_id: uuid.UUID
) -> WriteBackState | None:
    row = await conn.fetchrow(q("get_write_back_state"), complaint_id)
    if row is None:
        return None
    return WriteBackState(
        complaint_id=row["id"],
        source=row["source"],
        status=row["status"],
        tracking_id=row["lapor_tracking_id"],
        origin=dict(row["origin"] or {}),
    )


@dataclass(frozen=True)
class WriteBackFollowup(PublicFollowup):
    id: int = 0


async def list_followups_for_write_back(
    conn: asyncpg.Connection, complaint_id: uuid.UUID
) -> list[WriteBackFollowup]:
    rows = await conn.fetch(q("list_followups_for_write_back"), complaint_id)
    return [
        WriteBackFollowup(r["at"], r["agency_name"], r["text"], r["kind"], id=r["id"]) for r in rows
    ]


async def lock_write_back(conn: asyncpg.Connection, complaint_id: uuid.UUID) -> None:
    """Serialise write-back of one complaint until the transaction ends."""
    await conn.execute(q("lock_write_back"), str(complaint_id))


@contextlib.asynccontextmanager
async def write_back_locked(
    conn: asyncpg.Connection, complaint_id: uuid.UUID
) -> AsyncIterator[None]:
    """Serialise write-back of one complaint on this connection (no transaction: the ledger
    writes made meanwhile commit at once)."""
    await conn.execute(q("lock_write_back_session"), str(complaint_id))
    try:
        yield
    finally:
        try:
            await conn.execute(q("unlock_write_back"), str(complaint_id))
        except BaseException:
            conn.terminate()  # a connection still holding the lock must not be reused
            raise


async def replayed_legacy_update(
    conn: asyncpg.Connection, source: str, source_ref: str
) -> ReplayedUpdate | None:
    """What a replayed re-scan update became."""
    row = await conn.fetchrow(q("get_replayed_legacy_update"), source, source_ref)
    return ReplayedUpdate(**row) if row is not None else None


@dataclass(frozen=True, slots=True)
class ReplayedUpdate:
    complaint_id: uuid.UUID | None
    reason: str | None


async def mark_form_row_deleted(conn: asyncpg.Connection, complaint_id: uuid.UUID) -> bool:
    """Record ``origin.legacy_row_deleted``; False when it was already recorded."""
    return await conn.fetchval(q("mark_form_row_deleted"), complaint_id) is not None


def _public(row: asyncpg.Record) -> PublicStatus:
    return PublicStatus(
        complaint_id=row["id"],
        status=row["status"],
        tracking_id=row["lapor_tracking_id"],
        received_at=row["received_at"],
        agency_name=row["agency_name"],
        confidential=row["confidential"],
    )


async def find_status_by_receipt(
    conn: asyncpg.Connection, source: str, code: str
) -> PublicStatus | None:
    row = await conn.fetchrow(q("find_status_by_receipt"), source, code)
    return None if row is None else _public(row)


async def find_status_by_tracking_id(
    conn: asyncpg.Connection, tracking_id: str
) -> PublicStatus | None:
    row = await conn.fetchrow(q("find_status_by_tracking_id"), tracking_id)
    return None if row is None else _public(row)


async def list_public_followups(
    conn: asyncpg.Connection, complaint_id: uuid.UUID
) -> list[PublicFollowup]:
    rows = await conn.fetch(q("list_public_followups"), complaint_id)
    return [PublicFollowup(r["at"], r["agency_name"], r["text"], r["kind"]) for r in rows]


async def record_delivery_report(
    conn: asyncpg.Connection, notification_id: str, state: str, detail: str
) -> bool:
    """A gateway's delivery report onto its notification; False when it changed nothing
    (unknown id, or the notification is already past it)."""
    changed = await conn.fetchval(
        q("record_sms_delivery"), notification_id, state, safe_detail(detail)
    )
    return changed is not None


@dataclass(frozen=True)
class FormWrite:
    """One write into an old form table as our ledger holds it (migration 0120)."""

    key: str
    wording: str
    confirmed: bool


async def plan_form_writes(
    conn: asyncpg.Connection, complaint_id: uuid.UUID, wordings: dict[str, str]
) -> dict[str, FormWrite]:
    """Record the wording of each write not yet planned; a key planned before keeps its first
    wording. Every asked key's entry, as recorded."""
    keys = list(wordings)
    rows = await conn.fetch(q("plan_form_writes"), complaint_id, keys, [wordings[k] for k in keys])
    return {
        r["write_key"]: FormWrite(r["write_key"], r["wording"], r["confirmed_at"] is not None)
        for r in rows
    }


async def list_form_writes(
    conn: asyncpg.Connection, complaint_id: uuid.UUID
) -> dict[str, FormWrite]:
    rows = await conn.fetch(q("list_form_writes"), complaint_id)
    return {
        r["write_key"]: FormWrite(r["write_key"], r["wording"], r["confirmed_at"] is not None)
        for r in rows
    }


async def confirm_form_writes(
    conn: asyncpg.Connection, complaint_id: uuid.UUID, keys: list[str]
) -> None:
    if keys:
        await conn.execute(q("confirm_form_writes"), complaint_id, keys)
