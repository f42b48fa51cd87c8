"""SQL of the follow-up side: notifications, SLA clocks, the SLA report."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg

from aggregator.crypto import Crypto
from aggregator.redact import redact_text
from aggregator.storage.sqlfiles import q

# -- notifications -----------------------------------------------------------------------------


def safe_detail(detail: str | None) -> str | None:
    """A channel's word on a message as kept in ``notifications.detail``: without the number
    or address it may quote (a gateway's refusal often names whom it was for)."""
    return redact_text(detail) if detail else detail


async def lock_complaint(conn: asyncpg.Connection, complaint_id: uuid.UUID) -> None:
    """Serialise the notifier on one complaint (until the transaction ends)."""
    await conn.execute(q("lock_complaint_notifications"), str(complaint_id))


@dataclass(frozen=True, slots=True)
class NotifyComplaint:
    """What the notifier reads of a complaint, with its reporter's sealed addresses."""

    id: uuid.UUID
    source: str
    channel: str
    title: str | None
    status: str
    agency_id: str | None
    agency_name: str | None
    anonymous: bool
    lapor_tracking_id: str | None
    origin: Any
    solved_asked_at: dt.datetime | None
    duplicate_of: uuid.UUID | None
    name_enc: bytes | None
    email_enc: bytes | None
    phone_enc: bytes | None
    linked_tracking_id: str | None


@dataclass(frozen=True, slots=True)
class FollowupForNotify:
    id: int
    event_id: str | None
    at: dt.datetime
    agency_id: str | None
    agency_name: str | None
    author: str | None
    text: str
    attachments: Any
    label: str
    kind: str


@dataclass(frozen=True, slots=True)
class PendingNotification:
    id: uuid.UUID
    kind: str
    channel: str
    source: str
    items: Any
    merged_into: uuid.UUID | None
    created_at: dt.datetime


async def get_complaint(
    conn: asyncpg.Connection, complaint_id: uuid.UUID
) -> NotifyComplaint | None:
    row = await conn.fetchrow(q("get_notify_complaint"), complaint_id)
    return NotifyComplaint(**row) if row is not None else None


async def lock_and_get_complaint(
    conn: asyncpg.Connection, complaint_id: uuid.UUID
) -> NotifyComplaint | None:
    """``lock_complaint`` and ``get_complaint`` in one round trip (in a transaction)."""
    row = await conn.fetchrow(q("lock_and_get_notify_complaint"), complaint_id, str(complaint_id))
    return NotifyComplaint(**row) if row is not None else None


async def get_followup(
    conn: asyncpg.Connection,
    complaint_id: uuid.UUID,
    *,
    event_id: str | None,
    followup_id: int | None,
) -> FollowupForNotify | None:
    row = await conn.fetchrow(q("get_followup_for_notify"), complaint_id, event_id, followup_id)
    return FollowupForNotify(**row) if row is not None else None


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
        safe_detail(detail),
    )
    return new is not None


async def insert_or_get_notification(
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
) -> str | None:
    """``insert_notification`` in one round trip with the check before it: the state of the
    row the dedup key already had, or None when this row is new (and was inserted)."""
    row = await conn.fetchrow(
        q("insert_or_get_notification"),
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
    assert row is not None
    return None if row["inserted"] else str(row["existing_state"])


async def fix_pending_notifications(
    conn: asyncpg.Connection, complaint_id: uuid.UUID
) -> list[tuple[PendingNotification, bool]]:
    """The complaint's queued notifications, oldest first, those in no batch yet put into
    one (its head the newest of them): each with its batch's head in ``merged_into``, and
    whether it joined that batch just now. One round trip; the caller holds the lock."""
    rows = await conn.fetch(q("fix_pending_notifications"), complaint_id)
    return [
        (PendingNotification(**{k: v for k, v in r.items() if k != "fresh"}), bool(r["fresh"]))
        for r in rows
    ]


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
        safe_detail(detail),
        at,
        body_key,
    )


async def mark_sent_with_event(
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
    complaint_id: uuid.UUID,
    event_kind: str,
    event_data: dict[str, Any],
    sink_ok: tuple[str, str, dt.datetime] | None = None,
) -> None:
    """``mark_sent`` and the complaint's timeline event, in one statement; ``sink_ok``
    (component, sink name, when): the sink took the message, recorded as its success (as
    ``health.record_success`` does)."""
    component, name, ok_at = sink_ok if sink_ok is not None else (None, None, None)
    await conn.execute(
        q("mark_notification_sent_with_event"),
        head,
        state,
        channel,
        body,
        subject,
        external_id,
        detail,
        at,
        body_key,
        complaint_id,
        event_kind,
        event_data,
        component,
        name,
        ok_at,
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
        safe_detail(detail),
        sent_at,
        body_key,
    )


