"""Ingest one batch from a source in one transaction.

Raw items, complaints, reporters, attachments, jobs, timeline events and the source's new
cursor commit together; the caller acknowledges the batch to the channel only afterwards
(docs/design.md, guarantee 1). The work is done in bulk (a handful of round trips per batch, not per
item); if the bulk write fails on one bad item the batch is retried item by item under
savepoints so the poison item is quarantined and the rest flows on.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import asyncpg
import structlog

from aggregator.errors import InvalidInput
from aggregator.intake.normalize import clean_text, derive_title
from aggregator.intake.pii import SealedReporter, phone_key, seal, strip_exif
from aggregator.intake.routing import Route, Router
from aggregator.storage.db import json_text as _json
from aggregator.storage.sqlfiles import q
from connectors.base import Batch, RawItem
from schemas.complaint import (
    CLOSED_STATUSES,
    ComplaintDraft,
    ComplaintStatus,
    Ignored,
    LegacyUpdate,
    Parsed,
    ReplyDraft,
)
from schemas.events import EventKind, JobKind, RawState

if TYPE_CHECKING:
    from aggregator.wiring.services import Services

log = structlog.get_logger(__name__)

Decision = Literal["push", "history"]
DUPLICATE_WINDOW_DAYS = 7


@dataclass
class IngestResult:
    new: int = 0
    skipped: int = 0  # already held: a re-pull
    complaints: int = 0
    duplicates: int = 0
    history: int = 0
    replies: int = 0
    ignored: int = 0
    quarantined: int = 0
    updates: int = 0  # a legacy form row's later changes applied to its complaint
    complaint_ids: list[uuid.UUID] = field(default_factory=list)
    reasons: dict[str, int] = field(default_factory=dict)

    def add(self, other: IngestResult) -> None:
        for name in (
            "new",
            "skipped",
            "complaints",
            "duplicates",
            "history",
            "replies",
            "ignored",
            "quarantined",
            "updates",
        ):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.complaint_ids.extend(other.complaint_ids)
        for k, v in other.reasons.items():
            self.reasons[k] = self.reasons.get(k, 0) + v


def content_hash(text: str) -> bytes:
    norm = re.sub(r"\W+", " ", text.lower()).strip()
    return hashlib.sha256(norm.encode()).digest()


def _parse(parse: Callable[[RawItem], Parsed], item: RawItem) -> Parsed | InvalidInput:
    try:
        return parse(item)
    except InvalidInput as exc:
        return exc
    except Exception as exc:  # a parser bug must not lose the item: quarantine it
        return InvalidInput(f"parser failed: {type(exc).__name__}: {exc}")


@dataclass
class _Plan:
    """What one batch will write, built in Python before the bulk statements."""

    states: list[tuple[int, str, str | None, uuid.UUID | None]] = field(default_factory=list)
    reporters: list[SealedReporter] = field(default_factory=list)
    complaints: list[tuple[Any, ...]] = field(default_factory=list)
    attachments: list[tuple[uuid.UUID, ComplaintDraft]] = field(default_factory=list)
    jobs: list[tuple[str, uuid.UUID | None, dict[str, Any], str | None]] = field(
        default_factory=list
    )
    events: list[tuple[uuid.UUID | None, str, str, dict[str, Any]]] = field(default_factory=list)
    reply_rows: list[tuple[Any, ...]] = field(default_factory=list)
    resolved: list[tuple[uuid.UUID, bool]] = field(default_factory=list)
    # Newest open complaint per phone hash: prefetched for the batch, then extended with the
    # complaints this batch plans, so a second SMS from one number in one batch is a reply.
    by_phone: dict[bytes, tuple[uuid.UUID, dt.datetime]] = field(default_factory=dict)


class Intake:
    """Turns batches into stored complaints. One per process; holds no connection."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.crypto = services.crypto
        self.router = Router(services.settings)
        self.reply_window_days = services.settings.notify.reply_window_days

    async def ingest(
        self,
        source: Any,
        batch: Batch,
        *,
        decide: Callable[[ComplaintDraft], Decision] | None = None,
        conn: asyncpg.Connection | None = None,
    ) -> IngestResult:
        if conn is not None:
            return await self._ingest_tx(conn, source, batch, decide)
        async with self.services.pool.acquire() as c:
            return await self._ingest_tx(c, source, batch, decide)

    async def _ingest_tx(
        self,
        conn: asyncpg.Connection,
        source: Any,
        batch: Batch,
        decide: Callable[[ComplaintDraft], Decision] | None,
    ) -> IngestResult:
        parsed = [(item, _parse(source.parse, item)) for item in batch.items]
        try:
            async with conn.transaction():
                result = await self._write(conn, source, parsed, decide)
                await self._save_cursor(conn, source, batch, len(batch.items))
            return result
        except asyncpg.PostgresError as exc:
            if len(parsed) <= 1:
                return await self._quarantine_all(conn, source, batch, parsed, exc)
            log.warning("intake_batch_fell_back", source=source.name, error=str(exc)[:200])
        # One item broke the bulk write: redo the batch item by item under savepoints.
        result = IngestResult()
        async with conn.transaction():
            for pair in parsed:
                try:
                    async with conn.transaction():
                        result.add(await self._write(conn, source, [pair], decide))
                except asyncpg.PostgresError as exc:
                    result.add(
                        await self._quarantine_items(
                            conn, source, [pair[0]], f"could not be stored: {exc}"
                        )
                    )
            await self._save_cursor(conn, source, batch, len(batch.items))
        return result

    async def _quarantine_all(
        self,
        conn: asyncpg.Connection,
        source: Any,
        batch: Batch,
        parsed: list[tuple[RawItem, Any]],
        exc: Exception,
    ) -> IngestResult:
        async with conn.transaction():
            result = await self._quarantine_items(
                conn, source, [p[0] for p in parsed], f"could not be stored: {exc}"
            )
            await self._save_cursor(conn, source, batch, len(batch.items))
        return result

    async def _quarantine_items(
        self, conn: asyncpg.Connection, source: Any, items: Sequence[RawItem], reason: str
    ) -> IngestResult:
        result = IngestResult()
        for item in items:
            rid = await conn.fetchval(
                """INSERT INTO raw_items (source, source_ref, received_at, content_type, payload,
                                          meta, state, reason)
                   VALUES ($1, $2, $3, $4, $5, '{}', 'quarantined', $6)
                   ON CONFLICT (source, source_ref) DO NOTHING RETURNING id""",
                source.name,
                item.source_ref,
                item.received_at,
                item.content_type,
                item.payload,
                reason[:2000],
            )
            if rid is None:
                result.skipped += 1
            else:
                result.new += 1
                result.quarantined += 1
                result.reasons[reason[:80]] = result.reasons.get(reason[:80], 0) + 1
        return result

    async def _save_cursor(
        self, conn: asyncpg.Connection, source: Any, batch: Batch, n: int
    ) -> None:
        await conn.execute(q("save_source_cursor"), source.name, source.kind, batch.cursor, n)

    async def _write(
        self,
        conn: asyncpg.Connection,
        source: Any,
        parsed: list[tuple[RawItem, Parsed | InvalidInput]],
        decide: Callable[[ComplaintDraft], Decision] | None,
    ) -> IngestResult:
        result = IngestResult()
        if not parsed:
            return result
        rows = await conn.fetch(
            q("insert_raw_items"),
            source.name,
            [i.source_ref for i, _ in parsed],
            [i.received_at for i, _ in parsed],
            [i.content_type for i, _ in parsed],
            [i.payload for i, _ in parsed],
            [_json(i.meta) for i, _ in parsed],
            [hashlib.sha256(i.payload).digest() for i, _ in parsed],
        )
        raw_ids = {r["source_ref"]: r["id"] for r in rows}
        result.skipped = len(parsed) - len(raw_ids)
        result.new = len(raw_ids)
        fresh = [(raw_ids[i.source_ref], i, p) for i, p in parsed if i.source_ref in raw_ids]
        plan = _Plan()
        drafts = [(rid, p) for rid, _, p in fresh if isinstance(p, ComplaintDraft)]
        dup_index = await self._duplicates_index(conn, [d for _, d in drafts])
        # One model call for the batch; _plan_complaint's route() then reads the result.
        self.router.prepare([f"{d.title or ''}\n{clean_text(d.content)}" for _, d in drafts])
        plan.by_phone = await self._open_by_phone(conn, [p for _, _, p in fresh])
        for raw_id, item, p in fresh:
            if isinstance(p, InvalidInput):
                plan.states.append((raw_id, RawState.QUARANTINED, str(p)[:2000], None))
                result.quarantined += 1
                key = str(p)[:80]
                result.reasons[key] = result.reasons.get(key, 0) + 1
            elif isinstance(p, LegacyUpdate):
                await self._apply_legacy_update(conn, plan, result, source, raw_id, p)
            elif isinstance(p, Ignored):
                plan.states.append((raw_id, RawState.IGNORED, p.reason, None))
                result.ignored += 1
                if p.answer and item.meta.get("reply_to"):
                    plan.jobs.append(
                        (
                            JobKind.NOTIFY,
                            None,
                            {
                                "event": "usage",
                                "text": p.answer,
                                "source": source.name,
                                "address": item.meta["reply_to"],
                            },
                            f"usage:{source.name}:{item.source_ref}",
                        )
                    )
            elif isinstance(p, ReplyDraft) or (
                isinstance(p, ComplaintDraft)
                and (p.origin.get("maybe_reply_by_phone") or p.origin.get("maybe_reply_thread"))
            ):
                await self._plan_reply(conn, plan, result, source, raw_id, p, dup_index, decide)
            else:
                assert isinstance(p, ComplaintDraft)
                self._plan_complaint(plan, result, source, raw_id, p, dup_index, decide)
        await self._flush(conn, plan, source)
        return result

    async def _apply_legacy_update(
        self,
        conn: asyncpg.Connection,
        plan: _Plan,
        result: IngestResult,
        source: Any,
        raw_id: int,
        u: LegacyUpdate,
    ) -> None:
        """A form row changed in the old database after its import: onto its complaint's
        timeline. The complaint is updated at once (in this transaction), so a second update
        of the same row in one batch compares against the first; what the complaint already
        holds (status, response ids, deletion) is never recorded twice."""
        row = await conn.fetchrow(q("find_complaint_by_form_row"), source.name, u.thread_key)
        if row is None:
            why = f"baris formulir lama {u.row_id} belum pernah diimpor"
            plan.states.append((raw_id, RawState.QUARANTINED, why, None))
            result.quarantined += 1
            result.reasons[why[:80]] = result.reasons.get(why[:80], 0) + 1
            return
        cid, origin = row["id"], row["origin"] or {}
        result.updates += 1
        data: dict[str, Any] = {"form_table": u.form_table, "row_id": u.row_id}
        if u.deleted:
            if origin.get("legacy_row_deleted"):
                plan.states.append((raw_id, RawState.ACCEPTED, "sudah tercatat", cid))
                return
            await conn.execute(
                q("apply_legacy_form_update"), cid, None, {"legacy_row_deleted": True}
            )
            plan.states.append((raw_id, RawState.ACCEPTED, None, cid))
            plan.events.append((cid, EventKind.LEGACY_ROW_DELETED, f"source:{source.name}", data))
            return
        held = list(origin.get("legacy_responses") or [])
        known = {str(r.get("id")) for r in held}
        new = [r.model_dump(mode="json") for r in u.responses if r.id not in known]
        before = origin.get("legacy_status_raw")
        changed = u.status_raw != before
        if not changed and not new:
            plan.states.append((raw_id, RawState.ACCEPTED, "tidak ada perubahan baru", cid))
            return
        patch: dict[str, Any] = {"legacy_status_raw": u.status_raw}
        if new:
            patch["legacy_responses"] = held + new
            data["responses"] = new
        if changed:
            data.update(
                status_before=before,
                status_after=u.status_raw,
                legacy_status_before=row["legacy_status"],
                legacy_status_after=u.status or row["legacy_status"],
            )
            if u.status is None:
                data["status_unmapped"] = True
            if row["status"] in u.write_back_statuses:
                data["same_as_write_back"] = True  # what write-back writes for our status
        await conn.execute(q("apply_legacy_form_update"), cid, u.status if changed else None, patch)
        plan.states.append((raw_id, RawState.ACCEPTED, None, cid))
        plan.events.append((cid, EventKind.LEGACY_FORM_UPDATED, f"source:{source.name}", data))

    async def _open_by_phone(
        self, conn: asyncpg.Connection, parsed: list[Parsed | InvalidInput]
    ) -> dict[bytes, tuple[uuid.UUID, dt.datetime]]:
        """One query for the whole batch instead of one per SMS."""
        hashes = {
            h
            for p in parsed
            if isinstance(p, ComplaintDraft)
            and p.origin.get("maybe_reply_by_phone")
            and (h := self.crypto.match_hash("phone", phone_key(p.reporter.phone)))
        }
        if not hashes:
            return {}
        longest = max(
            [self.reply_window_days]
            + [
                int(p.origin.get("reply_window_days") or 0)
                for p in parsed
                if isinstance(p, ComplaintDraft)
            ]
        )
        rows = await conn.fetch(q("find_open_complaints_by_phone_hashes"), list(hashes), longest)
        return {bytes(r["phone_hash"]): (r["id"], r["received_at"]) for r in rows}

    async def _duplicates_index(
        self, conn: asyncpg.Connection, drafts: list[ComplaintDraft]
    ) -> dict[bytes, list[tuple[uuid.UUID, bytes | None, bytes | None, bytes | None]]]:
        if not drafts:
            return {}
        hashes = list({content_hash(d.content) for d in drafts})
        rows = await conn.fetch(q("find_recent_duplicates"), hashes, DUPLICATE_WINDOW_DAYS)
        index: dict[bytes, list[tuple[uuid.UUID, bytes | None, bytes | None, bytes | None]]] = {}
        for r in rows:
            index.setdefault(bytes(r["content_hash"]), []).append(
                (r["id"], r["phone_hash"], r["email_hash"], r["nik_hash"])
            )
        return index

    def _plan_complaint(
        self,
        plan: _Plan,
        result: IngestResult,
        source: Any,
        raw_id: int,
        d: ComplaintDraft,
        dup_index: dict[bytes, list[Any]],
        decide: Callable[[ComplaintDraft], Decision] | None,
    ) -> None:
        cfg = source.cfg
        content = clean_text(d.content)
        if not content:
            plan.states.append((raw_id, RawState.QUARANTINED, "empty complaint text", None))
            result.quarantined += 1
            return
        cid = uuid.uuid4()
        sealed = None if d.reporter.is_empty() else seal(self.crypto, d.reporter)
        chash = content_hash(content)
        duplicate_of = self._find_duplicate(dup_index, chash, sealed)
        route = self.router.route(f"{d.title or ''}\n{content}", cfg.agency)
        if duplicate_of is not None:
            status = ComplaintStatus.DUPLICATE
        elif decide is not None and decide(d) == "history":
            status = ComplaintStatus.HISTORY
        else:
            status = ComplaintStatus.RECEIVED
        if sealed is not None:
            plan.reporters.append(sealed)
        plan.complaints.append(
            complaint_row(d, content, cid, raw_id, sealed, status, duplicate_of, chash, route)
        )
        if d.attachments:
            plan.attachments.append((cid, d))
        plan.states.append(
            (
                raw_id,
                RawState.DUPLICATE if duplicate_of else RawState.ACCEPTED,
                f"same text as {duplicate_of}" if duplicate_of else None,
                cid,
            )
        )
        plan.events.append(
            (cid, "complaint_ingested", f"source:{source.name}",
             ingested_event(source, d, status, route))
        )
        result.complaint_ids.append(cid)
        result.complaints += 1
        if status is ComplaintStatus.RECEIVED:
            if sealed is not None and sealed.phone_hash is not None:
                plan.by_phone[sealed.phone_hash] = (cid, self.services.clock())
            plan.jobs.append((JobKind.PUSH, cid, {}, f"push:{cid}"))
            if cfg.sunset:
                plan.jobs.append((JobKind.NOTIFY, cid, {"event": "sunset"}, f"sunset:{cid}"))
        elif status is ComplaintStatus.DUPLICATE:
            result.duplicates += 1
            plan.events.append(
                (cid, "complaint_linked", "system", {"duplicate_of": str(duplicate_of)})
            )
            plan.jobs.append(
                (
                    JobKind.NOTIFY,
                    cid,
                    {"event": "complaint_linked", "duplicate_of": str(duplicate_of)},
                    f"linked:{cid}",
                )
            )
        else:
            result.history += 1
        if sealed is not None:
            # Later duplicates in the same batch see this one.
            dup_index.setdefault(chash, []).append(
                (cid, sealed.phone_hash, sealed.email_hash, sealed.nik_hash)
            )
        else:
            dup_index.setdefault(chash, []).append((cid, None, None, None))

    @staticmethod
    def _find_duplicate(
        index: dict[bytes, list[Any]], chash: bytes, sealed: SealedReporter | None
    ) -> uuid.UUID | None:
        """Same text from the same reporter (or two reporters with no identity) in the window:
        a double submission. Same text from different people is a cluster, not a duplicate."""
        for cid, phone_h, email_h, nik_h in index.get(chash, []):
            if sealed is None:
                if phone_h is None and email_h is None and nik_h is None:
                    return cid  # type: ignore[no-any-return]
                continue
            for mine, theirs in (
                (sealed.phone_hash, phone_h),
                (sealed.email_hash, email_h),
                (sealed.nik_hash, nik_h),
            ):
                if mine is not None and theirs is not None and bytes(theirs) == mine:
                    return cid  # type: ignore[no-any-return]
        return None

    async def _plan_reply(
        self,
        conn: asyncpg.Connection,
        plan: _Plan,
        result: IngestResult,
        source: Any,
        raw_id: int,
        p: ReplyDraft | ComplaintDraft,
        dup_index: dict[bytes, list[Any]],
        decide: Callable[[ComplaintDraft], Decision] | None,
    ) -> None:
        target = await self._resolve_reply(conn, plan, p)
        if target is None:
            if isinstance(p, ComplaintDraft):  # no open complaint from this number: a new one
                self._plan_complaint(plan, result, source, raw_id, p, dup_index, decide)
                return
            plan.states.append(
                (raw_id, RawState.QUARANTINED, "reply matches no known complaint", None))
            result.quarantined += 1
            result.reasons["reply matches no known complaint"] = (
                result.reasons.get("reply matches no known complaint", 0) + 1
            )
            return
        text = clean_text(p.text if isinstance(p, ReplyDraft) else p.content)
        resolved = p.resolved if isinstance(p, ReplyDraft) else None
        sent_at = p.sent_at if isinstance(p, ReplyDraft) else p.submitted_at
        reply_id = uuid.uuid4()
        plan.reply_rows.append(
            (reply_id, target, raw_id, p.channel.value, text or "(kosong)", sent_at, resolved)
        )
        plan.states.append((raw_id, RawState.REPLY, None, target))
        plan.jobs.append(
            (JobKind.REPLY_UP, target, {"reply_id": str(reply_id)}, f"reply:{reply_id}"))
        plan.events.append(
            (
                target,
                EventKind.REPORTER_REPLIED,
                f"source:{source.name}",
                {"reply_id": str(reply_id), "channel": p.channel.value, "resolved": resolved},
            )
        )
        if resolved is not None:
            plan.resolved.append((target, resolved))
        result.replies += 1

    async def _resolve_reply(
        self, conn: asyncpg.Connection, plan: _Plan, p: ReplyDraft | ComplaintDraft
    ) -> uuid.UUID | None:
        crypto = self.crypto
        if isinstance(p, ComplaintDraft):
            # E-mail: a message in the thread of a known complaint (the citizen's own original,
            # a staff member's manual answer) is a reply; otherwise it is a new complaint.
            refs = p.origin.get("references") if p.origin.get("maybe_reply_thread") else None
            if refs:
                row = await conn.fetchrow(q("find_complaint_by_thread"), list(refs))
                if row:
                    return row["id"]  # type: ignore[no-any-return]
            if not p.origin.get("maybe_reply_by_phone"):
                return None
            phone_h = crypto.match_hash("phone", phone_key(p.reporter.phone))
            hit = plan.by_phone.get(phone_h) if phone_h is not None else None
            if hit is None:
                return None
            window = int(p.origin.get("reply_window_days") or self.reply_window_days)
            if hit[1] < self.services.clock() - dt.timedelta(days=window):
                return None
            return hit[0]
        if p.complaint_id:
            row = await conn.fetchrow(q("find_complaint_by_id"), uuid.UUID(p.complaint_id))
            if row:
                return row["id"]  # type: ignore[no-any-return]
        if p.tracking_id:
            row = await conn.fetchrow(q("find_complaint_by_tracking_id"), p.tracking_id)
            if row:
                return row["id"]  # type: ignore[no-any-return]
        if p.in_reply_to:
            row = await conn.fetchrow(q("find_complaint_by_thread"), list(p.in_reply_to))
            if row:
                return row["id"]  # type: ignore[no-any-return]
        if p.phone or p.email:
            # SUDAH/BELUM answers may concern a complaint that was just closed.
            row = await conn.fetchrow(
                q("find_open_complaint_by_reporter_hash"),
                crypto.match_hash("phone", phone_key(p.phone)),
                crypto.match_hash("email", p.email),
                self.reply_window_days,
                p.resolved is not None,
            )
            if row:
                return row["id"]  # type: ignore[no-any-return]
        return None

    async def _flush(self, conn: asyncpg.Connection, plan: _Plan, source: Any) -> None:
        if plan.reporters:
            cols = list(
                zip(
                    *[
                        (
                            r.id,
                            r.key_id,
                            r.name_enc,
                            r.email_enc,
                            r.phone_enc,
                            r.nik_enc,
                            r.email_hash,
                            r.phone_hash,
                            r.nik_hash,
                            r.nik_valid,
                        )
                        for r in plan.reporters
                    ],
                    strict=True,
                )
            )
            await conn.execute(q("insert_reporters"), *[list(c) for c in cols])
        if plan.complaints:
            columns = [list(c) for c in zip(*plan.complaints, strict=True)]
            for i in _JSON_COLUMNS:  # jsonb travels as text[] through unnest
                columns[i] = [None if v is None else _json(v) for v in columns[i]]
            await conn.execute(q("insert_complaints"), source.name, source.cfg.agency, *columns)
        if plan.reply_rows:
            cols = list(zip(*plan.reply_rows, strict=True))
            await conn.execute(q("insert_reporter_replies"), *[list(c) for c in cols])
        for cid, resolved in plan.resolved:
            await conn.execute(q("set_resolved_by_reporter"), cid, resolved)
        for cid, d in plan.attachments:
            for att in d.attachments:
                if d.anonymous:
                    att = strip_exif(att)
                digest = hashlib.sha256(att.data).digest()
                await conn.execute(
                    q("insert_attachment"), digest, att.content_type, len(att.data), att.data
                )
                await conn.execute(q("link_attachment"), cid, digest, att.filename, att.note)
        if plan.states:
            cols = list(zip(*plan.states, strict=True))
            await conn.execute(q("set_raw_states"), *[list(c) for c in cols])
        if plan.jobs:
            cols = list(zip(*[(k, c, _json(p), d, None) for k, c, p, d in plan.jobs], strict=True))
            await conn.execute(q("insert_jobs"), *[list(c) for c in cols])
            await conn.execute(q("notify_jobs"), "intake")
        if plan.events:
            cols = list(zip(*[(c, k, a, _json(d)) for c, k, a, d in plan.events], strict=True))
            await conn.execute(q("insert_events"), *[list(c) for c in cols])


