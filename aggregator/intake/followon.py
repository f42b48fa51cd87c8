"""Intake's threading point asks: is this message a reply, or a new complaint?

Called by :mod:`aggregator.intake.pipeline` once a message has been matched to a
reporter's open complaint by who sent it (the phone of an SMS, the address of an e-mail
outside any known thread, the receipt code of the status page) rather than by an explicit
reference. The decision itself is :func:`aggregator.judgement.followon.judge`; this module
gathers what it reads (the open complaint, the router's reading of the message) and says
what goes on the timelines. Kept apart from reply verification (who may reply) on purpose.
"""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg

from aggregator.intake.normalize import clean_text
from aggregator.judgement.followon import OpenComplaint, Verdict, judge
from aggregator.storage import intake as repo
from aggregator.storage.intake import FollowonComplaint
from schemas.complaint import ComplaintDraft, ReplyDraft

EVENT = "message_judged"


def message_text(p: ComplaintDraft | ReplyDraft) -> str:
    """As intake routes it (the key of the batch's prepared routes)."""
    if isinstance(p, ReplyDraft):
        return clean_text(p.text)
    return f"{p.title or ''}\n{clean_text(p.content)}"


def judged_by_content(p: ComplaintDraft | ReplyDraft, via_sender: bool) -> bool:
    """Which matched messages are read for their content: those matched by their sender
    (phone, e-mail address) and status-page answers that are not a SUDAH/BELUM answer."""
    if isinstance(p, ReplyDraft):
        return p.complaint_id is not None and p.resolved is None and p.tracking_id is None
    return via_sender


_WEAK = ("too short", "asks about", "open complaint not found")


def _may_join_burst(intake: Any, p: ComplaintDraft | ReplyDraft) -> bool:
    """An SMS or WhatsApp message matched by its number, with bursts on (as
    ``Intake._extend_burst`` takes them)."""
    from aggregator.intake.pipeline import BURST_CHANNELS

    return bool(
        intake.services.settings.bursts.quiet_window_s
        and isinstance(p, ComplaintDraft)
        and p.channel.value in BURST_CHANNELS
        and p.origin.get("maybe_reply_by_phone")
    )


async def _open_complaint(
    intake: Any, conn: asyncpg.Connection, plan: Any, cid: uuid.UUID, burst: bool
) -> tuple[OpenComplaint, FollowonComplaint | None] | None:
    row = await repo.complaint_for_followon(conn, cid)
    if row is not None:
        gathering = burst and await repo.burst_target_open(
            conn, cid, intake.services.clock(), intake.services.settings.bursts.quiet_window_s
        )
        return OpenComplaint(
            id=str(row.id),
            text=f"{row.title or ''}\n{row.content}",
            category=row.route_category,
            tracking_id=row.lapor_tracking_id,
            asked=bool(row.waiting_on_reporter),
            gathering=gathering,
        ), row
    text = plan.planned_text.get(cid)  # planned in this very batch, not yet written
    if text is None:
        return None
    d = intake.router.peek(text)
    return OpenComplaint(
        id=str(cid), text=text, category=d.category if d else None, gathering=burst
    ), None


async def reply_or_new(
    intake: Any,
    conn: asyncpg.Connection,
    plan: Any,
    p: ComplaintDraft | ReplyDraft,
    target: uuid.UUID,
    others: list[uuid.UUID] | None = None,
) -> tuple[Verdict, uuid.UUID, FollowonComplaint | None]:
    """The verdict, the complaint it replies to (the newest open one unless the message is
    about an older one of the same reporter) and that complaint's row."""
    text = message_text(p)
    decision = None
    if plan.routing is not None and intake.router.enabled:
        await plan.routing
        decision = intake.router.peek(text)
    cfg = intake.services.settings.router
    first: tuple[Verdict, uuid.UUID, FollowonComplaint | None] | None = None
    burst = _may_join_burst(intake, p)
    for cid in [target, *[o for o in (others or []) if o != target]]:
        found = await _open_complaint(intake, conn, plan, cid, burst)
        if found is None:
            continue
        oc, row = found
        verdict = judge(
            text,
            oc,
            category=decision.category if decision is not None else None,
            confidence=decision.confidence if decision is not None else 0.0,
            min_confidence=cfg.min_confidence,
        )
        if first is None:
            first = (verdict, cid, row)
        if verdict.reply and not verdict.reason.startswith(_WEAK):
            return verdict, cid, row
    if first is None:
        return Verdict(True, "open complaint not found: kept as a reply"), target, None
    return first


def as_complaint(p: ComplaintDraft | ReplyDraft) -> ComplaintDraft:
    """A message judged a new complaint, as the draft intake plans (status-page text)."""
    if isinstance(p, ComplaintDraft):
        return p
    return ComplaintDraft(
        channel=p.channel, content=p.text, submitted_at=p.sent_at, origin={"from_status_page": True}
    )


def events(
    verdict: Verdict, target: uuid.UUID, new_id: uuid.UUID | None, actor: str
) -> list[tuple[uuid.UUID | None, str, str, dict[str, Any]]]:
    """The decision on the open complaint's timeline, and on the new complaint's."""
    data = {**verdict.as_json(), "open_complaint": str(target)}
    if new_id is None:
        return [(target, EVENT, actor, data)]
    data["new_complaint"] = str(new_id)
    return [(target, EVENT, actor, data), (new_id, EVENT, actor, data)]


async def move_reply_to_complaint(
    services: Any, conn: asyncpg.Connection, reply_id: uuid.UUID, operator: str
) -> tuple[uuid.UUID, uuid.UUID] | None:
    """An operator's move of a reply to a new complaint (the dashboard's "Jadikan pengaduan
    baru", ``satukanal complaints from-reply``): routed like any new complaint, its text read
    as intake reads a complaint without a title. (new id, open complaint id), or None when
    the reply is unknown or has already reached LAPOR!."""
    from aggregator.intake.routing import Router
    from aggregator.storage import judgement as judgement_repo

    reply = await judgement_repo.movable_reply(conn, reply_id)
    if reply is None:
        return None
    router = Router(services.settings, process=getattr(services, "model_process", None))
    moved = None
    if router.enabled:
        text = f"\n{clean_text(reply.text)}"
        await router.prepare_async([text])
        r = router.route(text, reply.source_agency)
        moved = judgement_repo.MovedRoute(
            r.agency, r.policy_category, r.code, r.confidence, r.reasons, r.triage
        )
    return await judgement_repo.reply_as_complaint(conn, reply_id, operator, moved)
