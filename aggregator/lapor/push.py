"""``push`` and ``reply_up`` jobs: each complaint into LAPOR! exactly once, replies after it.

A push uploads the attachments (remembering each upstream id, so a retry sends the same
body), creates the report with ``Idempotency-Key`` = ``external_ref`` = the complaint id,
and stores the Tracking ID, the status and the timeline event in one transaction. After a
timeout or a dropped connection the job is ``in_doubt``; its next attempt sends the same
body under the same key again while LAPOR! still remembers the key (the answer is the
report the lost request created, if it did), and looks the report up by ``external_ref``
first when the job is older than that or the adapter has no idempotent create.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import math
import re
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any

import asyncpg
import structlog

from aggregator.errors import AuthError, Deferred, InDoubtError, PermanentError, TransientError
from aggregator.intake.normalize import derive_title
from aggregator.lapor.apply import Classifier, apply_stored
from aggregator.lapor.batching import MicroBatcher
from aggregator.lapor.errors import (
    AttachmentRefused,
    DuplicateExternalRef,
    Gone,
    IdempotencyKeyReused,
    RateLimited,
    Rejected,
)
from aggregator.lapor.models import ReplyPayload, ReportPayload
from aggregator.lapor.port import LaporPort
from aggregator.storage import lapor as repo
from aggregator.storage import replies as replies_repo
from aggregator.storage.events import append_event
from schemas.complaint import Channel, Classification, Location, Reporter
from schemas.config import LaporConfig
from schemas.events import EventKind, Job, JobLane

if TYPE_CHECKING:
    from aggregator.wiring.services import Services

log = structlog.get_logger(__name__)

REFUSED = "refused"  # lapor_attachment_id of an attachment LAPOR! will not take
_PHONE = re.compile(r"^\+62[0-9]{8,13}$")
_NIK = re.compile(r"^[0-9]{16}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_NOT_PUSHED = {"duplicate", "history"}
AUTH_RETRY_S = 300.0
PREFETCH = 100  # claimed push jobs read together
KEY_MEMORY_S = 29 * 86400.0  # LAPOR! remembers Idempotency-Keys "at least 30 days"
PREFETCH_TTL_S = 10.0  # a row read ahead is used only this fresh


def push_concurrency(cfg: LaporConfig) -> int:
    """Push jobs run at once by one process: ``lapor.push_concurrency``, or sized by
    Little's law to keep the rate limit busy while some requests wait on a slow LAPOR! or
    hang until ``request_timeout_s`` cuts them off (1.5 s per request on average)."""
    if cfg.push_concurrency is not None:
        return cfg.push_concurrency
    return max(4, min(64, math.ceil(cfg.rate_limit_per_s * 1.5)))


def _location(value: Any) -> Location | None:
    if not isinstance(value, dict):
        return None
    keys = {"address", "kelurahan", "kecamatan", "lat", "lon"}
    clean = {k: v for k, v in value.items() if k in keys and v is not None}
    return Location(**clean) if clean else None


class PushHandlers:
    """The job handlers; one instance per process, sharing the port's rate limit."""

    def __init__(
        self, services: Services, port: LaporPort, *, classify: Classifier | None = None
    ) -> None:
        self.services = services
        self.pool: asyncpg.Pool = services.pool
        self.port = port
        self.classify = classify or services.classifier
        self.owner: str = getattr(services.queue, "owner", "")
        self._prefetched: dict[uuid.UUID, tuple[float, repo.PushComplaint]] = {}
        self._load = MicroBatcher(self._load_many, self.pool.acquire)
        self._mark = MicroBatcher(self._mark_many, self.pool.acquire)

    async def _load_many(
        self, conn: asyncpg.Connection, ids: Sequence[uuid.UUID]
    ) -> dict[uuid.UUID, repo.PushComplaint]:
        rows = await repo.get_push_complaints(conn, ids, owner=self.owner, prefetch=PREFETCH)
        now = time.monotonic()
        asked = set(ids)
        for cid, row in rows.items():
            if cid not in asked:
                self._prefetched[cid] = (now, row)
        return {cid: rows[cid] for cid in asked if cid in rows}

    async def load(self, cid: uuid.UUID) -> repo.PushComplaint:
        """The complaint to push; read with the other claimed jobs' when it was not yet."""
        hit = self._prefetched.pop(cid, None)
        if hit is not None and time.monotonic() - hit[0] < PREFETCH_TTL_S:
            return hit[1]
        if len(self._prefetched) > 4 * PREFETCH:  # released jobs leave entries behind
            self._prefetched.clear()
        return await self._load(cid)

    async def _mark_many(
        self, conn: asyncpg.Connection, items: Sequence[repo.Pushed]
    ) -> dict[repo.Pushed, tuple[bool, list[str]]]:
        # A complaint appears at most once per statement, so "updated" is unambiguous.
        first: dict[uuid.UUID, repo.Pushed] = {}
        again: list[repo.Pushed] = []
        for p in items:
            if p.complaint_id in first:
                again.append(p)
            else:
                first[p.complaint_id] = p
        out: dict[repo.Pushed, tuple[bool, list[str]]] = {}
        for group in [list(first.values()), *[[p] for p in again]]:
            done = await repo.mark_pushed(conn, group)
            out.update({p: done[p.complaint_id] for p in group if p.complaint_id in done})
        return out

    def handlers(self) -> dict[str, Callable[[Job], Awaitable[None]]]:
        return {"push": self.push, "reply_up": self.reply_up}

    @contextlib.asynccontextmanager
    async def _outage_defers(self) -> AsyncIterator[None]:
        """A transient failure that leaves the breaker open (it tripped on this one, or this
        was its one trial call) is LAPOR!'s outage, not the job's: deferred, no attempt
        spent, and an in-doubt one keeps its mark. So is a 429 that outlasted the call's
        own retries: LAPOR! refused it for our pace before acting on it."""
        try:
            yield
        except Deferred:
            raise
        except RateLimited as exc:
            raise Deferred(
                f"LAPOR! rate limit: {exc}", retry_after=max(1.0, exc.retry_after or 1.0)
            ) from exc
        except TransientError as exc:
            breaker = getattr(self.port, "breaker", None)
            if breaker is None or not breaker.is_open:
                raise
            raise Deferred(
                f"LAPOR! is down (circuit breaker open): {exc}",
                retry_after=max(1.0, breaker.retry_in()),
                in_doubt=isinstance(exc, InDoubtError),
            ) from exc

    # ---- push -------------------------------------------------------------------------------
    async def push(self, job: Job) -> None:
        if job.complaint_id is None:
            raise PermanentError("push job without complaint_id")
        cid = job.complaint_id
        try:
            row = await self.load(cid)
        except KeyError:
            raise PermanentError(f"complaint {cid} does not exist") from None
        if row.lapor_tracking_id:
            return  # pushed already (an earlier attempt committed, or an operator entered it)
        if row.status in _NOT_PUSHED or row.duplicate_of is not None:
            return
        try:
            async with self._outage_defers():
                await self._push(job, cid, row)
        except AuthError as exc:
            # Credentials refused: a human must act; keep the job alive meanwhile.
            raise TransientError(str(exc), retry_after=AUTH_RETRY_S) from exc

    async def _push(self, job: Job, cid: uuid.UUID, row: repo.PushComplaint) -> None:
        if getattr(self.port, "name", "") == "manual":
            await self._to_worklist(cid)
            return
        if (job.payload.get("in_doubt") or job.attempts > 1) and not self._replays(job):
            found = await self.port.find_by_external_ref(str(cid))
            if found is not None:
                await self.adopt(
                    cid,
                    found.tracking_id,
                    found.created_at,
                    found.status,
                    how="found_by_external_ref",
                    lane=job.lane,
                )
                return
        attachment_ids = await self._upload_attachments(cid, row)
        payload = self.payload(cid, row, attachment_ids)
        self._mark.prime()  # its connection opens while the request is at LAPOR!
        try:
            result = await self.port.create_report(payload, str(cid))
        except Rejected as exc:
            await self._rejected(cid, exc)
            return
        except DuplicateExternalRef as exc:
            if exc.tracking_id:
                await self.adopt(
                    cid, exc.tracking_id, None, None, how="duplicate_external_ref", lane=job.lane
                )
                return
            found = await self.port.find_by_external_ref(str(cid))
            if found is None:
                raise
            await self.adopt(
                cid,
                found.tracking_id,
                found.created_at,
                found.status,
                how="duplicate_external_ref",
                lane=job.lane,
            )
            return
        except IdempotencyKeyReused:
            found = await self.port.find_by_external_ref(str(cid))
            if found is None:
                raise
            await self.adopt(
                cid,
                found.tracking_id,
                found.created_at,
                found.status,
                how="idempotency_key_reused",
                lane=job.lane,
            )
            return
        if result.tracking_id is None:
            await self._to_worklist(cid)
            return
        await self.adopt(
            cid,
            result.tracking_id,
            result.created_at,
            result.status,
            how="replayed" if result.replayed else "created",
            lane=job.lane,
        )

    def _replays(self, job: Job) -> bool:
        """Can an in-doubt create simply be sent again? With a port whose creates are
        idempotent by key (``replays_by_key``: LAPOR! remembers keys and external refs for
        at least 30 days, and answers the same key and body with the first answer), yes,
        while the job is younger than that memory: the repeat either creates the report
        the lost request did not, or is answered with the one it did (a replay, or
        ``duplicate_external_ref`` / ``idempotency_key_reused``, both adopted). That saves
        the look-up's request on every in-doubt job; older jobs look up first."""
        if not getattr(self.port, "replays_by_key", False):
            return False
        age = dt.datetime.now(dt.UTC) - job.created_at
        return age.total_seconds() < KEY_MEMORY_S

    def payload(
        self, cid: uuid.UUID, row: repo.PushComplaint, attachment_ids: list[str]
    ) -> ReportPayload:
        crypto = self.services.crypto
        reporter: Reporter | None = None
        if not row.anonymous:
            phone = crypto.decrypt("phone", row.phone_enc)
            nik = crypto.decrypt("nik", row.nik_enc)
            email = crypto.decrypt("email", row.email_enc)
            reporter = Reporter(
                name=crypto.decrypt("name", row.name_enc),
                phone=phone if phone and _PHONE.match(phone) else None,
                nik=nik if nik and _NIK.match(nik) else None,
                email=email if email and _EMAIL.match(email) else None,
            )
        content = row.content
        try:
            channel = Channel(row.channel)
        except ValueError:
            channel = Channel.OTHER
        try:
            classification = Classification(row.classification)
        except ValueError:
            classification = Classification.PENGADUAN
        return ReportPayload(
            external_ref=str(cid),
            channel=channel,
            title=(row.title or derive_title(content))[:150],
            content=content,
            classification=classification,
            occurred_on=row.occurred_on,
            location=_location(row.location),
            category_id=row.category_id,
            agency_id=row.agency_id,
            anonymous=row.anonymous,
            confidential=row.confidential,
            reporter=reporter,
            attachment_ids=tuple(attachment_ids),
            submitted_at=row.submitted_at or row.received_at,
        )

    async def _upload_attachments(self, cid: uuid.UUID, row: repo.PushComplaint) -> list[str]:
        if not row.has_attachments:
            return []
        async with self.pool.acquire() as conn:
            rows = await repo.list_push_attachments(conn, cid)
        ids: list[str] = []
        for a in rows:
            if a.lapor_attachment_id == REFUSED:
                continue
            if a.lapor_attachment_id:
                ids.append(a.lapor_attachment_id)
                continue
            try:
                up = await self.port.upload_attachment(a.filename, a.content_type, bytes(a.data))
                upstream = up.attachment_id
            except AttachmentRefused as exc:
                upstream = REFUSED
                log.warning(
                    "lapor_attachment_refused",
                    complaint_id=str(cid),
                    content_type=a.content_type,
                    size=a.size,
                    error=str(exc),
                )
            # Stored at once: a retry must send the very same body under the same key.
            async with self.pool.acquire() as conn, conn.transaction():
                await repo.set_lapor_attachment_id(conn, cid, a.sha256, upstream)
                if upstream == REFUSED:
                    await append_event(
                        conn,
                        cid,
                        EventKind.LAPOR_ATTACHMENT_REFUSED,
                        {
                            "filename": a.filename,
                            "content_type": a.content_type,
                            "size": a.size,
                        },
                    )
            if upstream != REFUSED:
                ids.append(upstream)
        return ids

    async def adopt(
        self,
        cid: uuid.UUID,
        tracking_id: str,
        created_at: dt.datetime | None,
        status: str | None,
        *,
        how: str,
        actor: str = "system",
        lane: JobLane = JobLane.LIVE,
    ) -> bool:
        """Store the Tracking ID, status and event in one transaction; apply any feed events
        that arrived before we knew the Tracking ID. False when it was stored already.

        The complaint starts at LAPOR!'s first status as of the report's creation, whatever
        ``status`` a look-up saw: the feed replays the steps since, so the timeline is whole.
        The citizen's notification waits in the push job's ``lane``.
        """
        del status
        item = repo.Pushed(
            complaint_id=cid,
            tracking_id=tracking_id,
            created_at=created_at,
            status="belum_terverifikasi",
            actor=actor,
            event={
                "tracking_id": tracking_id,
                "how": how,
                "adapter": getattr(self.port, "name", "?"),
            },
            notify={"event": "lapor_pushed", "tracking_id": tracking_id},
            notify_key=f"notify:pushed:{cid}",
            lane=lane,
        )
        try:
            fresh, waiting = await self._mark(item)
        except asyncpg.UniqueViolationError as exc:
            raise PermanentError(f"Tracking ID {tracking_id} belongs to another complaint") from exc
        if not fresh:
            async with self.pool.acquire() as conn:
                current = await repo.get_complaint_lapor(conn, cid)
            if current is None or current.lapor_tracking_id != tracking_id:
                raise PermanentError(
                    f"complaint already holds Tracking ID "
                    f"{current.lapor_tracking_id if current else None}, "
                    f"LAPOR! says {tracking_id}"
                )
            return False
        if waiting:
            # Claimed atomically: the updates loop may be applying them right now.
            async with self.pool.acquire() as conn, conn.transaction():
                await apply_stored(conn, waiting, classify=self.classify)
        log.info("lapor_pushed", complaint_id=str(cid), tracking_id=tracking_id, how=how)
        return True

    async def _rejected(self, cid: uuid.UUID, exc: Rejected) -> None:
        errors = {"error": "validation_failed", "fields": exc.fields, "message": str(exc)}
        async with self.pool.acquire() as conn, conn.transaction():
            if await repo.mark_rejected(conn, cid, errors):
                await append_event(conn, cid, EventKind.LAPOR_REJECTED, {"fields": exc.fields})
        log.warning(
            "lapor_push_rejected",
            complaint_id=str(cid),
            fields=[f.get("field") for f in exc.fields],
        )

    async def _to_worklist(self, cid: uuid.UUID) -> None:
        async with self.pool.acquire() as conn, conn.transaction():
            if await repo.mark_manual_pending(conn, cid):
                await append_event(conn, cid, EventKind.LAPOR_MANUAL_PENDING, {})

    # ---- reply_up ---------------------------------------------------------------------------
    async def reply_up(self, job: Job) -> None:
        try:
            reply_id = uuid.UUID(str(job.payload["reply_id"]))
        except (KeyError, ValueError) as exc:
            raise PermanentError("reply_up job without a valid reply_id") from exc
        async with self.pool.acquire() as conn:
            row = await repo.get_reply(conn, reply_id)
        if row is None:
            raise PermanentError(f"reply {reply_id} does not exist")
        if row.lapor_reply_id:
            return
        async with self.pool.acquire() as conn:
            verified = await replies_repo.is_verified(conn, reply_id)
        if not verified:
            # Held for an operator: only the reporter (or an operator's acceptance) speaks
            # for the report upstream.
            raise PermanentError(f"reply {reply_id} is not verified as the reporter's")
        tracking_id = row.lapor_tracking_id
        if not tracking_id:
            if row.status in ("duplicate", "history", "rejected_by_lapor"):
                raise PermanentError(f"complaint is {row.status}: no LAPOR! report to reply to")
            raise TransientError("the complaint has no Tracking ID yet", retry_after=60)
        reply = ReplyPayload(text=row.text, sent_at=row.sent_at, resolved=row.resolved)
        try:
            async with self._outage_defers():
                lapor_reply_id = await self.port.post_reply(tracking_id, reply, str(reply_id))
        except Gone as exc:
            raise PermanentError("the LAPOR! report was deleted") from exc
        except AuthError as exc:
            raise TransientError(str(exc), retry_after=AUTH_RETRY_S) from exc
        async with self.pool.acquire() as conn, conn.transaction():
            await repo.set_lapor_reply_id(conn, reply_id, lapor_reply_id)
            await append_event(
                conn,
                row.complaint_id,
                EventKind.REPORTER_REPLY_SENT,
                {
                    "reply_id": str(reply_id),
                    "lapor_reply_id": lapor_reply_id,
                    "tracking_id": tracking_id,
                },
            )