async def notification_state(conn: asyncpg.Connection, dedup_key: str) -> str | None:
    state: str | None = await conn.fetchval(q("get_notification_state"), dedup_key)
    return state


# -- SLA ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SlaCandidate:
    """A complaint whose SLA clocks may move."""

    id: uuid.UUID
    lapor_tracking_id: str | None
    lapor_created_at: dt.datetime | None
    status: str
    status_at: dt.datetime
    agency_id: str | None
    agency_name: str | None
    waiting_on_reporter: bool
    closed_without_real_followup: bool
    reopen_count: int


@dataclass(frozen=True, slots=True)
class SlaHistory:
    """A status change, disposition or response on a complaint's timeline."""

    complaint_id: uuid.UUID
    at: dt.datetime
    kind: str
    status: str | None
    agency_id: str | None
    label: str | None


@dataclass(frozen=True, slots=True)
class SlaClock:
    complaint_id: uuid.UUID
    clock: str
    started_at: dt.datetime
    due_at: dt.datetime
    paused_at: dt.datetime | None
    paused_total: dt.timedelta
    met_at: dt.datetime | None
    breached_at: dt.datetime | None
    agency_id: str | None


@dataclass(frozen=True, slots=True)
class ReportRow:
    """One complaint received in the report's period, with what the report aggregates."""

    id: uuid.UUID
    agency_id: str
    agency_name: str | None
    status: str
    closed_without_real_followup: bool
    reopen_count: int
    assigned_at: dt.datetime | None
    first_substantive_at: dt.datetime | None
    responses: int
    ack_responses: int
    breaches: int
    ever_closed: bool


@dataclass(frozen=True, slots=True)
class Disposition:
    complaint_id: uuid.UUID
    at: dt.datetime
    agency_id: str | None
    agency_name: str | None


@dataclass(frozen=True, slots=True)
class SubstantiveTime:
    complaint_id: uuid.UUID
    at: dt.datetime


async def sla_candidates(
    conn: asyncpg.Connection, after: uuid.UUID, limit: int, touched_since: dt.datetime
) -> list[SlaCandidate]:
    rows = await conn.fetch(q("list_sla_candidates"), after, limit, touched_since)
    return [SlaCandidate(**r) for r in rows]


async def sla_history(conn: asyncpg.Connection, ids: Sequence[uuid.UUID]) -> list[SlaHistory]:
    return [SlaHistory(**r) for r in await conn.fetch(q("list_sla_history"), list(ids))]


async def sla_clocks(conn: asyncpg.Connection, ids: Sequence[uuid.UUID]) -> list[SlaClock]:
    return [SlaClock(**r) for r in await conn.fetch(q("list_sla_clocks"), list(ids))]


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
) -> list[ReportRow]:
    return [ReportRow(**r) for r in await conn.fetch(q("report_sla_complaints"), start, end)]


async def report_dispositions(
    conn: asyncpg.Connection, start: dt.datetime, end: dt.datetime
) -> list[Disposition]:
    return [Disposition(**r) for r in await conn.fetch(q("report_dispositions"), start, end)]


async def report_substantive_times(
    conn: asyncpg.Connection, start: dt.datetime, end: dt.datetime
) -> list[SubstantiveTime]:
    rows = await conn.fetch(q("report_substantive_times"), start, end)
    return [SubstantiveTime(**r) for r in rows]


@dataclass(frozen=True, slots=True)
class ResponseTime:
    complaint_id: uuid.UUID
    at: dt.datetime
    label: str | None


async def report_response_times(
    conn: asyncpg.Connection, start: dt.datetime, end: dt.datetime
) -> list[ResponseTime]:
    rows = await conn.fetch(q("report_response_times"), start, end)
    return [ResponseTime(**r) for r in rows]


async def undelivered(
    conn: asyncpg.Connection, since: dt.datetime, sources: Sequence[str], limit: int
) -> list[Undelivered]:
    """Sent notifications whose delivery is not known yet."""
    rows = await conn.fetch(q("list_undelivered_notifications"), since, list(sources), limit)
    return [Undelivered(**r) for r in rows]


@dataclass(frozen=True, slots=True)
class Undelivered:
    id: uuid.UUID
    source: str


async def set_delivery(
    conn: asyncpg.Connection,
    notification_id: uuid.UUID,
    state: str,
    at: dt.datetime | None,
    detail: str | None,
) -> None:
    await conn.execute(
        q("set_notification_delivery"), notification_id, state, at, safe_detail(detail)
    )
