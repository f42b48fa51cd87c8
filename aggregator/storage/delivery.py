"""SQL of delivery followed to the end: the hand-over marker, auto-reply guards, redelivery."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

import asyncpg

from aggregator.storage.sqlfiles import q


async def begin_send(
    conn: asyncpg.Connection,
    notification_id: uuid.UUID,
    at: dt.datetime,
    address_hash: bytes | None,
    body_hash: bytes | None = None,
) -> tuple[bool, dt.datetime | None]:
    """Mark a hand-over (commit before sending). (row still queued, previous marker)."""
    row = await conn.fetchrow(
        q("begin_notification_send"), notification_id, at, address_hash, body_hash
    )
    if row is None:
        return False, None
    previous: dt.datetime | None = row["previous"]
    return True, previous


@dataclass(frozen=True, slots=True)
class GuardedBegin:
    """``begin_send_guarded``'s answer: the guards' counts (as ``recent_to_address``) and,
    when they let the message go, the marker as ``begin_send`` returns it."""

    recent: int
    identical: int
    began: bool
    previous: dt.datetime | None


async def begin_send_guarded(
    conn: asyncpg.Connection,
    notification_id: uuid.UUID,
    at: dt.datetime,
    address_hash: bytes,
    body_hash: bytes | None,
    *,
    since: dt.datetime,
    identical_since: dt.datetime,
    max_recent: int,
    max_identical: int,
) -> GuardedBegin:
    """``recent_to_address`` and ``begin_send`` in one round trip: the marker is set only
    when fewer than ``max_recent`` hand-overs since ``since`` and fewer than
    ``max_identical`` of the same text since ``identical_since`` went to the address (0: no
    limit)."""
    row = await conn.fetchrow(
        q("begin_notification_send_guarded"),
        notification_id,
        at,
        address_hash,
        body_hash,
        since,
        identical_since,
        max_recent,
        max_identical,
    )
    assert row is not None  # counts is one row, always
    return GuardedBegin(int(row["recent"]), int(row["identical"]), row["began"], row["previous"])


async def skip_batch(
    conn: asyncpg.Connection,
    head: uuid.UUID,
    *,
    channel: str,
    body: bytes | None,
    body_key: str | None,
    reason: str,
) -> None:
    """``body``: the held text, encrypted (it names the reporter)."""
    await conn.execute(q("skip_notification_batch"), head, reason, channel, body, body_key)


async def recent_to_address(
    conn: asyncpg.Connection,
    address_hash: bytes,
    *,
    since: dt.datetime,
    body_hash: bytes | None,
    identical_since: dt.datetime,
    excluding: uuid.UUID,
) -> tuple[int, int]:
    """(hand-overs to the address since ``since``, of the same text since ``identical_since``),
    leaving out ``excluding`` and the failed attempts it redelivers."""
    row = await conn.fetchrow(
        q("count_recent_to_address"), address_hash, since, body_hash, identical_since, excluding
    )
    return int(row["recent"]), int(row["identical"])


@dataclass(frozen=True, slots=True)
class ForRedelivery:
    """A notification as a redelivery reads it."""

    id: uuid.UUID
    complaint_id: uuid.UUID | None
    kind: str
    channel: str
    source: str
    state: str
    detail: str | None
    items: Any
    redelivery_no: int
    retry_of: uuid.UUID | None
    subject: str | None
    body: str | None
    body_enc: bytes | None


@dataclass(frozen=True, slots=True)
class ChainLink:
    """A notification in a redelivery chain."""

    id: uuid.UUID
    channel: str
    source: str
    state: str
    detail: str | None


async def get_for_redelivery(
    conn: asyncpg.Connection, notification_id: uuid.UUID
) -> ForRedelivery | None:
    row = await conn.fetchrow(q("get_notification_for_redelivery"), notification_id)
    return ForRedelivery(**row) if row is not None else None


async def batch_items(conn: asyncpg.Connection, head: uuid.UUID) -> list[dict[str, Any]]:
    """Every item a message carried (its head and the rows merged into it)."""
    out: list[dict[str, Any]] = []
    for r in await conn.fetch(q("list_batch_items"), head):
        if isinstance(r["items"], list):
            out.extend(r["items"])
    return out


async def insert_redelivery(
    conn: asyncpg.Connection,
    *,
    notification_id: uuid.UUID,
    complaint_id: uuid.UUID,
    kind: str,
    channel: str,
    source: str,
    dedup_key: str,
    items: list[dict[str, Any]],
    retry_of: uuid.UUID,
    redelivery_no: int,
) -> bool:
    new = await conn.fetchval(
        q("insert_redelivery"),
        notification_id,
        complaint_id,
        kind,
        channel,
        source,
        dedup_key,
        items,
        retry_of,
        redelivery_no,
    )
    return new is not None


async def redelivery_state(conn: asyncpg.Connection, dedup_key: str) -> str | None:
    row = await conn.fetchrow(q("get_redelivery_by_key"), dedup_key)
    return None if row is None else str(row["state"])


async def chain(conn: asyncpg.Connection, notification_id: uuid.UUID) -> list[ChainLink]:
    """The notification, then each one it redelivered, newest first."""
    return [ChainLink(**r) for r in await conn.fetch(q("list_redelivery_chain"), notification_id)]


async def begin_standalone(
    conn: asyncpg.Connection,
    *,
    notification_id: uuid.UUID,
    kind: str,
    channel: str,
    source: str,
    dedup_key: str,
    body: bytes | None,
    body_key: str | None,
    subject: str | None,
    at: dt.datetime,
    address_hash: bytes | None,
    body_hash: bytes | None,
) -> tuple[bool, dt.datetime | None]:
    """(may send, previous hand-over marker) for a message with no complaint; ``body`` is
    the text encrypted."""
    row = await conn.fetchrow(
        q("begin_standalone_send"),
        notification_id,
        kind,
        channel,
        source,
        dedup_key,
        body,
        subject,
        at,
        address_hash,
        body_key,
        body_hash,
    )
    if row is None:
        return False, None
    previous: dt.datetime | None = row["previous"]
    return True, previous


async def reporter_addresses(conn: asyncpg.Connection, complaint_id: uuid.UUID) -> dict[str, bool]:
    """Which channels the reporter left an address for (``{"email": …, "sms": …}``)."""
    row = await conn.fetchrow(q("get_reporter_addresses"), complaint_id)
    if row is None:
        return {"email": False, "sms": False}
    return {"email": bool(row["email"]), "sms": bool(row["sms"])}


async def clear_send(conn: asyncpg.Connection, notification_id: uuid.UUID) -> None:
    await conn.execute(q("clear_notification_send"), notification_id)
