"""Ingest one batch from a source in one transaction.

Raw items, complaints, reporters, attachments, jobs, timeline events and the source's new
cursor commit together; the caller acknowledges the batch to the channel only afterwards
(docs/design.md, guarantee 1). The work is done in bulk (a handful of round trips per batch, not per
item); if the bulk write fails on one bad item the batch is retried item by item under
savepoints so the poison item is quarantined and the rest flows on.
"""

from __future__ import annotations

import asyncio
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
from aggregator.intake import clusters, followon
from aggregator.intake.anonymity import PLACEHOLDERS, redact_draft
from aggregator.intake.images import (
    ImageRefused,
    anonymous_name,
    clean_photo,
    configure_pillow,
    scrub_original,
)
from aggregator.intake.normalize import clean_text, derive_title, settle_draft
from aggregator.intake.pii import SealedReporter, phone_key, seal
from aggregator.intake.routing import Route, Router
from aggregator.intake.sanitize import json_safe, safe_text, storable_model
from aggregator.intake.sealing import open_payload, seal_job_payload, seal_meta, seal_payload
from aggregator.judgement.junk import JunkFilter
from aggregator.redact import redact_text
from aggregator.storage import intake as repo
from aggregator.storage import jobs as jobs_repo
from aggregator.storage import privacy as privacy_repo
from aggregator.storage import replies as replies_repo
from aggregator.storage import sources as sources_repo
from aggregator.storage.db import json_text as _json
from connectors.base import Batch, RawItem
from connectors.base.receipts import normalize_code
from schemas.complaint import (
    CLOSED_STATUSES,
    ComplaintDraft,
    ComplaintStatus,
    Ignored,
    LegacyUpdate,
    Parsed,
    ReplyDraft,
)
from schemas.events import EventKind, JobKind, JobLane, RawState

if TYPE_CHECKING:
    from aggregator.wiring.services import Services

log = structlog.get_logger(__name__)

# Channels where citizens write in bursts of short messages ([bursts] quiet_window_s).
BURST_CHANNELS = frozenset({"sms", "whatsapp"})

Decision = Literal["push", "history"]
DUPLICATE_WINDOW_DAYS = 7


SKIPPED = "skipped"  # an item's outcome when its reference was held already


@dataclass(frozen=True)
class ItemResult:
    """What became of one item of a batch: its raw item's state (``RawState``) or
    ``SKIPPED``, and the new complaint it made, if it made one."""

    state: str
    complaint_id: uuid.UUID | None = None


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
    attachments_quarantined: int = 0  # images that could not be cleaned; complaints go on
    bursts: int = 0  # messages added to their sender's complaint not yet pushed
    complaint_ids: list[uuid.UUID] = field(default_factory=list)
    reasons: dict[str, int] = field(default_factory=dict)
    # Each item by its source_ref: an intake that wrote several requests in one batch
    # answers each with its own outcome (``intake/group.py``).
    items: dict[str, ItemResult] = field(default_factory=dict)

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
            "attachments_quarantined",
            "bursts",
        ):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.complaint_ids.extend(other.complaint_ids)
        self.items.update(other.items)
        for k, v in other.reasons.items():
            self.reasons[k] = self.reasons.get(k, 0) + v


def content_hash(text: str) -> bytes:
    norm = re.sub(r"\W+", " ", text.lower()).strip()
    return hashlib.sha256(norm.encode()).digest()


def _parse(parse: Callable[[RawItem], Parsed], item: RawItem) -> Parsed | InvalidInput:
    try:
        parsed = parse(item)
        # Once, here: the same object is then planned (a backfill's decisions key on it).
        return settle_draft(parsed) if isinstance(parsed, ComplaintDraft) else parsed
    except InvalidInput as exc:
        return exc
    except Exception as exc:  # a parser bug must not lose the item: quarantine it
        return InvalidInput(f"parser failed: {type(exc).__name__}: {exc}")


# How an anonymous reporter's typed identity reads in the text agencies and LAPOR! see.
_ID_PLACEHOLDER = PLACEHOLDERS.__getitem__
# Attachments that carry a whole message, headers and all: never passed on for an anonymous
# reporter (quarantined, sealed, for administrators).
NAMING_TYPES = frozenset({"message/rfc822", "message/global", "application/vnd.ms-outlook"})


_TRACE = re.compile(
    rb"^(received|return-path|delivered-to|x-[\w-]+|dkim-signature|arc-[\w-]+|"
    rb"authentication-results|received-spf)$",
    re.IGNORECASE,
)


def mail_identity(raw: bytes) -> bytes:
    """What makes an e-mail the same message, whatever the way it arrived: its headers
    without the trace fields servers add on the way (Received, Delivered-To, X-…) and its
    body, with line endings made equal."""
    raw = raw.replace(b"\r\n", b"\n")
    head, _, body = raw.partition(b"\n\n")
    kept: list[bytes] = []
    keep = True
    for line in head.split(b"\n"):
        if line[:1] in (b" ", b"\t"):
            if keep:
                kept.append(line)
            continue
        keep = not _TRACE.match(line.split(b":", 1)[0].strip())
        if keep:
            kept.append(line)
    return hashlib.sha256(b"\n".join(kept) + b"\n\n" + body).digest()


def refused(exc: BaseException) -> bool:
    """The database refused this data, as opposed to: the database is unreachable or shutting
    down (then nothing may be quarantined; the batch is retried on the next poll)."""
    return not isinstance(
        exc,
        (
            asyncpg.PostgresConnectionError,
            asyncpg.OperatorInterventionError,
            asyncpg.InsufficientResourcesError,
        ),
    )


def storable(item: RawItem) -> RawItem:
    """The item with the text PostgreSQL would refuse (NUL, lone surrogates) replaced in its
    reference, content type and metadata; the payload bytes stay as they came."""
    ref, ctype, meta = safe_text(item.source_ref), safe_text(item.content_type), item.meta
    try:
        _json(meta)
        clean_meta = json_safe(meta)
    except (TypeError, ValueError):
        clean_meta = {"unserialisable_meta": True}
    if ref == item.source_ref and ctype == item.content_type and clean_meta == meta:
        return item
    return RawItem(ref, item.payload, item.received_at, clean_meta, ctype)


