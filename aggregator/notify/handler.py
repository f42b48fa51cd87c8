"""The ``notify`` job: tell the citizen, on their own channel, what happened to their report.

A notify job (payload ``{"event": <kind>, …}``) becomes one *pending* notification row
holding the event's item; a ``flush`` job, enqueued ``notify.merge_window_s`` later, sends
every pending item of the complaint as one message (a burst — verified, assigned, answered
within a minute — reaches the citizen once). With a window of 0 the job flushes at once.

Each message has a stable id (the head row's uuid, derived from the event's dedup key), so
a retried send is recognisable by the sink (Gammu's CreatorID, the e-mail Message-ID). The
batch a message carries is fixed *before* sending, so a retry resends the same message.

Only complaints with a Tracking ID are notified (``usage`` and ``sunset`` excepted); status
changes a citizen does not care about are recorded as skipped. Anonymous reporters hear
back too: anonymity hides them from LAPOR! and agencies, not from us. Without a sink or an
address the message is kept for the status page (channel ``web``).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

import asyncpg
import structlog
from prometheus_client import Counter

from aggregator.errors import (
    AuthError,
    ConfigError,
    InDoubtError,
    PermanentError,
    TransientError,
)
from aggregator.health import record
from aggregator.intake.sealing import job_address, seal_body
from aggregator.notify import guard, redeliver
from aggregator.notify.render import Item, channel_of, local_time, render
from aggregator.storage import conversations
from aggregator.storage import delivery as drepo
from aggregator.storage import followup as repo
from aggregator.storage.events import append_event
from connectors.base import Origin, OutboundMessage, Sink, resend_is_safe
from schemas.events import EventKind, Job, JobKind, NotificationKind

if TYPE_CHECKING:
    from aggregator.wiring.services import Services

log = structlog.get_logger(__name__)

NOTIFICATIONS = Counter(
    "satukanal_notifications_total", "Notifications by channel and outcome", ["channel", "outcome"]
)
NAMESPACE = uuid.UUID("5b1f9a52-7c7e-4f0e-9d55-4c4150f0a7e1")

# The status changes a citizen is told about. ``diproses`` and ``ditindaklanjuti`` are not:
# the agency's response itself is the news.
STATUSES_THAT_MATTER = frozenset(
    {"terverifikasi", "terdisposisi", "tertunda", "arsip", "bukan_wewenang", "selesai", "dihapus"}
)
ALIASES: dict[str, str] = {
    "lapor_pushed": NotificationKind.ACK,
    "pushed": NotificationKind.ACK,
    "status": NotificationKind.STATUS_CHANGED,
    "response": NotificationKind.RESPONSE_POSTED,
    "info_request": NotificationKind.INFO_REQUESTED,
    "linked": NotificationKind.COMPLAINT_LINKED,
}
SINK_KIND: dict[str, str] = {
    NotificationKind.ACK: "ack",
    NotificationKind.STATUS_CHANGED: "status",
    NotificationKind.RESPONSE_POSTED: "response",
    NotificationKind.INFO_REQUESTED: "info_request",
    NotificationKind.SOLVED_QUESTION: "solved_question",
    NotificationKind.USAGE: "usage",
    NotificationKind.SUNSET: "sunset",
    NotificationKind.COMPLAINT_LINKED: "linked",
}
NEEDS_NO_TRACKING_ID = frozenset(
    {NotificationKind.USAGE, NotificationKind.SUNSET, NotificationKind.COMPLAINT_LINKED}
)
# News also sent to the reporters of duplicates linked to the complaint.
FAN_OUT = frozenset(
    {NotificationKind.STATUS_CHANGED, NotificationKind.DELETED, NotificationKind.RESPONSE_POSTED}
)

Handler = Callable[[Job], Awaitable[None]]
_Batches = dict[uuid.UUID, list[repo.PendingNotification]]
IN_DOUBT = (
    "in doubt: the notifier stopped after handing this message to the channel, which "
    "cannot recognise a resend; not sent again, so the citizen gets it at most once"
)


def notification_id(dedup_key: str) -> uuid.UUID:
    return uuid.uuid5(NAMESPACE, dedup_key)


def status_url(settings: Any, tracking_id: str | None) -> str | None:
    """The citizen's status page for a Tracking ID (``http.public_base_url`` + ``/status/<id>``)."""
    base = settings.http.public_base_url
    if base is None or not tracking_id:
        return None
    return f"{str(base).rstrip('/')}/status/{tracking_id}"


