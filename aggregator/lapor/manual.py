"""The ``manual`` adapter and the operator's functions behind it.

For a municipality without API access: a push lands on an operator worklist (complaint
status ``manual_pending``) showing what to re-type into LAPOR!; the operator enters the
Tracking ID obtained, then status changes and agency responses by hand. Entries become the
same LAPOR! events the feed would deliver and go through the same code
(``aggregator.lapor.apply``), so the timeline, follow-up labels and notifications are the
same as with the ``http`` adapter.

Functions for the admin API: ``worklist``, ``enter_tracking_id``, ``enter_status``,
``enter_response``, ``enter_event``.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import TYPE_CHECKING, Any

import asyncpg

from aggregator.errors import InvalidInput, PermanentError
from aggregator.lapor.apply import ApplyResult, Classifier, store_and_apply
from aggregator.lapor.models import (
    Agency,
    Category,
    CreateResult,
    LaporEvent,
    RemoteReport,
    ReplyPayload,
    ReportPayload,
    UpdatesPage,
    UploadedAttachment,
)
from aggregator.storage import lapor as repo
from schemas.complaint import LAPOR_STATUSES, Reporter

if TYPE_CHECKING:
    from aggregator.wiring.services import Services

STATUSES = {s.value for s in LAPOR_STATUSES}


class ManualLaporAdapter:
    """The port without an API: nothing leaves the daemon; operators carry it over."""

    name = "manual"

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def create_report(self, report: ReportPayload, idempotency_key: str) -> CreateResult:
        return CreateResult(tracking_id=None, pending_manual=True)

    async def find_by_external_ref(self, external_ref: str) -> RemoteReport | None:
        async with self.pool.acquire() as conn:
            row = await repo.get_complaint_lapor(conn, uuid.UUID(external_ref))
        if row is None or not row.lapor_tracking_id:
            return None
        return RemoteReport(
            tracking_id=row.lapor_tracking_id,
            external_ref=external_ref,
            status=str(row.status),
        )

    async def get_report(self, tracking_id: str) -> RemoteReport:
        raise PermanentError("the manual adapter cannot read LAPOR!; an operator must look")

    async def upload_attachment(
        self, filename: str, content_type: str, data: bytes
    ) -> UploadedAttachment:
        import hashlib

        digest = hashlib.sha256(data).hexdigest()
        return UploadedAttachment(
            attachment_id=f"local-{digest[:16]}", sha256=digest, size=len(data)
        )

    async def post_reply(self, tracking_id: str, reply: ReplyPayload, idempotency_key: str) -> str:
        # The reply is on the complaint's timeline (reporter_replied); the operator carries it.
        return f"manual-{idempotency_key}"

    async def read_updates(self, cursor: str | None, limit: int) -> UpdatesPage:
        return UpdatesPage(events=[], next_cursor=cursor)

    async def agencies(self) -> list[Agency]:
        return []

    async def categories(self) -> list[Category]:
        return []


# ---- the operator's functions (the admin API calls these) --------------------------------------
async def worklist(
    services: Services, *, limit: int = 50, offset: int = 0
) -> tuple[list[dict[str, Any]], int]:
    """What to re-type into LAPOR!, oldest first, with the reporter decrypted (never for an
    anonymous reporter: their identity does not go to LAPOR!)."""
    crypto = services.crypto
    async with services.pool.acquire() as conn:
        rows, total = await repo.manual_worklist(conn, limit, offset)
    items = []
    for r in rows:
        reporter = None
        if not r.anonymous:
            reporter = Reporter(
                name=crypto.decrypt("name", r.name_enc),
                email=crypto.decrypt("email", r.email_enc),
                phone=crypto.decrypt("phone", r.phone_enc),
                nik=crypto.decrypt("nik", r.nik_enc),
            )
        items.append(
            {
                "complaint_id": str(r.id),
                "source": r.source,
                "channel": r.channel,
                "title": r.title,
                "content": r.content,
                "classification": r.classification,
                "category_id": r.category_id,
                "agency_id": r.agency_id,
                "anonymous": r.anonymous,
                "confidential": r.confidential,
                "location": r.location,
                "occurred_on": r.occurred_on.isoformat() if r.occurred_on else None,
                "submitted_at": r.submitted_at.isoformat() if r.submitted_at else None,
                "received_at": r.received_at.isoformat(),
                "waiting_since": r.status_at.isoformat(),
                "reporter": reporter.model_dump(exclude_none=True) if reporter else None,
            }
        )
    return items, total


async def enter_tracking_id(
    services: Services,
    complaint_id: uuid.UUID | str,
    tracking_id: str,
    *,
    actor: str,
    created_at: dt.datetime | None = None,
) -> bool:
    """The operator typed the complaint into LAPOR! and got ``tracking_id``."""
    from aggregator.lapor.push import PushHandlers

    tracking_id = tracking_id.strip().lstrip("#")
    if not tracking_id.isdigit():
        raise InvalidInput("a LAPOR! Tracking ID is a number, e.g. 1916449")
    handlers = PushHandlers(services, ManualLaporAdapter(services.pool))
    return await handlers.adopt(
        uuid.UUID(str(complaint_id)),
        tracking_id,
        created_at or services.clock(),
        "belum_terverifikasi",
        how="entered_by_operator",
        actor=actor,
    )


async def enter_event(
    services: Services,
    complaint_id: uuid.UUID | str,
    event: dict[str, Any],
    *,
    actor: str,
    classify: Classifier | None = None,
) -> ApplyResult:
    """Any contract event (``type`` and its fields) entered by hand. ``event_id`` may be given
    to make a double submission harmless; otherwise one is made."""
    cid = uuid.UUID(str(complaint_id))
    async with services.pool.acquire() as conn:
        row = await repo.get_complaint_lapor(conn, cid)
    if row is None:
        raise InvalidInput(f"no complaint {cid}")
    if not row.lapor_tracking_id:
        raise InvalidInput("enter the LAPOR! Tracking ID first")
    body = {
        "event_id": event.get("event_id") or f"manual-{uuid.uuid4()}",
        "tracking_id": row.lapor_tracking_id,
        "at": (event.get("at") or services.clock()),
        **{k: v for k, v in event.items() if k not in ("event_id", "tracking_id", "at")},
    }
    lapor_event = LaporEvent.model_validate(body)
    lapor_event = lapor_event.model_copy(
        update={
            "raw": {**lapor_event.model_dump(mode="json", exclude={"raw"}), "entered_by": actor}
        }
    )
    async with services.pool.acquire() as conn, conn.transaction():
        return await store_and_apply(
            conn, [lapor_event], classify=classify or services.classifier, actor=f"operator:{actor}"
        )


async def enter_status(
    services: Services,
    complaint_id: uuid.UUID | str,
    status: str,
    *,
    actor: str,
    at: dt.datetime | None = None,
    agency_id: str | None = None,
    agency_name: str | None = None,
    event_id: str | None = None,
) -> ApplyResult:
    if status not in STATUSES:
        raise InvalidInput(f"unknown LAPOR! status {status!r}; one of {sorted(STATUSES)}")
    event: dict[str, Any] = {
        "type": "status_changed",
        "status": status,
        "at": at,
        "event_id": event_id,
    }
    if agency_id:
        event["agency"] = {"id": agency_id, "name": agency_name or agency_id}
    if status == "dihapus":
        event["type"] = "deleted"
    return await enter_event(services, complaint_id, event, actor=actor)


async def enter_response(
    services: Services,
    complaint_id: uuid.UUID | str,
    text: str,
    *,
    actor: str,
    author: str | None = None,
    agency_id: str | None = None,
    agency_name: str | None = None,
    attachments: list[dict[str, Any]] | None = None,
    info_request: bool = False,
    at: dt.datetime | None = None,
    event_id: str | None = None,
) -> ApplyResult:
    """An agency response (tindak lanjut) or request for information, copied from LAPOR!."""
    if not text.strip():
        raise InvalidInput("the response text is empty")
    event: dict[str, Any] = {
        "type": "info_requested" if info_request else "response_posted",
        "text": text,
        "author": author,
        "attachments": attachments or [],
        "at": at,
        "event_id": event_id,
    }
    if agency_id:
        event["agency"] = {"id": agency_id, "name": agency_name or agency_id}
    return await enter_event(services, complaint_id, event, actor=actor)