@dataclass
class _Plan:
    """What one batch will write, built in Python before the bulk statements."""

    lane: JobLane = JobLane.LIVE  # of every job the batch queues

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
    # Likewise per e-mail address, for mail outside any known thread (judged by content).
    by_email: dict[bytes, tuple[uuid.UUID, dt.datetime]] = field(default_factory=dict)
    # Every open complaint per phone, newest first (a message may be about an older one),
    # and the text of complaints planned in this batch (not yet written).
    open_by_phone: dict[bytes, list[uuid.UUID]] = field(default_factory=dict)
    planned_text: dict[uuid.UUID, str] = field(default_factory=dict)
    # New complaints that may join a cluster: id → (text, routing category once known).
    clusterable: dict[uuid.UUID, list[Any]] = field(default_factory=dict)
    # The cluster each of them joins (found or opened just before the complaints are written).
    cluster_of: dict[uuid.UUID, uuid.UUID] = field(default_factory=dict)
    # Push jobs held back until the sender's burst is quiet: dedup key → run after.
    run_after: dict[str, dt.datetime] = field(default_factory=dict)
    # Complaints written before the batch's routing was back: (id, text, channel's agency,
    # their complaint_ingested event's data), routed in _flush once the model has answered,
    # before they are written.
    unrouted: list[tuple[uuid.UUID, str, str | None, dict[str, Any]]] = field(default_factory=list)
    routing: asyncio.Future[None] | None = None
    # Read in the model's process with the batch's routing (None: read here, when asked):
    # why each draft is junk, by the draft object's id (the batch's drafts live as long as
    # the plan), and the place each routed text names.
    junk: dict[int, str | None] | None = None
    places: dict[str, str | None] | None = None


