"""Test helpers for the follow-up side: complaints in the database, LAPOR! events applied
through the real apply path, a Services bundle with a settable clock, a recording sink."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from dataclasses import dataclass, field
from typing import Any

import asyncpg

from aggregator.errors import TransientError
from aggregator.intake.pii import seal
from aggregator.lapor.apply import default_classifier, store_and_apply
from aggregator.lapor.models import LaporEvent
from aggregator.wiring.services import Services
from connectors.base import Origin, OutboundMessage, SendResult
from schemas.complaint import Reporter
from schemas.config import Settings
from tests.support.runtime import make_services as runtime


class Clock:
    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now


def make_services(pool: asyncpg.Pool, clock: Clock, **settings: Any) -> Services:
    return runtime(pool, settings=Settings(demo=True, **settings), clock=clock, queue_clock=clock)


@dataclass
class RecordingSink:
    """A channel's sink as the connectors implement it: it remembers what it sent by
    notification id, so a retried send is not sent twice."""

    fail_times: int = 0
    sent: list[tuple[Origin, OutboundMessage]] = field(default_factory=list)
    attempts: list[str] = field(default_factory=list)

    async def send(self, origin: Origin, message: OutboundMessage) -> SendResult:
        self.attempts.append(message.notification_id)
        if self.fail_times > 0:
            self.fail_times -= 1
            raise TransientError("gateway busy")
        for _o, m in self.sent:
            if m.notification_id == message.notification_id:
                return SendResult(external_id=f"ext-{m.notification_id}", detail="already sent")
        self.sent.append((origin, message))
        return SendResult(external_id=f"ext-{message.notification_id}", detail="accepted")

    async def close(self) -> None:
        return None


async def add_complaint(
    services: Services,
    *,
    channel: str = "email",
    source: str = "mail",
    reporter: Reporter | None = None,
    tracking_id: str | None = "1916449",
    created_at: dt.datetime | None = None,
    agency_id: str | None = None,
    agency_name: str | None = None,
    status: str = "belum_terverifikasi",
    anonymous: bool = False,
    origin: dict[str, Any] | None = None,
    title: str = "Jalan berlubang di Jl. RTA Milono",
) -> uuid.UUID:
    cid = uuid.uuid4()
    created_at = created_at or services.clock() - dt.timedelta(days=1)
    async with services.pool.acquire() as conn, conn.transaction():
        rid = None
        if reporter is not None:
            s = seal(services.crypto, reporter)
            rid = s.id
            await conn.execute(
                "INSERT INTO reporters (id, key_id, name_enc, email_enc, phone_enc, nik_enc,"
                " email_hash, phone_hash, nik_hash, nik_valid)"
                " VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10)",
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
        await conn.execute(
            "INSERT INTO complaints (id, source, channel, reporter_id, title, content, agency_id,"
            " agency_name, anonymous, status, status_at, lapor_tracking_id, lapor_created_at,"
            " origin, received_at)"
            " VALUES ($1,$2,$3,$4,$5,'Jalan rusak parah sejak dua bulan lalu.',$6,$7,$8,$9,$10,"
            " $11,$12,$13,$10)",
            cid,
            source,
            channel,
            rid,
            title,
            agency_id,
            agency_name,
            anonymous,
            status,
            created_at,
            tracking_id,
            created_at if tracking_id else None,
            origin or {},
        )
    return cid


_seq = 0


def event(tracking_id: str, type_: str, at: dt.datetime, **fields: Any) -> LaporEvent:
    global _seq
    _seq += 1
    body: dict[str, Any] = {
        "event_id": f"e-{uuid.uuid4().hex[:10]}-{_seq}",
        "tracking_id": tracking_id,
        "type": type_,
        "at": at.isoformat(),
        **fields,
    }
    return LaporEvent.model_validate({**body, "raw": json.loads(json.dumps(body))})


async def apply_events(services: Services, *events: LaporEvent) -> None:
    """Through the LAPOR! side's real apply path: events stored, complaints updated,
    follow-ups classified, notify jobs enqueued."""
    async with services.pool.acquire() as conn, conn.transaction():
        await store_and_apply(conn, list(events), classify=default_classifier())


async def notify_jobs(pool: asyncpg.Pool) -> list[asyncpg.Record]:
    async with pool.acquire() as conn:
        return list(
            await conn.fetch(
                "SELECT id, payload, complaint_id, state, run_after FROM jobs WHERE kind = 'notify'"
                " ORDER BY id"
            )
        )
