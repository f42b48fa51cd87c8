"""A send whose answer was lost (Kannel's or an SMTP relay's timeout: ``InDoubtError``) is
not sent again to a channel that cannot recognise a resend; a send refused before anything
left (``TransientError``) is. Both for complaint notifications and for the standalone usage
answer. (The SIGKILL variant runs against real Postfix and gammu-smsd in tests/email and
tests/sms.)"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import asyncpg

from aggregator.errors import InDoubtError, TransientError
from aggregator.notify.handler import IN_DOUBT, make_notify_handler
from aggregator.queue import Worker
from connectors.base import Origin, OutboundMessage, SendResult
from schemas.complaint import Reporter

from .helpers import Clock, add_complaint, make_services

T0 = dt.datetime(2027, 7, 5, 2, 0, tzinfo=dt.UTC)


@dataclass
class FlakyGateway:
    """A gateway that cannot be asked what it already sent (like Kannel): each call is a new
    SMS. ``fail_with`` is raised once, after (InDoubtError) or instead of sending."""

    fail_with: type[Exception] | None = None
    sent: list[OutboundMessage] = field(default_factory=list)

    async def send(self, origin: Origin, message: OutboundMessage) -> SendResult:
        if self.fail_with is TransientError:
            self.fail_with = None
            raise TransientError("gateway unreachable")
        self.sent.append(message)
        if self.fail_with is InDoubtError:
            self.fail_with = None
            raise InDoubtError("gateway did not answer; the SMS may have gone")
        return SendResult(detail="accepted")

    async def close(self) -> None:
        return None


async def _run_all(services: Any, sink: Any, clock: Clock) -> None:
    worker = Worker(services.queue, {"notify": make_notify_handler(services, {"sms": sink})})
    for _ in range(5):
        await worker.run_once()
        clock.now += dt.timedelta(minutes=30)  # past any retry backoff


async def _states(pool: asyncpg.Pool) -> list[tuple[str, str | None, int]]:
    async with pool.acquire() as conn:
        return [
            (r["state"], r["detail"], r["attempts"])
            for r in await conn.fetch(
                "SELECT state::text, detail, attempts FROM notifications ORDER BY created_at"
            )
        ]


async def test_in_doubt_complaint_notification_is_not_sent_twice(pool: asyncpg.Pool) -> None:
    clock = Clock(T0)
    services = make_services(pool, clock, notify={"merge_window_s": 0})
    sink = FlakyGateway(fail_with=InDoubtError)
    cid = await add_complaint(
        services, channel="sms", source="sms", reporter=Reporter(phone="081300005555")
    )
    async with pool.acquire() as conn:
        await services.queue.enqueue(
            conn, "notify", complaint_id=cid, payload={"event": "lapor_pushed"}, dedup_key="n:ack"
        )
    await _run_all(services, sink, clock)
    assert len(sink.sent) == 1
    assert await _states(pool) == [("sent", IN_DOUBT, 2)]


async def test_refused_before_sending_is_sent_on_the_retry(pool: asyncpg.Pool) -> None:
    clock = Clock(T0)
    services = make_services(pool, clock, notify={"merge_window_s": 0})
    sink = FlakyGateway(fail_with=TransientError)
    cid = await add_complaint(
        services, channel="sms", source="sms", reporter=Reporter(phone="081300006666")
    )
    async with pool.acquire() as conn:
        await services.queue.enqueue(
            conn, "notify", complaint_id=cid, payload={"event": "lapor_pushed"}, dedup_key="n:ack"
        )
    await _run_all(services, sink, clock)
    assert len(sink.sent) == 1
    assert await _states(pool) == [("sent", "accepted", 2)]


async def test_in_doubt_usage_answer_is_not_sent_twice(pool: asyncpg.Pool) -> None:
    clock = Clock(T0)
    services = make_services(pool, clock, notify={"merge_window_s": 0})
    sink = FlakyGateway(fail_with=InDoubtError)
    async with pool.acquire() as conn:
        await services.queue.enqueue(
            conn,
            "notify",
            complaint_id=None,
            dedup_key="usage:x",
            payload={
                "event": "usage",
                "text": "Ketik ANONIM",
                "source": "sms",
                "address": "081300007777",
            },
        )
    await _run_all(services, sink, clock)
    assert len(sink.sent) == 1
    assert await _states(pool) == [("sent", IN_DOUBT, 2)]