class Intake:
    """Turns batches into stored complaints. One per process; holds no connection."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.crypto = services.crypto
        self.router = Router(services.settings, process=getattr(services, "model_process", None))
        self.reply_window_days = services.settings.notify.reply_window_days
        configure_pillow(services.settings.privacy.image_max_pixels)
        self.junk = JunkFilter(services.settings.junk)
        # what the model's process needs to build the same filter
        junk = services.settings.junk
        self._junk_json = junk.model_dump_json() if junk.enabled else None

    async def ingest(
        self,
        source: Any,
        batch: Batch,
        *,
        decide: Callable[[ComplaintDraft], Decision] | None = None,
        conn: asyncpg.Connection | None = None,
        lane: JobLane = JobLane.LIVE,
    ) -> IngestResult:
        """Write one batch in one transaction. ``lane``: the queue lane of the jobs it
        creates (a backfill's are bulk, so live work never waits behind them)."""
        if conn is not None:
            return await self._ingest_tx(conn, source, batch, decide, lane)
        async with self.services.pool.acquire() as c:
            return await self._ingest_tx(c, source, batch, decide, lane)

    async def _ingest_tx(
        self,
        conn: asyncpg.Connection,
        source: Any,
        batch: Batch,
        decide: Callable[[ComplaintDraft], Decision] | None,
        lane: JobLane = JobLane.LIVE,
    ) -> IngestResult:
        items = [storable(i) for i in batch.items]
        parsed, bad_attachments = await self._prepare(source, items)
        try:
            async with conn.transaction():
                result = await self._write(conn, source, parsed, decide, lane)
                await self._quarantine_attachments(conn, source, bad_attachments, result)
                await self._save_cursor(conn, source, batch, len(items))
            return result
        except asyncpg.PostgresError as exc:
            if not refused(exc):
                raise
            log.warning(
                "intake_batch_fell_back",
                source=source.name,
                size=len(parsed),
                error=redact_text(str(exc))[:200],
            )
        # Something in the batch broke the bulk write: split it in halves under savepoints
        # until the bad item stands alone, and quarantine that one; the rest flows on.
        result = IngestResult()
        async with conn.transaction():
            await self._write_split(conn, source, parsed, decide, result, lane)
            await self._quarantine_attachments(conn, source, bad_attachments, result)
            await self._save_cursor(conn, source, batch, len(items))
        return result

    async def _prepare(
        self, source: Any, items: list[RawItem]
    ) -> tuple[list[tuple[RawItem, Parsed | InvalidInput]], list[tuple[RawItem, str]]]:
        """Parse the batch and make its drafts safe to pass on: CPU work, so in a worker
        thread (a hostile e-mail must not freeze every loop and /healthz)."""
        parsed = await asyncio.to_thread(lambda: [(i, _parse(source.parse, i)) for i in items])
        bad: list[tuple[RawItem, str]] = []
        out: list[tuple[RawItem, Parsed | InvalidInput]] = []
        for item, p in parsed:
            if not isinstance(p, InvalidInput):
                p = storable_model(p)
            if isinstance(p, ComplaintDraft):
                p, item = await self._protect(item, p, bad)
            out.append((item, p))
        return out, bad

    async def _protect(
        self, item: RawItem, d: ComplaintDraft, bad: list[tuple[RawItem, str]]
    ) -> tuple[ComplaintDraft, RawItem]:
        """An anonymous reporter's typed phone, NIK, e-mail and own name redacted in the
        text, title, subject and notes (``intake/anonymity.py``; the original kept encrypted
        in ``origin.original_text`` for administrators), their name then dropped, photos
        without metadata, anonymous file names replaced, an attached whole message held
        back; an image that cannot be cleaned leaves the complaint and is quarantined on
        its own."""
        privacy = self.services.settings.privacy
        update: dict[str, Any] = {}
        flags = list(d.flags)
        redacted = redact_draft(d) if d.anonymous else None
        if redacted is not None:
            update, original = redacted
            update["origin"] = {
                **update["origin"],
                "original_text": self.crypto.seal_value("complaint.original_text", _json(original)),
            }
            flags.append("pii_redacted")
        if d.anonymous and d.reporter.name:
            # Used above to hide it in the text; nothing needs it after (answers go to the
            # phone or address, greeted without a name), so it is not kept, even sealed.
            update["reporter"] = d.reporter.model_copy(update={"name": None})
        if d.attachments:
            kept = []
            swaps: list[tuple[bytes, bytes]] = []
            for n, att in enumerate(d.attachments, 1):
                name = anonymous_name(att, n) if d.anonymous else att.filename
                before = att.data
                try:
                    if d.anonymous and att.content_type in NAMING_TYPES:
                        # A mail attached whole (Outlook's "forward as attachment") has the
                        # citizen's From header, signature and photos as they took them.
                        raise ImageRefused("an attached message names its sender")
                    if d.anonymous or not privacy.keep_photo_metadata:
                        att = await asyncio.wait_for(
                            asyncio.to_thread(
                                clean_photo, att, max_pixels=privacy.image_max_pixels
                            ),
                            privacy.image_timeout_s,
                        )
                except (ImageRefused, TimeoutError) as exc:
                    why = str(exc) or f"took longer than {privacy.image_timeout_s} s"
                    meta = {**item.meta, "attachment_of": item.source_ref, "filename": name}
                    if d.anonymous:  # shown masked, as the complaint's original is
                        meta["of_anonymous"] = True
                    bad.append(
                        (
                            RawItem(
                                f"{item.source_ref}#attachment-{n}",
                                att.data,
                                item.received_at,
                                meta,
                                att.content_type,
                            ),
                            f"attachment {name!r} quarantined: {why}",
                        )
                    )
                    flags.append("attachment_quarantined")
                    continue
                if before != att.data:
                    swaps.append((before, att.data))
                kept.append(att.model_copy(update={"filename": name}) if d.anonymous else att)
            update["attachments"] = tuple(kept)
            if d.anonymous:
                try:
                    scrubbed = await asyncio.wait_for(
                        asyncio.to_thread(
                            scrub_original,
                            item.payload,
                            item.content_type,
                            swaps,
                            max_pixels=privacy.image_max_pixels,
                        ),
                        privacy.image_timeout_s,
                    )
                except (TimeoutError, ValueError) as exc:
                    log.warning("raw_original_not_scrubbed", error=str(exc)[:200])
                else:
                    item = RawItem(
                        item.source_ref,
                        scrubbed,
                        item.received_at,
                        {**item.meta, "photo_metadata_removed": True},
                        item.content_type,
                    )
        if not update:
            return d, item
        update["flags"] = tuple(dict.fromkeys(flags))
        return d.model_copy(update=update), item

    async def _quarantine_attachments(
        self,
        conn: asyncpg.Connection,
        source: Any,
        bad: list[tuple[RawItem, str]],
        result: IngestResult,
    ) -> None:
        for item, why in bad:
            # Counted apart: the item itself was not quarantined (its reason is on the row).
            r = await self._quarantine_items(conn, source, [item], why)
            result.attachments_quarantined += r.quarantined
            await privacy_repo.link_quarantined_attachment(
                conn, source.name, safe_text(item.source_ref), str(item.meta["attachment_of"])
            )

    async def _write_split(
        self,
        conn: asyncpg.Connection,
        source: Any,
        parsed: list[tuple[RawItem, Parsed | InvalidInput]],
        decide: Callable[[ComplaintDraft], Decision] | None,
        result: IngestResult,
        lane: JobLane = JobLane.LIVE,
    ) -> None:
        try:
            async with conn.transaction():
                result.add(await self._write(conn, source, parsed, decide, lane))
            return
        except asyncpg.PostgresError as exc:
            if not refused(exc):
                raise
            if len(parsed) == 1:
                result.add(
                    await self._quarantine_items(
                        conn, source, [parsed[0][0]], f"could not be stored: {exc}"
                    )
                )
                return
        mid = len(parsed) // 2
        await self._write_split(conn, source, parsed[:mid], decide, result, lane)
        await self._write_split(conn, source, parsed[mid:], decide, result, lane)

    async def _quarantine_items(
        self, conn: asyncpg.Connection, source: Any, items: Sequence[RawItem], reason: str
    ) -> IngestResult:
        result = IngestResult()
        for item in items:
            try:
                async with conn.transaction():
                    rid = await self._insert_quarantined(conn, source, item, reason)
            except asyncpg.PostgresError as exc:
                if not refused(exc):
                    raise
                # Even the sanitised item is refused: keep its bytes under a reference made
                # of their digest, so the channel moves on and an operator can find it.
                log.error(
                    "intake_quarantine_fell_back",
                    source=source.name,
                    error=redact_text(str(exc))[:200],
                )
                ref = (
                    "unstorable:"
                    + hashlib.sha256(item.source_ref.encode("utf-8", "surrogatepass")).hexdigest()[
                        :32
                    ]
                )
                rid = await self._insert_quarantined(
                    conn, source, RawItem(ref, item.payload, None, {}), reason
                )
            if rid is None:
                result.skipped += 1
                result.items[item.source_ref] = ItemResult(SKIPPED)
            else:
                result.new += 1
                result.quarantined += 1
                result.items[item.source_ref] = ItemResult(RawState.QUARANTINED)
                result.reasons[reason[:80]] = result.reasons.get(reason[:80], 0) + 1
        return result

    async def _insert_quarantined(
        self, conn: asyncpg.Connection, source: Any, item: RawItem, reason: str
    ) -> int | None:
        rid: int | None = await repo.insert_quarantined_raw_item(
            conn,
            source.name,
            safe_text(item.source_ref),
            item.received_at,
            safe_text(item.content_type),
            seal_payload(self.crypto, item.payload),
            seal_meta(self.crypto, json_safe(item.meta)),
            safe_text(redact_text(reason))[:2000],
            self.crypto.current_id,
            self.crypto.digest(item.payload),
        )
        return rid

    async def _save_cursor(
        self, conn: asyncpg.Connection, source: Any, batch: Batch, n: int
    ) -> None:
        cursor = json_safe(batch.cursor) if batch.cursor is not None else None
        await sources_repo.save_cursor(conn, source.name, source.kind, cursor, n)

    async def _write(
        self,
        conn: asyncpg.Connection,
        source: Any,
        parsed: list[tuple[RawItem, Parsed | InvalidInput]],
        decide: Callable[[ComplaintDraft], Decision] | None,
        lane: JobLane = JobLane.LIVE,
    ) -> IngestResult:
        result = IngestResult()
        if not parsed:
            return result
        texts: list[str] = []
        drafts: list[tuple[ComplaintDraft, str]] = []
        for _, p in parsed:
            if isinstance(p, ComplaintDraft):
                texts.append(text := followon.message_text(p))
                drafts.append((p, text))
            elif isinstance(p, ReplyDraft) and followon.judged_by_content(p, False):
                texts.append(followon.message_text(p))
        # The batch's junk verdicts and places, then its routing, in the model's process
        # (when the daemon has one) while the rows below are planned: the verdicts are
        # awaited before planning, the routes in _flush, just before the rows are written.
        screening = self._screen(drafts)
        routing = asyncio.ensure_future(self.router.prepare_async(texts))
        try:
            return await self._write_routed(conn, source, parsed, decide, routing, lane, screening)
        finally:
            for f in (routing, screening):
                if f is not None and not f.done():
                    f.cancel()

    def _screen(
        self, drafts: list[tuple[ComplaintDraft, str]]
    ) -> asyncio.Future[tuple[dict[int, str | None], dict[str, str | None]]] | None:
        """The drafts' junk verdicts and place keys, read in the model's process; None when
        there is no such process (then read here, message by message)."""
        process = self.router.process
        with_places = self.services.settings.bursts.cluster_window_h > 0
        if process is None or not drafts or (self._junk_json is None and not with_places):
            return None

        async def screened() -> tuple[dict[int, str | None], dict[str, str | None]]:
            assert process is not None
            got = await process.screen_many([t for _, t in drafts], self._junk_json, with_places)
            junk = {id(p): why for (p, _), (why, _) in zip(drafts, got, strict=True)}
            places = {t: place for (_, t), (_, place) in zip(drafts, got, strict=True)}
            return junk, places

        return asyncio.ensure_future(screened())

    async def _write_routed(
        self,
        conn: asyncpg.Connection,
        source: Any,
        parsed: list[tuple[RawItem, Parsed | InvalidInput]],
        decide: Callable[[ComplaintDraft], Decision] | None,
        routing: asyncio.Future[None],
        lane: JobLane = JobLane.LIVE,
        screening: asyncio.Future[tuple[dict[int, str | None], dict[str, str | None]]]
        | None = None,
    ) -> IngestResult:
        result = IngestResult()
        rows = await repo.insert_raw_items(
            conn,
            source.name,
            [i.source_ref for i, _ in parsed],
            [i.received_at for i, _ in parsed],
            [i.content_type for i, _ in parsed],
            [seal_payload(self.crypto, i.payload) for i, _ in parsed],
            [_json(seal_meta(self.crypto, i.meta)) for i, _ in parsed],
            [self.crypto.digest(i.payload) for i, _ in parsed],
            self.crypto.current_id,
        )
        raw_ids = {r.source_ref: r.id for r in rows}
        result.skipped = len(parsed) - len(raw_ids)
        result.new = len(raw_ids)
        reused = await self._reused_refs(
            conn, source, [x for x in parsed if x[0].source_ref not in raw_ids]
        )
        if reused:
            # A different message under a Message-ID we hold: kept under its own reference,
            # marked, instead of being acknowledged and dropped as a re-pull.
            result.skipped -= len(reused)
            result.add(await self._write(conn, source, reused, decide, lane))
        fresh = [(raw_ids[i.source_ref], i, p) for i, p in parsed if i.source_ref in raw_ids]
        plan = _Plan(lane=lane)
        drafts = [(rid, p) for rid, _, p in fresh if isinstance(p, ComplaintDraft)]
        dup_index = await self._duplicates_index(conn, [d for _, d in drafts])
        plan.by_phone = await self._open_by_phone(conn, [p for _, _, p in fresh])
        plan.by_email = await self._open_by_email(conn, [p for _, _, p in fresh])
        if plan.by_phone:
            phones = await repo.open_complaints_for_phone_hashes(
                conn,
                list(plan.by_phone),
                self.reply_window_days,
            )
            for r in phones:
                plan.open_by_phone.setdefault(bytes(r.phone_hash), []).append(r.id)
        # One model call for the batch, under way since the batch arrived: what it has
        # decided by now is planned at once, the rest is set in _flush when it is back.
        plan.routing = routing
        if screening is not None:
            plan.junk, plan.places = await screening
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
            elif (why := self._junk(plan, item, p)) is not None:
                reason = f"held as junk: {why}"
                plan.states.append((raw_id, "quarantined", reason, None))
                result.quarantined += 1
                result.reasons[reason[:80]] = result.reasons.get(reason[:80], 0) + 1
            elif isinstance(p, ReplyDraft) or (
                isinstance(p, ComplaintDraft)
                and (p.origin.get("maybe_reply_by_phone") or p.origin.get("maybe_reply_thread"))
            ):
                await self._plan_reply(
                    conn, plan, result, source, raw_id, p, dup_index, decide, item
                )
            elif (email_target := self._open_by_sender_email(plan, p)) is not None:
                judged = await self._plan_judged(
                    conn, plan, result, source, raw_id, p, email_target, dup_index, decide
                )
                if judged is not None:
                    await self._plan_reply_to(
                        conn, plan, result, source, raw_id, p, judged["complaint"], item=item
                    )
            else:
                assert isinstance(p, ComplaintDraft)
                self._plan_complaint(plan, result, source, raw_id, p, dup_index, decide)
        await self._flush(conn, plan, source)
        self._item_results(result, parsed, raw_ids, plan)
        return result

    @staticmethod
    def _item_results(
        result: IngestResult,
        parsed: list[tuple[RawItem, Parsed | InvalidInput]],
        raw_ids: dict[str, int],
        plan: _Plan,
    ) -> None:
        """Each item's outcome by its reference, from the states the batch wrote."""
        new = set(result.complaint_ids)
        by_raw = {raw_id: (state, cid) for raw_id, state, _, cid in plan.states}
        for item, _ in parsed:
            ref = item.source_ref
            raw_id = raw_ids.get(ref)
            if raw_id is None:
                result.items[ref] = ItemResult(SKIPPED)
                continue
            state, cid = by_raw.get(raw_id, (RawState.ACCEPTED, None))
            result.items[ref] = ItemResult(str(state), cid if cid in new else None)

    async def _reused_refs(
        self,
        conn: asyncpg.Connection,
        source: Any,
        held: list[tuple[RawItem, Parsed | InvalidInput]],
    ) -> list[tuple[RawItem, Parsed | InvalidInput]]:
        """Of the items whose reference is already held, the e-mails whose bytes differ from
        the held one's (a sender reusing a Message-ID), each under ``<ref>#<digest>``."""
        mails = [(i, p) for i, p in held if i.content_type == "message/rfc822"]
        if not mails:
            return []
        rows = await repo.held_raw_digests(conn, source.name, [i.source_ref for i, _ in mails])
        held_rows = {r.source_ref: r for r in rows}
        out: list[tuple[RawItem, Parsed | InvalidInput]] = []
        for item, p in mails:
            mine = self.crypto.digest(item.payload)
            row = held_rows.get(item.source_ref)
            if row is None:
                continue
            if bytes(row.content_hash or b"") in (mine, hashlib.sha256(item.payload).digest()):
                continue  # the same bytes again: a re-pull
            if not bytes(row.payload):
                continue  # purged by retention (or erased): nothing to compare, keep it gone
            held_payload = open_payload(self.crypto, row.payload, row.payload_key)
            if mail_identity(held_payload) == mail_identity(item.payload):
                continue  # the same message delivered again (only trace headers differ)
            why = f"reuses the Message-ID {item.source_ref} of a different message"
            meta = {**item.meta, "reused_ref": item.source_ref, "reused_reason": why}
            again = RawItem(
                f"{item.source_ref}#{mine.hex()[:16]}",
                item.payload,
                item.received_at,
                meta,
                item.content_type,
            )
            if isinstance(p, ComplaintDraft):
                p = p.model_copy(update={"flags": (*p.flags, "reused_message_id")})
            log.warning("intake_reused_reference", source=source.name, reason=why)
            out.append((again, p))
        return out

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
        row = await repo.complaint_by_form_row(conn, source.name, u.thread_key)
        if row is None:
            why = f"baris formulir lama {u.row_id} belum pernah diimpor"
            plan.states.append((raw_id, RawState.QUARANTINED, why, None))
            result.quarantined += 1
            result.reasons[why[:80]] = result.reasons.get(why[:80], 0) + 1
            return
        cid, origin = row.id, row.origin or {}
        result.updates += 1
        data: dict[str, Any] = {"form_table": u.form_table, "row_id": u.row_id}
        if u.deleted:
            if origin.get("legacy_row_deleted"):
                plan.states.append((raw_id, RawState.ACCEPTED, "sudah tercatat", cid))
                return
            await repo.apply_legacy_form_update(conn, cid, None, {"legacy_row_deleted": True})
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
                legacy_status_before=row.legacy_status,
                legacy_status_after=u.status or row.legacy_status,
            )
            if u.status is None:
                data["status_unmapped"] = True
            if row.status in u.write_back_statuses:
                data["same_as_write_back"] = True  # what write-back writes for our status
        await repo.apply_legacy_form_update(conn, cid, u.status if changed else None, patch)
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
        rows = await repo.open_complaints_by_phone_hashes(conn, list(hashes), longest)
        return {bytes(r.phone_hash): (r.id, r.received_at) for r in rows}

    async def _open_by_email(
        self, conn: asyncpg.Connection, parsed: list[Parsed | InvalidInput]
    ) -> dict[bytes, tuple[uuid.UUID, dt.datetime]]:
        hashes = {
            h
            for p in parsed
            if isinstance(p, ComplaintDraft)
            and p.channel.value == "email"
            and p.reporter.email
            and (h := self.crypto.match_hash("email", p.reporter.email))
        }
        if not hashes:
            return {}
        rows = await repo.open_complaints_by_email_hashes(
            conn, list(hashes), self.reply_window_days
        )
        return {bytes(r.email_hash): (r.id, r.received_at) for r in rows}

    def _junk(self, plan: _Plan, item: RawItem, p: Any) -> str | None:
        """Why a message is held out of LAPOR! (issue 14, item 5), or None. A short message
        that may answer an open complaint ("ok", "sudah") is not junk; an operator's replay
        (``junk_released``) lets a held one through."""
        if not isinstance(p, ComplaintDraft) or item.meta.get("junk_released"):
            return None
        if plan.junk is not None and id(p) in plan.junk:
            why = plan.junk[id(p)]  # read in the model's process
        else:
            why = self.junk.check(clean_text(p.content), p.title)
        if why is None:
            return None
        maybe_reply = p.origin.get("maybe_reply_by_phone") or p.origin.get("maybe_reply_thread")
        if maybe_reply and why.startswith(("only", "empty")):
            return None
        return why

    def _open_by_sender_email(self, plan: _Plan, p: Any) -> uuid.UUID | None:
        """An e-mail outside any thread from an address with an open complaint."""
        if not (isinstance(p, ComplaintDraft) and p.channel.value == "email" and plan.by_email):
            return None
        h = self.crypto.match_hash("email", p.reporter.email) if p.reporter.email else None
        hit = plan.by_email.get(h) if h is not None else None
        return hit[0] if hit is not None else None

    async def _plan_judged(
        self,
        conn: asyncpg.Connection,
        plan: _Plan,
        result: IngestResult,
        source: Any,
        raw_id: int,
        p: ReplyDraft | ComplaintDraft,
        target: uuid.UUID,
        dup_index: dict[bytes, list[Any]],
        decide: Callable[[ComplaintDraft], Decision] | None,
    ) -> dict[str, Any] | None:
        """Reply or new complaint by content (issue 14, item 4). Plans the new complaint and
        returns None when it is one; else the verdict for the reply's event."""
        others = None
        if isinstance(p, ComplaintDraft) and p.reporter.phone:
            h = self.crypto.match_hash("phone", phone_key(p.reporter.phone))
            others = plan.open_by_phone.get(h) if h is not None else None
        verdict, chosen, row = await followon.reply_or_new(self, conn, plan, p, target, others)
        actor = f"source:{source.name}"
        if verdict.reply:
            plan.events.extend(followon.events(verdict, chosen, None, actor))
            return {**verdict.as_json(), "complaint": chosen}
        draft = followon.as_complaint(p)
        before = len(result.complaint_ids)
        self._plan_complaint(plan, result, source, raw_id, draft, dup_index, decide)
        new_id = result.complaint_ids[-1] if len(result.complaint_ids) > before else None
        if new_id is not None and isinstance(p, ReplyDraft) and row is not None:
            # the status page's reporter is the open complaint's
            last = list(plan.complaints[-1])
            last[COMPLAINT_ROW.index("reporter_id")] = row.reporter_id
            plan.complaints[-1] = tuple(last)
        plan.events.extend(followon.events(verdict, target, new_id, actor))
        return None

    async def _duplicates_index(
        self, conn: asyncpg.Connection, drafts: list[ComplaintDraft]
    ) -> dict[bytes, list[tuple[uuid.UUID, bytes | None, bytes | None, bytes | None]]]:
        if not drafts:
            return {}
        hashes = list({content_hash(d.content) for d in drafts})
        rows = await repo.recent_duplicates(conn, hashes, DUPLICATE_WINDOW_DAYS)
        index: dict[bytes, list[tuple[uuid.UUID, bytes | None, bytes | None, bytes | None]]] = {}
        for r in rows:
            index.setdefault(bytes(r.content_hash), []).append(
                (r.id, r.phone_hash, r.email_hash, r.nik_hash)
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
        text = f"{d.title or ''}\n{content}"
        later = plan.routing is not None and not plan.routing.done() and self.router.enabled
        route = Route(cfg.agency, None, None) if later else self.router.route(text, cfg.agency)
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
        event = ingested_event(source, d, status, route)
        if later:
            plan.unrouted.append((cid, text, cfg.agency, event))
        plan.events.append((cid, "complaint_ingested", f"source:{source.name}", event))
        result.complaint_ids.append(cid)
        result.complaints += 1
        if status is ComplaintStatus.RECEIVED:
            plan.clusterable[cid] = [text, None if later else route.policy_category]
            if sealed is not None and sealed.phone_hash is not None:
                plan.by_phone[sealed.phone_hash] = (cid, self.services.clock())
                plan.open_by_phone.setdefault(sealed.phone_hash, []).insert(0, cid)
                plan.planned_text[cid] = text
            plan.jobs.append((JobKind.PUSH, cid, {}, f"push:{cid}"))
            quiet = self.services.settings.bursts.quiet_window_s
            if quiet and d.channel.value in BURST_CHANNELS and d.origin.get("maybe_reply_by_phone"):
                # an SMS burst becomes one complaint: the push waits for the sender's quiet
                plan.run_after[f"push:{cid}"] = self.services.clock() + dt.timedelta(seconds=quiet)
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
        item: RawItem | None = None,
    ) -> None:
        target, matched_by = await self._resolve_reply(conn, plan, p)
        if target is None:
            if isinstance(p, ComplaintDraft):  # no open complaint from this number: a new one
                self._plan_complaint(plan, result, source, raw_id, p, dup_index, decide)
                return
            plan.states.append(
                (raw_id, RawState.QUARANTINED, "reply matches no known complaint", None)
            )
            result.quarantined += 1
            result.reasons["reply matches no known complaint"] = (
                result.reasons.get("reply matches no known complaint", 0) + 1
            )
            return
        if followon.judged_by_content(p, self._matched_by_sender(plan, p, target)):
            judged = await self._plan_judged(
                conn, plan, result, source, raw_id, p, target, dup_index, decide
            )
            if judged is None:
                return  # a new complaint, planned
            target = judged["complaint"]  # maybe an older complaint of the same reporter
        await self._plan_reply_to(
            conn, plan, result, source, raw_id, p, target, matched_by=matched_by, item=item
        )

    async def _plan_reply_to(
        self,
        conn: asyncpg.Connection,
        plan: _Plan,
        result: IngestResult,
        source: Any,
        raw_id: int,
        p: ReplyDraft | ComplaintDraft,
        target: uuid.UUID,
        *,
        matched_by: str | None = None,
        item: RawItem | None = None,
    ) -> None:
        if await self._extend_burst(conn, plan, source, raw_id, p, target):
            result.bursts += 1
            return
        text = clean_text(p.text if isinstance(p, ReplyDraft) else p.content)
        if await self._anonymous_target(conn, plan, target):
            # An anonymous reporter's reply goes to LAPOR! and the agency like their complaint:
            # without the phone, NIK or e-mail they typed (the raw original stays sealed).
            text = redact_text(text, _ID_PLACEHOLDER)
        resolved = p.resolved if isinstance(p, ReplyDraft) else None
        sent_at = p.sent_at if isinstance(p, ReplyDraft) else p.submitted_at
        reply_id = uuid.uuid4()
        how, why = matched_by, None
        if how is None:
            how, why = await self._verify_sender(conn, target, p, item)
        plan.reply_rows.append(
            (
                reply_id,
                target,
                raw_id,
                p.channel.value,
                text or "(kosong)",
                sent_at,
                resolved,
                how is not None,
                how,
                why,
            )
        )
        if how is None:
            # Not the reporter (or not provably): kept for an operator, never sent upstream
            # and never closing the complaint on its own.
            plan.states.append((raw_id, RawState.REPLY, f"unverified: {why}"[:2000], target))
            plan.events.append(
                (
                    target,
                    "reporter_reply_unverified",
                    f"source:{source.name}",
                    {
                        "reply_id": str(reply_id),
                        "channel": p.channel.value,
                        "reason": why,
                        "resolved_claimed": resolved,
                    },
                )
            )
            log.warning(
                "reply_held_unverified",
                source=source.name,
                complaint_id=str(target),
                channel=p.channel.value,
            )
            result.replies += 1
            return
        plan.states.append((raw_id, RawState.REPLY, None, target))
        plan.jobs.append(
            (JobKind.REPLY_UP, target, {"reply_id": str(reply_id)}, f"reply:{reply_id}")
        )
        plan.events.append(
            (
                target,
                EventKind.REPORTER_REPLIED,
                f"source:{source.name}",
                {
                    "reply_id": str(reply_id),
                    "channel": p.channel.value,
                    "resolved": resolved,
                    "verified_by": how,
                },
            )
        )
        if resolved is not None:
            plan.resolved.append((target, resolved))
        result.replies += 1

    async def _extend_burst(
        self,
        conn: asyncpg.Connection,
        plan: _Plan,
        source: Any,
        raw_id: int,
        p: ReplyDraft | ComplaintDraft,
        target: uuid.UUID,
    ) -> bool:
        """Another SMS of the sender's burst (issue 14, item 3): onto the complaint not yet
        pushed, whose push then waits for quiet again. True when it was added."""
        quiet = self.services.settings.bursts.quiet_window_s
        if not (
            quiet
            and isinstance(p, ComplaintDraft)
            and p.channel.value in BURST_CHANNELS
            and p.origin.get("maybe_reply_by_phone")
        ):
            return False
        part = clean_text(p.content)
        if await self._anonymous_target(conn, plan, target):
            part = redact_text(part, _ID_PLACEHOLDER)  # as the complaint's own text was
        now = self.services.clock()
        idx = next((i for i, c in enumerate(plan.complaints) if c[0] == target), None)
        if idx is not None:  # planned in this batch
            row = list(plan.complaints[idx])
            at = COMPLAINT_ROW.index("content")
            row[at] = f"{row[at]}\n{part}"
            plan.complaints[idx] = tuple(row)
            plan.run_after[f"push:{target}"] = now + dt.timedelta(seconds=quiet)
        else:
            if not await repo.burst_target_open(conn, target, now, quiet):
                return False
            await repo.extend_burst(conn, target, part, now, quiet)
        plan.states.append((raw_id, "accepted", "part of the sender's burst", target))
        plan.events.append(
            (
                target,
                "burst_merged",
                f"source:{source.name}",
                {"quiet_window_s": quiet, "text": part[:200]},
            )
        )
        return True

    def _matched_by_sender(self, plan: _Plan, p: Any, target: uuid.UUID) -> bool:
        """The SMS was matched by its phone number (not by a thread or a reference)."""
        if not isinstance(p, ComplaintDraft) or not p.origin.get("maybe_reply_by_phone"):
            return False
        h = self.crypto.match_hash("phone", phone_key(p.reporter.phone))
        hit = plan.by_phone.get(h) if h is not None else None
        return hit is not None and hit[0] == target

    async def _resolve_reply(
        self, conn: asyncpg.Connection, plan: _Plan, p: ReplyDraft | ComplaintDraft
    ) -> tuple[uuid.UUID | None, str | None]:
        """(the complaint the reply is about, how its sender is known to be the reporter:
        ``phone``/``email`` when it was found by the sender's own keyed hash, else None and
        the sender is checked against the complaint's reporter)."""
        crypto = self.crypto
        if isinstance(p, ComplaintDraft):
            # E-mail: a message in the thread of a known complaint (the citizen's own original,
            # a staff member's manual answer) is a reply; otherwise it is a new complaint.
            refs = p.origin.get("references") if p.origin.get("maybe_reply_thread") else None
            if refs:
                row = await repo.complaint_by_thread(conn, list(refs))
                if row:
                    return row.id, None
            if not p.origin.get("maybe_reply_by_phone"):
                return None, None
            phone_h = crypto.match_hash("phone", phone_key(p.reporter.phone))
            hit = plan.by_phone.get(phone_h) if phone_h is not None else None
            if hit is None:
                return None, None
            window = int(p.origin.get("reply_window_days") or self.reply_window_days)
            if hit[1] < self.services.clock() - dt.timedelta(days=window):
                return None, None
            return hit[0], "phone"
        if p.complaint_id:
            row = await repo.complaint_by_id(conn, uuid.UUID(p.complaint_id))
            if row:
                return row.id, None
        if p.tracking_id:
            row = await repo.complaint_by_tracking_id(conn, p.tracking_id)
            if row:
                return row.id, None
        if p.in_reply_to:
            row = await repo.complaint_by_thread(conn, list(p.in_reply_to))
            if row:
                return row.id, None
        if p.phone or p.email:
            # SUDAH/BELUM answers may concern a complaint that was just closed.
            row = await repo.open_complaint_by_reporter_hash(
                conn,
                crypto.match_hash("phone", phone_key(p.phone)),
                crypto.match_hash("email", p.email),
                self.reply_window_days,
                p.resolved is not None,
            )
            if row and p.sender_authenticated is False:
                return row.id, None  # found by an address our server did not vouch for
            if row:
                return row.id, "phone" if p.phone else "email"
        return None, None

    async def _anonymous_target(
        self, conn: asyncpg.Connection, plan: _Plan, target: uuid.UUID
    ) -> bool:
        """Whether the complaint a message joins is anonymous (planned in this batch or
        stored)."""
        at = COMPLAINT_ROW.index("anonymous")
        planned = next((c for c in plan.complaints if c[0] == target), None)
        if planned is not None:
            return bool(planned[at])
        row = await replies_repo.target_identity(conn, target)
        return bool(row is not None and row.anonymous)

    async def _verify_sender(
        self,
        conn: asyncpg.Connection,
        target: uuid.UUID,
        p: ReplyDraft | ComplaintDraft,
        item: RawItem | None,
    ) -> tuple[str | None, str | None]:
        """Whether a reply found by Tracking ID, thread or complaint id comes from the
        report's reporter: (how, None) when it does, (None, reason in Indonesian) when not.
        Tracking IDs are public and sequential, Message-IDs travel with forwards: only the
        reporter's own phone/e-mail (keyed hash, also kept for anonymous reporters) or the
        receipt code the status page checked speak for the report."""
        row = await replies_repo.target_identity(conn, target)
        if row is None:
            return None, "pengaduan tidak ditemukan"
        tracking = f"#{row.lapor_tracking_id}" if row.lapor_tracking_id else "ini"
        meta = item.meta if item is not None else {}
        code = meta.get("receipt_code") if isinstance(meta, dict) else None
        if code is not None or (isinstance(p, ReplyDraft) and p.complaint_id):
            stored = row.receipt_code
            if code and stored and normalize_code(str(code)) == normalize_code(str(stored)):
                return "receipt", None
            return None, f"kode tanda terima tidak cocok dengan pengaduan {tracking}"
        if isinstance(p, ReplyDraft):
            phone, email = p.phone, p.email
            unvouched = p.sender_authenticated is False
        else:
            phone, email = p.reporter.phone, p.reporter.email
            unvouched = bool(p.origin.get("sender_not_authenticated"))
            if p.channel.value == "email":
                phone = None  # a number written in the mail's text proves nothing
            if p.origin.get("reply_to_not_sender"):
                # That address is the message's Reply-To, which anyone may write.
                return None, (
                    "balasan e-mail dengan alamat Reply-To yang bukan alamat pengirimnya "
                    f"tidak dapat dicocokkan dengan pelapor pengaduan {tracking}"
                )
        if unvouched:
            # Anyone may write the reporter's address in From; our mail server did not
            # vouch for it (authserv_id, connectors/email/authres.py).
            return None, (
                "server e-mail kami tidak dapat memastikan balasan ini benar dari alamat "
                f"pengirimnya (DMARC/DKIM/SPF), jadi tidak dicocokkan dengan pelapor "
                f"pengaduan {tracking}"
            )
        phone_h = self.crypto.match_hash("phone", phone_key(phone))
        email_h = self.crypto.match_hash("email", email)
        if (
            phone_h is not None
            and row.phone_hash is not None
            and (bytes(row.phone_hash) == phone_h)
        ):
            return "phone", None
        if (
            email_h is not None
            and row.email_hash is not None
            and (bytes(row.email_hash) == email_h)
        ):
            return "email", None
        if phone_h is None and email_h is None:
            return None, "pengirim tanpa nomor atau alamat e-mail yang dapat dicocokkan"
        if row.phone_hash is None and row.email_hash is None:
            return None, (
                f"pengaduan {tracking} tidak menyimpan nomor atau e-mail pelapor untuk dicocokkan"
            )
        if phone_h is not None:
            return None, f"nomor pengirim bukan nomor pelapor pengaduan {tracking}"
        return None, f"alamat e-mail pengirim bukan alamat pelapor pengaduan {tracking}"

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
            await repo.insert_reporters(conn, cols)
        if plan.complaints:
            await self._complete_rows(conn, plan)
            columns = [list(c) for c in zip(*plan.complaints, strict=True)]
            for i in _JSON_COLUMNS:  # jsonb travels as text[] through unnest
                columns[i] = [None if v is None else _json(v) for v in columns[i]]
            await repo.insert_complaints(conn, source.name, source.cfg.agency, columns)
        await replies_repo.insert_checked(conn, plan.reply_rows)
        for cid, resolved in plan.resolved:
            await repo.set_resolved_by_reporter(conn, cid, resolved)
        for cid, d in plan.attachments:
            for att in d.attachments:  # cleaned in _protect
                digest = hashlib.sha256(att.data).digest()
                await repo.add_attachment(
                    conn, cid, digest, att.content_type, att.data, att.filename, att.note
                )
        if plan.states:
            cols = list(zip(*plan.states, strict=True))
            await repo.set_raw_states(conn, cols)
        if plan.jobs:
            cols = list(
                zip(
                    *[
                        (
                            k,
                            c,
                            _json(seal_job_payload(self.crypto, p)),
                            d,
                            plan.run_after.get(d or ""),
                        )
                        for k, c, p, d in plan.jobs
                    ],
                    strict=True,
                )
            )
            await jobs_repo.insert_many(conn, cols, plan.lane)
            await jobs_repo.wake(conn, "intake")
        if plan.cluster_of:
            await clusters.count(conn, plan.cluster_of.values())
        if plan.events:
            cols = list(zip(*[(c, k, a, _json(d)) for c, k, a, d in plan.events], strict=True))
            await repo.insert_events(conn, cols)

    async def _complete_rows(self, conn: asyncpg.Connection, plan: _Plan) -> None:
        """Each planned complaint with its route and cluster, before it is written: once,
        since an UPDATE of rows just written would write them again (every index, the
        counting trigger). The batch's model call has been under way since the batch came
        in; the places are read while it finishes."""
        window_h = self.services.settings.bursts.cluster_window_h
        keys: dict[uuid.UUID, str] = {}
        if window_h > 0:
            for cid, (text, category) in plan.clusterable.items():
                if clusters.clusterable(category) or (category is None and plan.unrouted):
                    if (place := _place(plan, text)) is not None:
                        keys[cid] = place
        at = {row[0]: i for i, row in enumerate(plan.complaints)}
        if plan.unrouted:
            assert plan.routing is not None
            await plan.routing
            for cid, text, default_agency, event in plan.unrouted:
                route = self.router.route(text, default_agency)
                event.update(ingested_event_route(route))
                if cid in plan.clusterable:
                    plan.clusterable[cid][1] = route.policy_category
                if (i := at.get(cid)) is not None:
                    plan.complaints[i] = with_route(plan.complaints[i], route)
        keyed = {
            cid: (plan.clusterable[cid][1], place)
            for cid, place in keys.items()
            if clusters.clusterable(plan.clusterable[cid][1])
        }
        plan.cluster_of = await clusters.place(conn, keyed, window_h)
        column = COMPLAINT_ROW.index("cluster_id")
        for cid, cluster_id in plan.cluster_of.items():
            if (i := at.get(cid)) is not None:
                row = list(plan.complaints[i])
                row[column] = cluster_id
                plan.complaints[i] = tuple(row)


