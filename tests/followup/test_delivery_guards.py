"""Auto-reply loops cut before a message leaves: no SMS to short codes or alphanumeric
senders, at most N messages per address per hour, no identical text sent again and again.
Each held message is recorded as skipped with its reason; the notify jobs run through the
real worker and notifier."""

from __future__ import annotations

import datetime as dt
from typing import Any

import asyncpg

from aggregator.notify.guard import sms_address_problem
from aggregator.notify.handler import make_notify_handler
from aggregator.queue import Worker
from connectors.base import Origin, OutboundMessage, SendResult
from schemas.complaint import Reporter
from schemas.config import NotifyConfig

from .helpers import Clock, RecordingSink, add_complaint, make_services

T0 = dt.datetime(2027, 7, 5, 2, 0, tzinfo=dt.UTC)


async def _usage(services: Any, address: str, text: str, key: str) -> None:
    async with services.pool.acquire() as conn:
        await services.queue.enqueue(
            conn,
            "notify",
            complaint_id=None,
            payload={"event": "usage", "text": text, "source": "sms", "address": address},
            dedup_key=f"usage:{key}",
        )


async def _drain(services: Any, sinks: Any) -> int:
    worker = Worker(services.queue, {"notify": make_notify_handler(services, sinks)})
    total = 0
    while (n := await worker.run_once()) > 0:
        total += n
    return total


async def _rows(pool: asyncpg.Pool) -> list[asyncpg.Record]:
    async with pool.acquire() as conn:
        return list(
            await conn.fetch(
                "SELECT kind, state::text AS state, detail, complaint_id FROM notifications"
                " ORDER BY created_at, id"
            )
        )


def test_short_codes_and_alphanumeric_senders_are_no_phones() -> None:
    assert sms_address_problem("+6281377778888") is None
    assert sms_address_problem("0813 7777 8888") is None
    assert "alphanumeric" in (sms_address_problem("TELKOMSEL") or "")
    assert "alphanumeric" in (sms_address_problem("BNI46") or "")
    assert "short code" in (sms_address_problem("1500") or "")
    assert "short code" in (sms_address_problem("+3636") or "")


async def test_no_answer_to_operator_promotions_and_short_codes(pool: asyncpg.Pool) -> None:
    services = make_services(pool, Clock(T0), notify={"merge_window_s": 0})
    sink = RecordingSink()
    await _usage(services, "TELKOMSEL", "Ketik ANONIM ...", "a")
    await _usage(services, "1500", "Ketik ANONIM ...", "b")
    await _usage(services, "081377778888", "Ketik ANONIM ...", "c")
    assert await _drain(services, {"sms": sink}) == 3
    assert [o.address for o, _m in sink.sent] == ["081377778888"]
    states = [(r["state"], (r["detail"] or "").split(":")[0]) for r in await _rows(pool)]
    assert sorted(states) == sorted(
        [("skipped", "alphanumeric sender"), ("skipped", "short code"), ("sent", "accepted")]
    )


async def test_rate_limit_and_identical_message_loop(pool: asyncpg.Pool) -> None:
    clock = Clock(T0)
    services = make_services(
        pool,
        clock,
        notify={"merge_window_s": 0, "max_per_address_per_hour": 3, "identical_limit": 2},
    )
    sink = RecordingSink()
    # An auto-responder answering every message with the same text: we answer twice, then stop.
    for i in range(4):
        await _usage(services, "081300002222", "Format salah. Ketik ANONIM", f"loop-{i}")
        clock.now += dt.timedelta(minutes=1)
        await _drain(services, {"sms": sink})
    assert len(sink.sent) == 2
    held = [r["detail"] for r in await _rows(pool) if r["state"] == "skipped"]
    assert len(held) == 2 and all(h.startswith("identical-message loop") for h in held)

    # Different texts to one number: at most 3 an hour, counted over the last hour.
    for i in range(5):
        await _usage(services, "081300003333", f"Pesan nomor {i}", f"rate-{i}")
        clock.now += dt.timedelta(minutes=1)
        await _drain(services, {"sms": sink})
    to_3333 = [m.text for o, m in sink.sent if o.address == "081300003333"]
    assert len(to_3333) == 3
    rows = await _rows(pool)
    assert sum(1 for r in rows if (r["detail"] or "").startswith("rate limit")) == 2
    # An hour later the number may hear from us again.
    clock.now += dt.timedelta(hours=1)
    await _usage(services, "081300003333", "Pesan nomor 9", "rate-9")
    await _drain(services, {"sms": sink})
    assert len([1 for o, _m in sink.sent if o.address == "081300003333"]) == 4


