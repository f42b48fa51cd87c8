"""Applying LAPOR! events to complaints: once each, never backwards.

Used by the updates loop (feed pages), the webhook receiver, the push (events that came
before the push knew its Tracking ID) and the manual adapter (events typed in by operators),
so every path gives the same timeline. Everything happens inside the caller's transaction.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import uuid
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import asyncpg
import structlog

from aggregator.lapor.models import LaporEvent
from aggregator.storage import lapor as repo
from schemas.config import FollowupConfig
from schemas.events import EventKind, JobKind

log = structlog.get_logger(__name__)

Classifier = Callable[[str, int], tuple[str, list[str]]]

# Status changes a citizen is told about (the notifier decides the wording).
NOTIFY_STATUSES = {
    "terverifikasi",
    "terdisposisi",
    "diproses",
    "ditindaklanjuti",
    "selesai",
    "tertunda",
    "arsip",
    "bukan_wewenang",
}
NOTIFY_TYPES = {"response_posted", "info_requested", "deleted"}


def _fallback_classify(text: str, attachments: int = 0) -> tuple[str, list[str]]:
    low = text.lower()
    if "mohon" in low and ("kirim" in low or "lengkap" in low or "sebutkan" in low):
        return "info_request", ["fallback: info request"]
    if "diteruskan" in low:
        return "forwarded", ["fallback: forwarded"]
    if any(w in low for w in ("telah", "sudah dilakukan", "selesai")) and any(
        c.isdigit() for c in low
    ):
        return ("substantive_with_evidence" if attachments else "substantive"), ["fallback"]
    return "acknowledgement", ["fallback: no concrete action"]


def default_classifier(config: FollowupConfig | None = None) -> Classifier:
    """``aggregator.followup.quality.classify`` with the phrases configured under
    ``[followup]`` (``Services.classifier`` passes ``settings.followup``; ``None`` is the
    shipped library alone), a crude stand-in if the labeller is missing."""
    try:
        from aggregator.followup.quality import classify
    except ImportError:  # pragma: no cover - the module ships with the package
        return _fallback_classify

    # Agencies repeat themselves ("akan kami tindaklanjuti"): the label of a text is cached.
    @functools.lru_cache(maxsize=4096)
    def cached(text: str, attachments: int) -> tuple[str, tuple[str, ...]]:
        label, reasons = classify(text, attachments, config=config)
        return str(getattr(label, "value", label)), tuple(reasons)

    def run(text: str, attachments: int) -> tuple[str, list[str]]:
        label, reasons = cached(text, attachments)
        return label, list(reasons)

    return run


def notify_payload(e: LaporEvent, s: dict[str, Any]) -> dict[str, Any]:
    """The facts of one event, as the notifier renders them: the agency *at that moment*
    (the event's own, else the complaint's right after this event was applied), the status
    and, for an agency's text, its id. A later event (a reassignment applied before this
    job runs) never changes what this message says."""
    agency_id, agency_name = (
        (e.agency.id, e.agency.name) if e.agency else (s.get("agency_id"), s.get("agency_name"))
    )
    payload: dict[str, Any] = {
        "event": e.type,
        "event_id": e.event_id,
        "agency_id": agency_id,
        "agency_name": agency_name,
    }
    if e.status:
        payload["status"] = e.status
    if e.type in ("response_posted", "info_requested"):
        payload["response_id"] = e.event_id
    return payload


@dataclass
class ApplyResult:
    stored: int = 0  # new events stored
    applied: int = 0  # events applied to a complaint
    stale: int = 0  # status events older than the complaint's status
    waiting: int = 0  # stored but their complaint is not known yet
    notified: int = 0
    by_type: dict[str, int] = field(default_factory=dict)
    applied_ids: set[str] = field(default_factory=set)


def event_row(e: LaporEvent) -> tuple[str, str, str, dt.datetime, str]:
    body = e.raw or e.model_dump(mode="json", exclude={"raw"})
    return (e.event_id, e.tracking_id, e.type, e.at, json.dumps(body))


async def store_and_apply(
    conn: asyncpg.Connection,
    events: Sequence[LaporEvent],
    *,
    classify: Classifier,
    actor: str = "lapor",
    catch_up: int = 0,
) -> ApplyResult:
    """Store new events (by event_id), then apply every stored event whose complaint is known.

    ``catch_up`` also applies that many older events that were waiting for their complaint.
    """
    result = ApplyResult()
    unique: dict[str, LaporEvent] = {}
    for e in events:
        unique.setdefault(e.event_id, e)
    new_ids = await repo.insert_events(conn, [event_row(e) for e in unique.values()])
    result.stored = len(new_ids)
    ids = list(new_ids)
    if catch_up:
        ids += [i for i in await repo.unapplied_event_ids(conn, catch_up) if i not in new_ids]
    await apply_stored(
        conn,
        ids,
        classify=classify,
        actor=actor,
        result=result,
        known={i: unique[i] for i in new_ids},
    )
    result.waiting = len(new_ids - result.applied_ids)
    return result


async def apply_stored(
    conn: asyncpg.Connection,
    event_ids: Sequence[str],
    *,
    classify: Classifier,
    actor: str = "lapor",
    result: ApplyResult | None = None,
    known: dict[str, LaporEvent] | None = None,
) -> ApplyResult:
    """Apply stored events that nobody has applied yet (``known``: already parsed ones)."""
    result = result or ApplyResult()
    known = known or {}
    claimed = await repo.claim_events(conn, event_ids, list(known))
    result.applied_ids |= {r.event_id for r in claimed}
    if not claimed:
        return result
    events: list[tuple[LaporEvent, uuid.UUID]] = []
    for r in claimed:
        event = known.get(r.event_id)
        if event is None:
            body = r.body if isinstance(r.body, dict) else json.loads(r.body)
            event = LaporEvent.model_validate({**body, "raw": body})
        events.append((event, r.complaint_id))
    events.sort(key=lambda pair: (pair[0].at, pair[0].event_id))
    current = await repo.lock_complaints(conn, sorted({cid for _e, cid in events}))
    state = {cid: asdict(row) for cid, row in current.items()}
    timeline: list[tuple[uuid.UUID, str, dt.datetime, str, dict[str, Any]]] = []
    followups: list[tuple[Any, ...]] = []
    notes: list[tuple[str, str]] = []
    jobs: list[tuple[str, uuid.UUID, dict[str, Any], str]] = []
    changed: set[uuid.UUID] = set()
    for e, cid in events:
        s = state[cid]
        result.applied += 1
        result.by_type[e.type] = result.by_type.get(e.type, 0) + 1
        base = {"event_id": e.event_id, "tracking_id": e.tracking_id}
        notify = e.type in NOTIFY_TYPES
        if e.type == "status_changed" and e.status:
            if s["status"] == "dihapus" or e.at <= s["status_at"]:
                result.stale += 1
                notes.append((e.event_id, "stale"))
                continue
            previous = s["status"]
            s["status"], s["status_at"] = e.status, e.at
            if e.agency:
                s["agency_id"], s["agency_name"] = e.agency.id, e.agency.name
            if e.status != "tertunda":
                s["waiting_on_reporter"] = False
            changed.add(cid)
            timeline.append(
                (
                    cid,
                    EventKind.LAPOR_STATUS_CHANGED,
                    e.at,
                    actor,
                    {**base, "status": e.status, "previous": previous},
                )
            )
            notify = e.status in NOTIFY_STATUSES
        elif e.type == "deleted":
            if s["status"] != "dihapus":
                s["status"], s["status_at"] = "dihapus", max(e.at, s["status_at"])
                changed.add(cid)
            timeline.append(
                (cid, EventKind.LAPOR_DELETED, e.at, actor, {**base, "reason": e.raw.get("reason")})
            )
        elif e.type == "disposed" and e.agency:
            if e.at >= s["status_at"]:
                s["agency_id"], s["agency_name"] = e.agency.id, e.agency.name
                changed.add(cid)
            timeline.append(
                (
                    cid,
                    EventKind.LAPOR_DISPOSED,
                    e.at,
                    actor,
                    {**base, "agency_id": e.agency.id, "agency_name": e.agency.name},
                )
            )
        elif e.type in ("response_posted", "info_requested"):
            text = e.text or ""
            attachments = [a.model_dump(mode="json") for a in e.attachments]
            if e.type == "info_requested":
                label, reasons, kind = "info_request", ["asked by LAPOR!"], "info_request"
                s["waiting_on_reporter"] = True
                changed.add(cid)
            else:
                label, reasons = classify(text, len(attachments))
                kind = "response"
            followups.append(
                (
                    cid,
                    e.event_id,
                    e.at,
                    e.agency.id if e.agency else None,
                    e.agency.name if e.agency else None,
                    e.author,
                    text,
                    json.dumps(attachments),
                    label,
                    json.dumps(reasons),
                    kind,
                )
            )
            timeline.append(
                (
                    cid,
                    EventKind.FOLLOWUP_RECEIVED
                    if kind == "response"
                    else EventKind.LAPOR_INFO_REQUESTED,
                    e.at,
                    actor,
                    {**base, "label": label, "attachments": len(attachments), "author": e.author},
                )
            )
        elif e.type == "reclassified":
            for key in ("classification", "category_id", "title"):
                value = getattr(e, key)
                if value:
                    s[key] = value
            changed.add(cid)
            timeline.append(
                (
                    cid,
                    EventKind.LAPOR_RECLASSIFIED,
                    e.at,
                    actor,
                    {**base, "classification": e.classification, "category_id": e.category_id},
                )
            )
        elif e.type == "reporter_replied":
            timeline.append((cid, EventKind.LAPOR_REPORTER_REPLY_RECORDED, e.at, actor, base))
        elif e.type == "rated":
            timeline.append((cid, EventKind.LAPOR_RATED, e.at, actor, {**base, "rating": e.rating}))
        else:
            timeline.append(
                (cid, EventKind.LAPOR_EVENT_RECEIVED, e.at, actor, {**base, "type": e.type})
            )
        if notify:
            jobs.append((JobKind.NOTIFY, cid, notify_payload(e, s), f"notify:{e.event_id}"))
    await repo.apply_complaint_changes(
        conn,
        [
            (
                cid,
                s["status"],
                s["status_at"],
                s["agency_id"],
                s["agency_name"],
                s["classification"],
                s["category_id"],
                s["title"],
                s["waiting_on_reporter"],
            )
            for cid, s in state.items()
            if cid in changed
        ],
    )
    await repo.note_events(conn, notes)
    await repo.insert_timeline(conn, timeline)
    await repo.insert_followups(conn, followups)
    await repo.insert_jobs(conn, jobs)
    result.notified += len(jobs)
    return result