def _place(plan: _Plan, text: str) -> str | None:
    """The place a planned complaint's text names (read with the batch's routing, or here)."""
    if plan.places is not None and text in plan.places:
        return plan.places[text]
    return clusters.place_key(text)


# A planned complaint, in insert_complaints' order after its per-batch parameters (source,
# source_agency); the bulk path COPYs the same tuples.
COMPLAINT_ROW = (
    "id",
    "channel",
    "raw_item_id",
    "reporter_id",
    "title",
    "content",
    "classification",
    "agency_id",
    "anonymous",
    "confidential",
    "location",
    "occurred_on",
    "submitted_at",
    "status",
    "duplicate_of",
    "content_hash",
    "thread_keys",
    "origin",
    "flags",
    "legacy_status",
    "category_id",
    "route_category",
    "route_agency",
    "route_confidence",
    "route_reasons",
    "needs_triage",
    "cluster_id",
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
        None,  # cluster_id: set in Intake._flush, just before the row is written
    )


_ROUTE_COLUMNS = tuple(
    COMPLAINT_ROW.index(c)
    for c in (
        "agency_id",
        "route_category",
        "route_agency",
        "route_confidence",
        "route_reasons",
        "needs_triage",
    )
)


def with_route(row: tuple[Any, ...], route: Route) -> tuple[Any, ...]:
    """A planned COMPLAINT_ROW with the route the model decided once it was back."""
    out = list(row)
    values = (
        route.agency,
        route.policy_category,
        route.code,
        route.confidence,
        list(route.reasons),
        route.triage,
    )
    for i, v in zip(_ROUTE_COLUMNS, values, strict=True):
        out[i] = v
    return tuple(out)


def ingested_event_route(route: Route) -> dict[str, Any]:
    """What a ``complaint_ingested`` event says of the route."""
    data: dict[str, Any] = {}
    if route.rule:
        data["routed_by"] = route.rule
    if route.triage:
        data["triage"] = True
    return data


def ingested_event(
    source: Any, d: ComplaintDraft, status: ComplaintStatus, route: Route
) -> dict[str, Any]:
    """The data of a complaint's ``complaint_ingested`` event."""
    data: dict[str, Any] = {
        "source": source.name,
        "channel": d.channel.value,
        "status": status.value,
    }
    data.update(ingested_event_route(route))
    if d.flags:
        data["flags"] = list(d.flags)
    return data


# Re-exported for callers that only need the closed set.
__all__ = [
    "CLOSED_STATUSES",
    "SKIPPED",
    "Decision",
    "IngestResult",
    "Intake",
    "ItemResult",
    "content_hash",
]