async def test_complaint_notifications_count_against_the_same_limit(pool: asyncpg.Pool) -> None:
    clock = Clock(T0)
    services = make_services(
        pool, clock, notify={"merge_window_s": 0, "max_per_address_per_hour": 1}
    )
    sink = RecordingSink()
    cid = await add_complaint(
        services, channel="sms", source="sms", reporter=Reporter(phone="081300004444")
    )
    for ev in ("lapor_pushed", "sunset"):  # one after the other: not merged into one
        async with pool.acquire() as conn:
            await services.queue.enqueue(
                conn, "notify", complaint_id=cid, payload={"event": ev}, dedup_key=f"n:{ev}:{cid}"
            )
        await _drain(services, {"sms": sink})
        clock.now += dt.timedelta(minutes=5)
    assert len(sink.sent) == 1, await _rows(pool)
    async with pool.acquire() as conn:
        events = [
            (r["kind"], r["data"].get("reason", "")[:10])
            for r in await conn.fetch(
                "SELECT kind, data FROM events WHERE complaint_id = $1 ORDER BY id", cid
            )
        ]
    assert ("notification_held", "rate limit") in events


class FullMailbox:
    """A mail relay that answers every attempt "450 4.2.2 mailbox full", as the SMTP sink
    reports it: this attempt failed, waiting may cure it."""

    def __init__(self) -> None:
        self.attempts: list[str] = []

    async def send(self, origin: Origin, message: OutboundMessage) -> SendResult:
        self.attempts.append(message.text)
        return SendResult(delivered=False, detail="the citizen's server deferred it: 450 4.2.2")

    async def close(self) -> None:
        return None


async def test_retries_of_a_failed_message_are_not_a_loop(pool: asyncpg.Pool) -> None:
    """The default policy (two retries) against the default loop guard (the same text at
    most twice): the retries are the same message again, not an auto-responder, so the
    third attempt is made and the fallback by SMS follows."""
    clock = Clock(T0)
    backoff = NotifyConfig().retry_backoff_s
    assert len(backoff) >= NotifyConfig().identical_limit  # the case that used to be cut
    services = make_services(
        pool,
        clock,
        notify={"merge_window_s": 0, "fallback_sources": {"sms": "sms", "email": "mail"}},
        sources=[{"name": "mail", "kind": "maildir"}, {"name": "sms", "kind": "gammu"}],
    )
    mail, sms = FullMailbox(), RecordingSink()
    cid = await add_complaint(
        services,
        source="mail",
        tracking_id="1916490",
        reporter=Reporter(email="penuh@warga.test", phone="081300005555"),
    )
    async with pool.acquire() as conn:
        await services.queue.enqueue(
            conn, "notify", complaint_id=cid, payload={"event": "ack"}, dedup_key=f"ack:{cid}"
        )
    sinks = {"mail": mail, "sms": sms}
    await _drain(services, sinks)
    for wait in backoff:
        clock.now += dt.timedelta(seconds=wait + 1)
        await _drain(services, sinks)
    assert len(mail.attempts) == 1 + len(backoff) and len(set(mail.attempts)) == 1
    assert [o.address for o, _m in sms.sent] == ["081300005555"]
    assert "#1916490" in sms.sent[0][1].text
    rows = await _rows(pool)
    assert [r["state"] for r in rows] == ["failed"] * (1 + len(backoff)) + ["sent"], rows


async def test_a_channel_down_for_every_attempt_falls_back(pool: asyncpg.Pool) -> None:
    """The mail relay is unreachable through every attempt of the notify job: on the last
    one the message fails (it is not left behind a dead job) and goes by SMS at once, the
    queue's backoff having been the retries."""
    clock = Clock(T0)
    services = make_services(
        pool,
        clock,
        notify={"merge_window_s": 0, "fallback_sources": {"sms": "sms", "email": "mail"}},
        queue={"max_attempts": 3, "backoff_base_s": 1.0, "backoff_max_s": 1.0},
        sources=[{"name": "mail", "kind": "maildir"}, {"name": "sms", "kind": "gammu"}],
    )
    mail, sms = RecordingSink(fail_times=100), RecordingSink()
    cid = await add_complaint(
        services,
        source="mail",
        tracking_id="1916491",
        reporter=Reporter(email="warga@warga.test", phone="081300006666"),
    )
    async with pool.acquire() as conn:
        await services.queue.enqueue(
            conn, "notify", complaint_id=cid, payload={"event": "ack"}, dedup_key=f"ack:{cid}"
        )
    sinks = {"mail": mail, "sms": sms}
    for _ in range(4):
        await _drain(services, sinks)
        clock.now += dt.timedelta(seconds=5)
    assert len(mail.attempts) == 3 and mail.sent == []
    assert [o.address for o, _m in sms.sent] == ["081300006666"]
    rows = await _rows(pool)
    assert [r["state"] for r in rows] == ["failed", "sent"], rows
    assert rows[0]["detail"].startswith("channel unreachable through every attempt")
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM jobs WHERE state = 'dead'") == 0
        steps = [
            r["data"]["step"]
            for r in await conn.fetch(
                "SELECT data FROM events WHERE complaint_id = $1"
                " AND kind = 'notification_redelivery_planned'",
                cid,
            )
        ]
    assert steps == ["fallback"]  # the queue's backoff was the retries