def make_notify_handler(services: Services, sinks: Mapping[str, Sink]) -> Handler:
    """The ``notify`` job handler; ``sinks`` by source name (the core builds them)."""
    return Notifier(services, sinks).handle


class Notifier:
    def __init__(self, services: Services, sinks: Mapping[str, Sink]) -> None:
        self.services = services
        self.settings = services.settings
        self.pool: asyncpg.Pool = services.pool
        self.sinks = sinks
        # Per complaint: the flushes of this process, one at a time (see _in_order).
        self._flushing: dict[uuid.UUID, tuple[asyncio.Lock, int]] = {}

    def _now(self) -> dt.datetime:
        now: dt.datetime = self.services.clock()
        return now

    async def handle(self, job: Job) -> None:
        event = str(job.payload.get("event") or "")
        event = ALIASES.get(event, event)
        if job.complaint_id is None:
            await self._standalone(job, event)
            return
        last = self._last_attempt(job)
        if event == "flush":
            await self.flush(job.complaint_id, last_attempt=last)
            return
        if event == "redeliver":
            await self.redeliver(
                job.complaint_id,
                uuid.UUID(str(job.payload["notification_id"])),
                last_attempt=last,
            )
            return
        if event not in SINK_KIND and event != "deleted":
            raise PermanentError(f"unknown notify event {event!r}")
        window = self.settings.notify.merge_window_s
        # The complaint's jobs in this process one at a time, from storing the item to
        # having sent it, in the order they were claimed (the lock is the first thing the
        # handler waits for, and consumers take jobs in claim order): a burst's jobs run
        # concurrently, and the second event's message must not reach the citizen first.
        async with self._in_order(job.complaint_id):
            async with self.pool.acquire() as conn:
                async with conn.transaction():
                    targets = await self._enqueue_items(conn, job, event, window)
                # Without a merge window, flushed now on the same connection: what other
                # jobs of the complaint stored meanwhile goes in the same message.
                if job.complaint_id in targets:
                    await self._flush_held(conn, job.complaint_id, last_attempt=last)
        # Linked duplicates' reporters, each under its own complaint's turn (never two
        # turns held at once).
        others = [t for t in targets if t != job.complaint_id]
        if others:
            async with self.pool.acquire() as conn:
                for target in others:
                    await self._flush(conn, target, last_attempt=last)

    async def _enqueue_items(
        self, conn: asyncpg.Connection, job: Job, event: str, window: float
    ) -> list[uuid.UUID]:
        """The event's item stored as a pending notification (and for the reporters of
        linked duplicates), in the caller's transaction; the complaints to flush now (none
        with a merge window: their flush is scheduled)."""
        assert job.complaint_id is not None
        c = await repo.lock_and_get_complaint(conn, job.complaint_id)
        if c is None:
            raise PermanentError(f"complaint {job.complaint_id} does not exist")
        key, items, skip = await self._items(conn, c, event, job)
        dedup = f"{event}:{c.id}:{key}"
        channel = self._channel(c)
        # Stored unless the key has its row already (a redelivered job).
        existing = await repo.insert_or_get_notification(
            conn,
            notification_id=notification_id(dedup),
            complaint_id=c.id,
            kind=event,
            channel=channel,
            source=c.source,
            dedup_key=dedup,
            items=[{**asdict(i), "seq": job.id} for i in items],
            state="skipped" if skip else "queued",
            detail=skip,
        )
        if existing is not None and existing != "queued":
            return []  # handled before
        if skip:
            log.info("notification_skipped", complaint_id=str(c.id), kind=event, reason=skip)
            NOTIFICATIONS.labels(channel=channel, outcome="skipped").inc()
            return []
        targets = [c.id]
        if existing is None and event in FAN_OUT:
            # Reporters whose complaint was linked to this one as a duplicate were told
            # they would hear its progress: the same news goes to each of them.
            # One person, one message per event: a duplicate from a reporter already
            # told (the original's, or an earlier duplicate's keyed hashes) gets none.
            shared = [{**asdict(i), "seq": job.id} for i in items if i.event != "solved_question"]
            told = await conversations.reporter_identity(conn, c.id)
            for d in await conversations.linked_duplicates(conn, c.id):
                d_dedup = f"{dedup}:for:{d.id}"
                who = conversations.identity_of(d)
                same_person = bool(who & told)
                told |= who
                if (
                    await repo.insert_notification(
                        conn,
                        notification_id=notification_id(d_dedup),
                        complaint_id=d.id,
                        kind=event,
                        channel=channel_of(str(d.channel)),
                        source=d.source,
                        dedup_key=d_dedup,
                        items=shared,
                        state="skipped" if same_person else "queued",
                        detail="the same reporter is told through the linked report"
                        if same_person
                        else None,
                    )
                    and not same_person
                ):
                    targets.append(d.id)
        if window > 0:
            for target in targets:
                await self._schedule_flush(conn, target, window)
            return []
        return targets

    def _last_attempt(self, job: Job) -> bool:
        """Whether the queue makes this job dead if this attempt fails: out of attempts
        (``fail_job``). Its other rule, age, is not followed: with a backoff capped at
        ``backoff_max_s`` a notify job runs out of attempts within hours, long before."""
        return job.attempts >= self.settings.queue.max_attempts

    async def _schedule_flush(
        self, conn: asyncpg.Connection, complaint_id: uuid.UUID, window: float
    ) -> None:
        if not await repo.has_queued_flush(conn, complaint_id):
            await self.services.queue.enqueue(
                conn,
                JobKind.NOTIFY,
                complaint_id=complaint_id,
                payload={"event": "flush"},
                dedup_key=f"notify-flush:{complaint_id}:{uuid.uuid4()}",
                run_after=self._now() + dt.timedelta(seconds=window),
            )

    # -- what to say ----------------------------------------------------------------------------

    async def _items(
        self, conn: asyncpg.Connection, c: repo.NotifyComplaint, event: str, job: Job
    ) -> tuple[str, list[Item], str | None]:
        """(dedup key part, items, skip reason)."""
        p = job.payload
        tracking = c.lapor_tracking_id
        if tracking is None and event not in NEEDS_NO_TRACKING_ID:
            # The push has not finished yet; the citizen first hears the Tracking ID.
            raise TransientError("complaint has no Tracking ID yet", retry_after=60)
        if event in (NotificationKind.STATUS_CHANGED, NotificationKind.DELETED):
            status = (
                "dihapus" if event == NotificationKind.DELETED else str(p.get("status") or c.status)
            )
            key = str(p.get("event_id") or f"status:{status}")
            if status not in STATUSES_THAT_MATTER:
                return key, [], f"status {status} is not news to a citizen"
            # The agency the event named at that moment; jobs enqueued before payloads
            # carried it fall back to the complaint's row.
            agency = p["agency_name"] if "agency_name" in p else c.agency_name
            items = [
                Item(NotificationKind.STATUS_CHANGED, {"status": status, "agency_name": agency})
            ]
            if status == "selesai" and c.solved_asked_at is None:
                # Asked once, right after the closure, in the same message.
                if await repo.set_solved_asked(conn, c.id, self._now()):
                    items.append(Item(NotificationKind.SOLVED_QUESTION))
            return key, items, None
        if event in (NotificationKind.RESPONSE_POSTED, NotificationKind.INFO_REQUESTED):
            f = await repo.get_followup(
                conn, c.id, event_id=p.get("event_id"), followup_id=p.get("followup_id")
            )
            if f is None:
                if p.get("text"):
                    return (
                        str(p.get("event_id") or job.id),
                        [
                            Item(
                                event,
                                {
                                    "text": p["text"],
                                    "agency_name": p.get("agency_name"),
                                    "at_local": None,
                                    "attachments": 0,
                                },
                            )
                        ],
                        None,
                    )
                raise TransientError("follow-up not stored yet", retry_after=30)
            attachments = f.attachments if isinstance(f.attachments, list) else []
            return (
                str(f.event_id or f.id),
                [
                    Item(
                        event,
                        {
                            "text": f.text,
                            "agency_name": f.agency_name
                            or (p["agency_name"] if "agency_name" in p else c.agency_name),
                            "at_local": local_time(f.at, self.settings.sla.timezone),
                            "attachments": len(attachments),
                        },
                    )
                ],
                None,
            )
        if event == NotificationKind.SOLVED_QUESTION:
            if c.solved_asked_at is not None:
                return "once", [], "already asked whether it is solved"
            await repo.set_solved_asked(conn, c.id, self._now())
            return "once", [Item(NotificationKind.SOLVED_QUESTION)], None
        if event == NotificationKind.COMPLAINT_LINKED:
            linked = c.linked_tracking_id
            if linked is None:
                raise TransientError("the linked complaint has no Tracking ID yet", retry_after=60)
            return (
                "once",
                [Item(NotificationKind.COMPLAINT_LINKED, {"linked_tracking_id": linked})],
                None,
            )
        if event == NotificationKind.USAGE:
            text = str(p.get("text") or "")
            return str(job.id), [Item(NotificationKind.USAGE, {"text": text})], None
        return "once", [Item(event)], None  # ack, sunset

    def _channel(self, c: repo.NotifyComplaint) -> str:
        # WhatsApp messages read like the status page's (no SMS length limit) but are
        # counted, and addressed, as WhatsApp.
        return "whatsapp" if str(c.channel) == "whatsapp" else channel_of(str(c.channel))

    # -- sending ---------------------------------------------------------------------------------

    async def flush(self, complaint_id: uuid.UUID, *, last_attempt: bool = False) -> int:
        """Send every pending notification of a complaint; returns messages sent.
        ``last_attempt``: the job's last, so a channel still unreachable fails the message
        (and the redelivery policy falls back) instead of leaving it with a dead job."""
        async with self.pool.acquire() as conn:
            return await self._flush(conn, complaint_id, last_attempt=last_attempt)

    async def _flush(
        self, conn: asyncpg.Connection, complaint_id: uuid.UUID, *, last_attempt: bool
    ) -> int:
        async with self._in_order(complaint_id):
            return await self._flush_held(conn, complaint_id, last_attempt=last_attempt)

    async def _flush_held(
        self, conn: asyncpg.Connection, complaint_id: uuid.UUID, *, last_attempt: bool
    ) -> int:
        """``_flush`` for a caller that holds the complaint's turn (``_in_order``)."""
        async with conn.transaction():
            c = await repo.lock_and_get_complaint(conn, complaint_id)
            if c is None:
                return 0
            batches = await self._fix_batches(conn, complaint_id)
        return await self._send_batches(conn, c, batches, last_attempt=last_attempt)

    @contextlib.asynccontextmanager
    async def _in_order(self, complaint_id: uuid.UUID) -> AsyncIterator[None]:
        """The notify jobs and flushes of one complaint in this process one at a time, in
        the order they came, from storing or fixing a message to having sent it: jobs of
        one burst run concurrently, and a message fixed first must not be overtaken by the
        next on its way out. (Its waiters hold no lock the holder needs: the complaint's
        database lock is taken inside.)"""
        lock, users = self._flushing.get(complaint_id, (asyncio.Lock(), 0))
        self._flushing[complaint_id] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._flushing[complaint_id]
            if users <= 1:
                del self._flushing[complaint_id]
            else:
                self._flushing[complaint_id] = (lock, users - 1)

    async def _fix_batches(self, conn: asyncpg.Connection, complaint_id: uuid.UUID) -> _Batches:
        """The complaint's pending notifications as messages, by head, in the caller's
        transaction (the complaint locked): the pending items not in a batch yet become one.
        The batch is fixed (committed) before sending: a retry resends the same message
        under the same id, and the sink recognises it."""
        batches: _Batches = {}
        fresh: _Batches = {}
        for r, joined in await repo.fix_pending_notifications(conn, complaint_id):
            assert r.merged_into is not None
            (fresh if joined else batches).setdefault(r.merged_into, []).append(r)
        return {**batches, **fresh}  # the batches fixed before first, as they came

    async def _send_batches(
        self,
        conn: asyncpg.Connection,
        c: repo.NotifyComplaint,
        batches: _Batches,
        *,
        last_attempt: bool,
    ) -> int:
        sent = 0
        for head, rows in batches.items():
            await self._send(
                conn, c, head, [{"items": r.items} for r in rows], last_attempt=last_attempt
            )
            sent += 1
        return sent

    async def redeliver(
        self, complaint_id: uuid.UUID, failed_id: uuid.UUID, *, last_attempt: bool = False
    ) -> None:
        """Send a failed notification again, as ``redeliver.schedule`` planned."""
        async with self.pool.acquire() as conn:
            async with conn.transaction():
                await repo.lock_complaint(conn, complaint_id)
                failed = await drepo.get_for_redelivery(conn, failed_id)
                c = await repo.get_complaint(conn, complaint_id)
                if failed is None or c is None or str(failed.state) != "failed":
                    return  # a late "delivered" arrived meanwhile, or it is gone
                step = redeliver.next_step(
                    self.settings,
                    await drepo.chain(conn, failed_id),
                    has_address={
                        "email": c.email_enc is not None,
                        "sms": c.phone_enc is not None,
                    },
                )
                if step is None:
                    return
                new_id = redeliver.redelivery_id(failed_id)
                items = await drepo.batch_items(conn, failed_id)
                await drepo.insert_redelivery(
                    conn,
                    notification_id=new_id,
                    complaint_id=complaint_id,
                    kind=str(failed.kind),
                    channel=step.channel,
                    source=step.source,
                    dedup_key=f"redeliver:{failed_id}",
                    items=items,
                    retry_of=failed_id,
                    redelivery_no=int(failed.redelivery_no) + 1,
                )
                if await drepo.redelivery_state(conn, f"redeliver:{failed_id}") != "queued":
                    return  # done before (a redelivered job)
            await self._send(
                conn,
                c,
                new_id,
                [{"items": items}],
                channel=step.channel,
                source=step.source,
                last_attempt=last_attempt,
            )

    async def _send(
        self,
        conn: asyncpg.Connection,
        c: repo.NotifyComplaint,
        head: uuid.UUID,
        rows: Sequence[Mapping[str, Any]],
        *,
        channel: str | None = None,
        source: str | None = None,
        last_attempt: bool = False,
    ) -> None:
        # In the order the events were enqueued (jobs of one burst run concurrently).
        stored = sorted((i for r in rows for i in r["items"]), key=lambda i: i.get("seq", 0))
        items = [Item(i["event"], i.get("data") or {}) for i in stored]
        kind = SINK_KIND.get(items[-1].event, items[-1].event)
        channel = channel or self._channel(c)
        source = source or str(c.source)
        sink = self.sinks.get(source)
        address = self._address(c, channel)
        # E-mail and SMS need an address; other sinks answer on the thread itself (an old
        # form's ``tanggapan`` row). Without either the message is kept for the status page.
        if sink is None or (channel in ("email", "sms", "whatsapp") and address is None):
            channel, sink = "web", None
        common = self._common(c, channel)
        msg = render(channel, items, common, sms_max_parts=self.settings.notify.sms_max_parts)
        now = self._now()
        state, external_id = "sent", None
        detail: str | None = "kept for the status page"
        sink_ok_at: dt.datetime | None = None  # the sink took the message: its health
        if sink is not None:
            address_hash = self.services.crypto.match_hash("notify-address", address)
            body_hash = self.services.crypto.match_hash("notify-body", msg.text)
            # The guards and the hand-over marker, committed before the hand-over happens
            # (a retry after a crash between the send and the record below finds it).
            held = self._address_problem(channel, address)
            may, previous = False, None
            if held is None and address_hash is not None:
                held, may, previous = await guard.begin_guarded(
                    conn,
                    self.settings,
                    head=head,
                    at=now,
                    address_hash=address_hash,
                    body_hash=body_hash,
                )
            elif held is None:
                may, previous = await drepo.begin_send(conn, head, now, address_hash, body_hash)
            if held is not None:
                async with conn.transaction():
                    await drepo.skip_batch(
                        conn,
                        head,
                        channel=channel,
                        body=seal_body(self.services.crypto, msg.text),
                        body_key=self.services.crypto.current_id,
                        reason=held,
                    )
                    await append_event(
                        conn,
                        c.id,
                        "notification_held",
                        {
                            "notification_id": str(head),
                            "channel": channel,
                            "kinds": [i.event for i in items],
                            "reason": held,
                        },
                    )
                NOTIFICATIONS.labels(channel=channel, outcome="held").inc()
                log.warning(
                    "notification_held",
                    complaint_id=str(c.id),
                    notification_id=str(head),
                    channel=channel,
                    reason=held,
                )
                return
            if not may:
                return  # recorded meanwhile by another run
            own = source == c.source  # else a fallback: another channel, no thread
            origin = Origin(
                source=source,
                channel=str(c.channel) if own else channel,
                address=address,
                thread=c.origin if own and isinstance(c.origin, dict) else {},
            )
            out = OutboundMessage(
                notification_id=str(head),
                kind=kind,
                text=msg.text,
                subject=msg.subject,
                html=msg.html,
                tracking_id=common["tracking_id"],
                link=common["status_url"],
            )
            if previous is not None and not resend_is_safe(sink):
                detail = IN_DOUBT
                log.warning(
                    "notification_in_doubt_not_resent",
                    notification_id=str(head),
                    channel=channel,
                    handed_over_at=previous.isoformat(),
                )
            else:
                try:
                    result = await sink.send(origin, out)
                except PermanentError as exc:
                    state, detail = "failed", f"sink refused: {exc}"[:500]
                    await record.failed(conn, "sink", source, self._now(), detail)
                except Exception as exc:
                    not_sent = isinstance(
                        exc, TransientError | AuthError | ConfigError
                    ) and not isinstance(exc, InDoubtError)
                    if not_sent:
                        # Certainly not sent (refused before it left): a retry may send.
                        await drepo.clear_send(conn, head)
                    await record.failed(
                        conn, "sink", source, self._now(), f"{type(exc).__name__}: {exc}"
                    )
                    if not (not_sent and last_attempt):
                        raise
                    # Unreachable through every attempt the queue allows: the message failed
                    # here, and the redelivery policy sends it on the reporter's other
                    # channel rather than leave it behind a dead job.
                    state = "failed"
                    detail = f"{redeliver.UNREACHABLE}: {type(exc).__name__}: {exc}"[:500]
                else:
                    sink_ok_at = self._now()
                    external_id, detail = result.external_id, result.detail
                    state = (
                        "delivered"
                        if result.delivered
                        else "failed"
                        if result.delivered is False
                        else "sent"
                    )
        body = seal_body(self.services.crypto, msg.text)
        key_id = self.services.crypto.current_id
        event_data = {
            "notification_id": str(head),
            "channel": channel,
            "kinds": [i.event for i in items],
            "merged": len(rows),
            "state": state,
        }
        if state != "failed":
            # The usual outcome: the record, its event and the sink's health in one statement.
            await repo.mark_sent_with_event(
                conn,
                head,
                state=state,
                channel=channel,
                body=body,
                body_key=key_id,
                subject=msg.subject,
                external_id=external_id,
                detail=detail,
                at=now,
                complaint_id=c.id,
                event_kind=EventKind.NOTIFICATION_SENT,
                event_data=event_data,
                sink_ok=(record.component_id("sink", source), source, sink_ok_at)
                if sink_ok_at is not None
                else None,
            )
        else:
            if sink_ok_at is not None:  # it took the message, and said it failed
                await record.succeeded(conn, "sink", source, sink_ok_at, 1)
            async with conn.transaction():
                await repo.mark_sent(
                    conn,
                    head,
                    state=state,
                    channel=channel,
                    body=body,
                    body_key=key_id,
                    subject=msg.subject,
                    external_id=external_id,
                    detail=detail,
                    at=now,
                )
                await append_event(conn, c.id, EventKind.NOTIFICATION_FAILED, event_data)
                await redeliver.schedule(
                    self.services,
                    conn,
                    head,
                    has_address={
                        "email": c.email_enc is not None,
                        "sms": c.phone_enc is not None,
                    },
                )
        NOTIFICATIONS.labels(channel=channel, outcome=state).inc()
        log.info(
            "notification_sent" if state != "failed" else "notification_failed",
            complaint_id=str(c.id),
            notification_id=str(head),
            channel=channel,
            kinds=[i.event for i in items],
            state=state,
        )

    async def _guard(
        self,
        conn: asyncpg.Connection,
        channel: str,
        address: str | None,
        address_hash: bytes | None,
        body_hash: bytes | None,
        head: uuid.UUID,
        now: dt.datetime,
    ) -> str | None:
        """Why this message must not go out (an auto-reply loop), or None."""
        if (problem := self._address_problem(channel, address)) is not None:
            return problem
        if address_hash is None:
            return None
        return await guard.loop_problem(
            conn,
            self.settings,
            address_hash=address_hash,
            body_hash=body_hash,
            now=now,
            excluding=head,
        )

    @staticmethod
    def _address_problem(channel: str, address: str | None) -> str | None:
        """Why no message goes to this address at all (a short code), or None."""
        if channel == "sms" and address:
            return guard.sms_address_problem(address)
        return None

    def _address(self, c: repo.NotifyComplaint, channel: str) -> str | None:
        crypto = self.services.crypto
        if channel == "email":
            return crypto.decrypt("email", c.email_enc) if c.email_enc else None
        if channel == "sms" or str(c.channel) == "whatsapp":
            return crypto.decrypt("phone", c.phone_enc) if c.phone_enc else None
        return None

    def _common(self, c: repo.NotifyComplaint, channel: str) -> dict[str, Any]:
        name = None
        if channel == "email" and c.name_enc is not None:
            name = self.services.crypto.decrypt("name", c.name_enc)
        # A linked duplicate follows the report it was merged into.
        tracking = c.lapor_tracking_id or c.linked_tracking_id
        return {
            "tracking_id": tracking,
            "title": c.title,
            "status_url": status_url(self.settings, tracking),
            "municipality": self.settings.municipality,
            "name": name,
            "reply_hint": True,
        }

    async def _standalone(self, job: Job, event: str) -> None:
        """A message with no complaint behind it (the usage answer to an empty SMS)."""
        p = job.payload
        source, address = p.get("source"), job_address(self.services.crypto, p)
        if not source or not address:
            raise PermanentError("a notification without a complaint needs source and address")
        dedup = f"{event}:job:{job.id}"
        nid = notification_id(dedup)
        channel = "email" if "@" in str(address) else "sms"
        async with self.pool.acquire() as conn:
            if await repo.notification_state(conn, dedup) in ("sent", "delivered", "skipped"):
                return
            msg = render(
                channel,
                [Item(event, {"text": str(p.get("text") or "")})],
                {"municipality": self.settings.municipality, "reply_hint": False},
                sms_max_parts=self.settings.notify.sms_max_parts,
            )
            sink = self.sinks.get(str(source))
            state, external_id, sent_at = "skipped", None, None
            detail: str | None = "no sink for this source"
            address_hash = self.services.crypto.match_hash("notify-address", str(address))
            body_hash = self.services.crypto.match_hash("notify-body", msg.text)
            held = (
                await self._guard(
                    conn, channel, str(address), address_hash, body_hash, nid, self._now()
                )
                if sink is not None
                else None
            )
            previous: dt.datetime | None = None
            if sink is not None and held is None:
                may, previous = await drepo.begin_standalone(
                    conn,
                    notification_id=nid,
                    kind=event,
                    channel=channel,
                    source=str(source),
                    dedup_key=dedup,
                    body=seal_body(self.services.crypto, msg.text),
                    body_key=self.services.crypto.current_id,
                    subject=msg.subject,
                    at=self._now(),
                    address_hash=address_hash,
                    body_hash=body_hash,
                )
                if not may:
                    return
            if held is not None:
                detail = held
                log.warning(
                    "notification_held",
                    kind=event,
                    notification_id=str(nid),
                    channel=channel,
                    reason=held,
                )
            elif sink is not None and previous is not None and not resend_is_safe(sink):
                state, detail, sent_at = "sent", IN_DOUBT, previous
            elif sink is not None:
                try:
                    result = await sink.send(
                        Origin(source=str(source), channel=channel, address=str(address)),
                        OutboundMessage(
                            notification_id=str(nid),
                            kind=SINK_KIND.get(event, event),
                            text=msg.text,
                            subject=msg.subject,
                            html=msg.html,
                        ),
                    )
                except Exception as exc:
                    if isinstance(exc, TransientError | AuthError | ConfigError) and not isinstance(
                        exc, InDoubtError
                    ):
                        await drepo.clear_send(conn, nid)
                    await record.failed(
                        conn, "sink", str(source), self._now(), f"{type(exc).__name__}: {exc}"
                    )
                    raise
                await record.succeeded(conn, "sink", str(source), self._now(), 1)
                state = "delivered" if result.delivered else "sent"
                external_id, detail, sent_at = result.external_id, result.detail, self._now()
            await repo.record_standalone(
                conn,
                notification_id=nid,
                complaint_id=None,
                kind=event,
                channel=channel,
                source=str(source),
                dedup_key=dedup,
                state=state,
                subject=msg.subject,
                body=seal_body(self.services.crypto, msg.text),
                body_key=self.services.crypto.current_id,
                external_id=external_id,
                detail=detail,
                sent_at=sent_at,
            )
        NOTIFICATIONS.labels(channel=channel, outcome=state).inc()
        log.info("notification_sent", kind=event, notification_id=str(nid), state=state)