# A planned complaint, in insert_complaints' order after its per-batch parameters (source,
# source_agency); the bulk path COPYs the same tuples.
COMPLAINT_ROW = (
    "id", "channel", "raw_item_id", "reporter_id", "title", "content", "classification",
    "agency_id", "anonymous", "confidential", "location", "occurred_on", "submitted_at",
    "status", "duplicate_of", "content_hash", "thread_keys", "origin", "flags",
    "legacy_status", "category_id", "route_category", "route_agency", "route_confidence",
    "route_reasons", "needs_triage",
)
_JSON_COLUMNS = tuple(
    COMPLAINT_ROW.index(c) for c in ("location", "thread_keys", "origin", "flags", "route_reasons")
)


def complaint_row(
    d: ComplaintDraft,
    content: str,
    cid: uuid.UUID,
    raw_id: int | None,
    sealed: SealedReporter | None,
    status: ComplaintStatus,
    duplicate_of: uuid.UUID | None,
    chash: bytes,
    route: Route,
) -> tuple[Any, ...]:
    """The stored complaint for a draft whose text is ``content`` (cleaned), as a
    COMPLAINT_ROW tuple; json columns as Python values."""
    title = clean_text(d.title) if d.title else derive_title(content)
    return (
        cid,
        d.channel.value,
        raw_id,
        sealed.id if sealed else None,
        title[:150],
        content,
        d.classification.value,
        route.agency,
        d.anonymous,
        d.confidential,
        d.location.model_dump(exclude_none=True) if d.location else None,
        d.occurred_on,
        d.submitted_at,
        status.value,
        duplicate_of,
        chash,
        list(d.thread_keys),
        d.origin,
        list(d.flags),
        d.legacy_status,
        route.category or d.category_hint,
        route.policy_category,
        route.code,
        route.confidence,
        list(route.reasons),
        route.triage,
    )


def ingested_event(
    source: Any, d: ComplaintDraft, status: ComplaintStatus, route: Route
) -> dict[str, Any]:
    """The data of a complaint's ``complaint_ingested`` event."""
    data: dict[str, Any] = {"source": source.name, "channel": d.channel.value,
                            "status": status.value}
    if route.rule:
        data["routed_by"] = route.rule
    if route.triage:
        data["triage"] = True
    if d.flags:
        data["flags"] = list(d.flags)
    return data


# Re-exported for callers that only need the closed set.
__all__ = ["CLOSED_STATUSES", "Decision", "IngestResult", "Intake", "content_hash"]
