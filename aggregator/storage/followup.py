"""SQL of the follow-up side: notifications, SLA clocks, the SLA report."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from typing import Any

import asyncpg

from aggregator.crypto import Crypto
from aggregator.storage.sqlfiles import q

# -- notifications -----------------------------------------------------------------------------


async def lock_complaint(conn: asyncpg.Connection, complaint_id: uuid.UUID) -> None:
    """Serialise the notifier on one complaint (until the transaction ends)."""
    await conn.execute(q("lock_complaint_notifications"), str(complaint_id))


async def get_complaint(conn: asyncpg.Connection, complaint_id: uuid.UUID) -> asyncpg.Record | None:
    row: asyncpg.Record | None = await conn.fetchrow(q("get_notify_complaint"), complaint_id)
    return row


async def linked_duplicates(
    conn: asyncpg.Connection, complaint_id: uuid.UUID
) -> list[asyncpg.Record]:
    return list(await conn.fetch(q("list_linked_duplicates"), complaint_id))


async def get_followup(
    conn: asyncpg.Connection,
    complaint_id: uuid.UUID,
    *,
    event_id: str | None,
    followup_id: int | None,
) -> asyncpg.Record | None:
    row: asyncpg.Record | None = await conn.fetchrow(
        q("get_followup_for_notify"), complaint_id, event_id, followup_id
    )
    return row


async def insert_notification(
    conn: asyncpg.Connection,
    *,
    notification_id: uuid.UUID,
    complaint_id: uuid.UUID | None,
    kind: str,
    channel: str,
    source: str,
    dedup_key: str,
    items: list[dict[str, Any]],
    state: str = "queued",
    detail: str | None = None,
) -> bool:
    """True when the row is new; False when the dedup key already had one."""
    new = await conn.fetchval(
        q("insert_notification"),
        notification_id,
        complaint_id,
        kind,
        channel,
        source,
        dedup_key,
        items,
        state,
        detail,
    )
    return new is not None


async def get_notification(conn: asyncpg.Connection, dedup_key: str) -> asyncpg.Record | None:
    row: asyncpg.Record | None = await conn.fetchrow(q("get_notification_by_key"), dedup_key)
    return row


async def pending_notifications(
    conn: asyncpg.Connection, complaint_id: uuid.UUID
) -> list[asyncpg.Record]:
    return list(await conn.fetch(q("list_pending_notifications"), complaint_id))


async def assign_batch(conn: asyncpg.Connection, ids: Sequence[uuid.UUID], head: uuid.UUID) -> None:
    await conn.execute(q("assign_notification_batch"), list(ids), head)


async def mark_sent(
    conn: asyncpg.Connection,
    head: uuid.UUID,
    *,
    state: str,
    channel: str,
    body: bytes | None,
    body_key: str | None,
    subject: str | None,
    external_id: str | None,
    detail: str | None,
    at: dt.datetime,
) -> None:
    """``body`` is the message as sent, encrypted (it names the reporter)."""
    await conn.execute(
        q("mark_notification_sent"),
        head,
        state,
        channel,
        body,
        subject,
        external_id,
        detail,
        at,
        body_key,
    )


async def mark_skipped(conn: asyncpg.Connection, notification_id: uuid.UUID, reason: str) -> None:
    await conn.execute(q("mark_notification_skipped"), notification_id, reason)


async def has_queued_flush(conn: asyncpg.Connection, complaint_id: uuid.UUID) -> bool:
    return bool(await conn.fetchval(q("has_queued_flush"), complaint_id))


async def set_solved_asked(
    conn: asyncpg.Connection, complaint_id: uuid.UUID, at: dt.datetime
) -> bool:
    return await conn.fetchval(q("set_solved_asked"), complaint_id, at) is not None


async def notifications_for(
    conn: asyncpg.Connection, complaint_id: uuid.UUID, crypto: Crypto | None = None
) -> list[dict[str, Any]]:
    """A complaint's notifications; with ``crypto``, ``body`` is the decrypted text."""
    rows = [dict(r) for r in await conn.fetch(q("list_notifications_for_complaint"), complaint_id)]
    if crypto is not None:
        from aggregator.intake.sealing import open_body

        for r in rows:
            r["body"] = open_body(crypto, r)
    return rows


async def record_standalone(
    conn: asyncpg.Connection,
    *,
    notification_id: uuid.UUID,
    complaint_id: uuid.UUID | None,
    kind: str,
    channel: str,
    source: str,
    dedup_key: str,
    state: str,
    subject: str | None,
    body: bytes | None,
    body_key: str | None,
    external_id: str | None,
    detail: str | None,
    sent_at: dt.datetime | None,
) -> None:
    await conn.execute(
        q("insert_standalone_notification"),
        notification_id,
        complaint_id,
        kind,
        channel,
        source,
        dedup_key,
        state,
        subject,
        body,
        external_id,
        detail,
        sent_at,
        body_key,
    )


async def notification_state(conn: asyncpg.Connection, dedup_key: str) -> str | None:
    state: str | None = await conn.fetchval(q("get_notification_state"), dedup_key)
    return state


# -- SLA ---------------------------------------------------------------------------------------


async def sla_candidates(
    conn: asyncpg.Connection, after: uuid.UUID, limit: int, touched_since: dt.datetime
) -> list[asyncpg.Record]:
    return list(await conn.fetch(q("list_sla_candidates"), after, limit, touched_since))


async def sla_history(conn: asyncpg.Connection, ids: Sequence[uuid.UUID]) -> list[asyncpg.Record]:
    return list(await conn.fetch(q("list_sla_history"), list(ids)))


async def sla_clocks(conn: asyncpg.Connection, ids: Sequence[uuid.UUID]) -> list[asyncpg.Record]:
    return list(await conn.fetch(q("list_sla_clocks"), list(ids)))


async def upsert_clocks(conn: asyncpg.Connection, rows: Sequence[tuple[Any, ...]]) -> None:
    if rows:
        await conn.executemany(q("upsert_sla_clock"), rows)


async def set_followup_flags(
    conn: asyncpg.Connection, rows: Sequence[tuple[uuid.UUID, bool, int]]
) -> None:
    if rows:
        await conn.executemany(q("set_followup_flags"), rows)


async def report_rows(
    conn: asyncpg.Connection, start: dt.datetime, end: dt.datetime
) -> list[asyncpg.Record]:
    return list(await conn.fetch(q("report_sla_complaints"), start, end))


async def report_dispositions(
    conn: asyncpg.Connection, start: dt.datetime, end: dt.datetime
) -> list[asyncpg.Record]:
    return list(await conn.fetch(q("report_dispositions"), start, end))


async def report_substantive_times(
    conn: asyncpg.Connection, start: dt.datetime, end: dt.datetime
) -> list[asyncpg.Record]:
    return list(await conn.fetch(q("report_substantive_times"), start, end))


async def report_response_times(
    conn: asyncpg.Connection, start: dt.datetime, end: dt.datetime
) -> list[asyncpg.Record]:
    return list(await conn.fetch(q("report_response_times"), start, end))


async def undelivered(
    conn: asyncpg.Connection, since: dt.datetime, sources: Sequence[str], limit: int
) -> list[asyncpg.Record]:
    return list(await conn.fetch(q("list_undelivered_notifications"), since, list(sources), limit))


async def set_delivery(
    conn: asyncpg.Connection,
    notification_id: uuid.UUID,
    state: str,
    at: dt.datetime | None,
    detail: str | None,
) -> None:
    await conn.execute(q("set_notification_delivery"), notification_id, state, at, detail)
