"""Gammu SMSD as a channel: the ``inbox`` table in, the ``outbox`` table out.

Reading: rows with ``ID`` above the cursor's watermark and ``Processed`` false, plus the
rows of multipart messages still waiting for a sibling (listed in the cursor), plus a
bounded re-scan of un-acknowledged rows just below the watermark (a crash between our
commit and ``Processed = true`` leaves such rows; intake recognises them by
``source_ref`` and they are acknowledged again). ``Processed`` is set only in ``ack``,
after intake committed. Parts waiting for siblings are never acknowledged, so neither a
restart nor a lost cursor loses them.

Writing: one ``outbox`` row (plus ``outbox_multipart`` rows for a long text) with
``CreatorID`` = our notification id; a retried send finds it in ``outbox``/``sentitems``
first and never queues it twice. Delivery is read back from ``sentitems``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import AsyncIterator
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

import structlog

from connectors.base import (
    Batch,
    ConnectorContext,
    DeliveryStatus,
    Origin,
    OutboundMessage,
    RawItem,
    SendResult,
    load_options,
)
from connectors.base.conformance import ConformanceSamples
from connectors.base.errors import ConfigError, InvalidInput, PermanentError
from connectors.base.text import sms_encoding, split_sms
from connectors.sms.gammu_db import PARKED, GammuDb, open_gammu_db
from connectors.sms.multipart import Group, group_rows, reassemble
from connectors.sms.options import GammuOptions
from connectors.sms.parser import classify_sms, make_udh, normalize_sender
from schemas.complaint import Parsed
from schemas.config import SourceConfig

log = structlog.get_logger(__name__)

SUPPORTED_VERSIONS = range(13, 18)
CODING = {"gsm7": "Default_No_Compression", "ucs2": "Unicode_No_Compression"}


def _jsonable_row(row: dict[str, Any], tz: ZoneInfo) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in row.items():
        if isinstance(v, dt.datetime):
            out[k] = v.isoformat()
            aware = v if v.tzinfo else v.replace(tzinfo=tz)
            out["received_at"] = aware.astimezone(dt.UTC).isoformat()
        elif isinstance(v, bytes):
            out[k] = v.decode("utf-8", errors="replace")
        else:
            out[k] = v
    return out


class GammuSource:
    kind: ClassVar[str] = "gammu"

    options_model: ClassVar[type[GammuOptions]] = GammuOptions

    @classmethod
    def conformance_samples(cls) -> ConformanceSamples:
        from connectors.sms.samples import gammu_samples

        return gammu_samples()

    def __init__(self, cfg: SourceConfig, context: ConnectorContext | None = None) -> None:
        self.cfg = cfg
        self.name: str = cfg.name
        self.context = context or ConnectorContext(source=cfg.name)
        self.opts = load_options(GammuOptions, cfg.name, cfg.options)
        self.tz = ZoneInfo(self.opts.timezone)  # checked by the options
        self.db: GammuDb = open_gammu_db(self.opts.driver, self.opts.dsn.get_secret_value())
        self.schema_version: int | None = None
        self._sink: GammuSink | None = None

    # ------------------------------------------------------------------ source

    async def check(self) -> None:
        v = await self.db.version()
        if v not in SUPPORTED_VERSIONS:
            raise ConfigError(
                f"sources.{self.name}: Gammu schema version {v} is not supported (13-17 are)"
            )
        self.schema_version = v

    def _now(self) -> dt.datetime:
        return self.context.clock()

    async def pull(self, cursor: dict[str, Any] | None) -> AsyncIterator[Batch]:
        if self.schema_version is None:
            await self.check()
        cur = cursor or {}
        after = int(cur.get("after_id", 0))
        waiting: dict[str, dict[str, Any]] = dict(cur.get("waiting") or {})
        limit = int(self.cfg.batch_size)
        waiting_ids = sorted({int(i) for w in waiting.values() for i in w.get("ids", [])})
        held = await self.db.fetch_ids(waiting_ids)  # parts still waiting for a sibling
        if self.opts.rescan_ids and after > 0:
            held += await self.db.fetch_unacked(max(0, after - self.opts.rescan_ids), after, limit)
        while True:
            new = await self.db.fetch_new(after, limit)
            rows = held + list(new)
            ready, still = group_rows(
                rows,
                waiting,
                now=self._now(),
                wait_s=self.opts.multipart_wait_s,
                settled_max_id=after,
            )
            still_ids = {i for w in still.values() for i in w["ids"]}
            held = [r for r in rows if int(r["ID"]) in still_ids]
            new_after = max([after, *(int(r["ID"]) for r in new)])
            items: list[RawItem] = []
            refs: set[str] = set()
            for g in ready:
                ref = g.source_ref
                if ref not in refs:  # a re-delivery in the same pull: one item, all rows acked
                    refs.add(ref)
                    items.append(self._item(g))
            next_cursor = {
                "after_id": new_after,
                "waiting": still,
                "schema_version": self.schema_version,
            }
            if items or next_cursor != cur:
                yield Batch(
                    items=items, cursor=next_cursor, ack_token=[i for g in ready for i in g.ids]
                )
            if len(new) < limit:
                return
            after, waiting, cur = new_after, still, next_cursor

    def _item(self, g: Group) -> RawItem:
        rows = [_jsonable_row(r, self.tz) for r in sorted(g.rows, key=lambda r: int(r["ID"]))]
        payload = json.dumps({"rows": rows}, ensure_ascii=False, sort_keys=True).encode()
        received = rows[0].get("received_at")
        meta: dict[str, Any] = {"ids": g.ids}
        if g.concat is not None:
            meta["multipart"] = {
                "total": g.concat.total,
                "bits": g.concat.bits,
                "parts": sorted({Group.seq(r) for r in g.rows}),
            }
        sender = normalize_sender(rows[0].get("SenderNumber"), self.opts.conventions.region)
        if sender.e164:
            meta["reply_to"] = sender.e164  # where a usage hint for an empty SMS goes
        return RawItem(
            source_ref=g.source_ref,
            payload=payload,
            received_at=dt.datetime.fromisoformat(received) if received else None,
            meta=meta,
            content_type="application/json",
        )

    async def ack(self, batch: Batch) -> None:
        ids = list(batch.ack_token or [])
        if ids:
            await self.db.mark_processed(ids)

    def parse(self, item: RawItem) -> Parsed:
        try:
            rows = json.loads(item.payload)["rows"]
        except (ValueError, KeyError, TypeError) as exc:
            raise InvalidInput(f"not a Gammu inbox item: {exc}") from exc
        if not rows:
            raise InvalidInput("Gammu inbox item without rows")
        text, seqs, total = reassemble(rows)
        flags: tuple[str, ...] = ()
        notes: tuple[str, ...] = ()
        if total > 1 and len(seqs) < total:
            flags = ("incomplete_multipart",)
            notes = (f"SMS panjang: bagian {', '.join(map(str, seqs))} dari {total} diterima",)
        first = rows[0]
        sent_at = (
            dt.datetime.fromisoformat(first["received_at"]) if first.get("received_at") else None
        )
        origin: dict[str, Any] = {"gammu_ids": [int(r["ID"]) for r in rows]}
        if first.get("RecipientID"):
            origin["recipient_id"] = str(first["RecipientID"]).strip()
        if total > 1:
            origin["parts"] = total
        sender = normalize_sender(first.get("SenderNumber"), self.opts.conventions.region)
        return classify_sms(
            text, sender, sent_at, self.opts.conventions, origin=origin, flags=flags, notes=notes
        )

    def sink(self) -> GammuSink:
        if self._sink is None:
            max_parts = self.opts.max_parts or self.context.sms_max_parts
            self._sink = GammuSink(self.db, self.opts, max_parts=max_parts)
        return self._sink

    async def close(self) -> None:
        await self.db.close()


DeliveryState = DeliveryStatus  # what ``delivery_status`` answers, in the toolkit's words


FAILED = {"SendingError", "DeliveryFailed", "Error"}


class GammuSink:
    """Queues replies in Gammu's outbox; never twice for one notification id."""

    def __init__(self, db: GammuDb, opts: GammuOptions, *, max_parts: int = 3) -> None:
        self.db = db
        self.opts = opts
        self.max_parts = max_parts

    async def send(self, origin: Origin, message: OutboundMessage) -> SendResult:
        if not origin.address:
            raise PermanentError("no phone number to answer on")
        nid = message.notification_id
        sent = await self.db.find_sent(nid)
        if sent:
            state = _summarise(sent)
            return SendResult(
                external_id=f"gammu:{sent[0]['ID']}",
                delivered=_delivered(state.state),
                detail=state.detail,
            )
        for row in await self.db.find_outbox(nid):
            when = row.get("SendingDateTime")
            if isinstance(when, dt.datetime) and when >= PARKED:
                # A MySQL insert cut short before its parts were all written: redo it.
                await self.db.discard_parked(int(row["ID"]))
                continue
            return SendResult(
                external_id=f"gammu:{row['ID']}",
                delivered=None,
                detail="already queued in the Gammu outbox",
            )
        parts = split_sms(message.text, self.max_parts)
        enc = sms_encoding("".join(parts))
        if len(parts) == 1:
            plan: list[tuple[str, str | None]] = [(parts[0], None)]
        else:
            ref = hashlib.sha256(nid.encode()).digest()[0]
            plan = [(p, make_udh(ref, len(parts), i)) for i, p in enumerate(parts, start=1)]
        oid = await self.db.queue_message(
            number=origin.address,
            coding=CODING[enc],
            parts=plan,
            creator_id=nid,
            sender_id=self.opts.sender_id,
            delivery_report=self.opts.delivery_report,
        )
        log.info("sms_queued", notification_id=nid, outbox_id=oid, parts=len(parts), coding=enc)
        return SendResult(
            external_id=f"gammu:{oid}",
            delivered=None,
            detail=f"queued in the Gammu outbox ({len(parts)} part(s))",
        )

    def recognises_resend(self) -> bool:
        return True  # a notification id is looked up in outbox and sentitems first

    async def delivery_status(self, notification_id: str) -> DeliveryState:
        """What gammu-smsd did with a notification: for the notifier to copy onto it."""
        sent = await self.db.find_sent(notification_id)
        if sent:
            return _summarise(sent)
        queued = await self.db.find_outbox(notification_id)
        if queued:
            return DeliveryState("queued", external_id=f"gammu:{queued[0]['ID']}")
        return DeliveryState("unknown", detail="not in outbox nor sentitems")

    async def close(self) -> None:
        return None


def _delivered(state: str) -> bool | None:
    return True if state == "delivered" else False if state == "failed" else None


def _summarise(rows: list[dict[str, Any]]) -> DeliveryState:
    statuses = [str(r["Status"]) for r in rows]
    ext = f"gammu:{rows[0]['ID']}"
    last = max(
        (r.get("DeliveryDateTime") or r.get("SendingDateTime") for r in rows),
        key=lambda d: d or dt.datetime.min,
        default=None,
    )
    detail = ",".join(sorted(set(statuses)))
    if any(s in FAILED for s in statuses):
        return DeliveryState("failed", ext, detail, last)
    if all(s == "DeliveryOK" for s in statuses):
        return DeliveryState("delivered", ext, detail, last)
    return DeliveryState("sent", ext, detail, last)
