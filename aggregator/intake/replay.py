"""Parse a quarantined item again, after a fix to a connector or the data.

The outcome is shown on the dashboard's quarantine page and printed by ``satukanal
quarantine replay``, so its text is Bahasa Indonesia; ``ReplayOutcome.code`` is the stable,
machine-readable part (``not_found``, ``not_quarantined``, ``source_missing``,
``quarantined``, ``complaint``, ``reply``, ``update``, ``ignored``) for callers that branch
on it or put it in JSON.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING

from aggregator.intake.sealing import open_meta, open_payload
from aggregator.storage import admin as admin_repo
from aggregator.storage import forms as forms_repo
from aggregator.storage import intake as repo
from aggregator.storage import sources as sources_repo
from connectors.base import Batch, RawItem

if TYPE_CHECKING:
    from aggregator.wiring.services import Services

_STATES = {"accepted": "diterima", "ignored": "diabaikan", "quarantined": "dikarantina"}


@dataclass(frozen=True)
class ReplayOutcome:
    code: str
    text: str  # Bahasa Indonesia, for the operator
    complaint_id: uuid.UUID | None = None


async def replay_item(services: Services, raw_id: int) -> str:
    """What became of the item, as the sentence the dashboard and the CLI show."""
    return (await replay(services, raw_id)).text


async def replay(services: Services, raw_id: int) -> ReplayOutcome:
    """Returns what became of the item. The original bytes move to the new row, so nothing
    is lost even when it is quarantined again."""
    async with services.pool.acquire() as conn:
        row = await admin_repo.get_raw_item(conn, raw_id)
        if row is None:
            return ReplayOutcome("not_found", f"item {raw_id} tidak ada")
        if row.state != "quarantined":
            state = _STATES.get(str(row.state), str(row.state))
            return ReplayOutcome(
                "not_quarantined", f"item {raw_id} tidak dikarantina (sudah {state})"
            )
        source = services.sources.get(row.source)
        if source is None:
            return ReplayOutcome("source_missing", f"kanal {row.source!r} tidak dikonfigurasi lagi")
        item = RawItem(
            source_ref=row.source_ref,
            payload=open_payload(services.crypto, row.payload, row.payload_key),
            received_at=row.received_at,
            # an operator's replay lets a message held as junk through
            meta={**(open_meta(services.crypto, row.meta) or {}), "junk_released": True},
            content_type=row.content_type,
        )
        cursor = await sources_repo.get_cursor(conn, row.source)
        async with conn.transaction():
            await repo.delete_raw_item(conn, raw_id)
            result = await services.intake.ingest(
                source, Batch(items=[item], cursor=cursor), conn=conn
            )
        after = None
        if (result.updates or result.ignored) and not result.quarantined:
            # An old form row's later change (a re-scan item, e.g. quarantined because its
            # row was not imported yet) lands on that row's complaint, not in a new one; an
            # ignored item keeps its reason on the row.
            after = await forms_repo.replayed_legacy_update(conn, row.source, row.source_ref)
    if result.quarantined:
        return ReplayOutcome("quarantined", "masih dikarantina: " + ", ".join(result.reasons))
    if result.complaints:
        cid = result.complaint_ids[0]
        return ReplayOutcome("complaint", f"diterima sebagai pengaduan baru {cid}", cid)
    if result.replies:
        return ReplayOutcome("reply", "diterima sebagai balasan pelapor")
    if result.updates and after is not None:
        # The complaint may hold it already (an update applied once under another ref).
        held = f" ({after.reason})" if after.reason else ""
        to = after.complaint_id
        return ReplayOutcome("update", f"diterima sebagai pembaruan pengaduan {to}{held}", to)
    why = after.reason if after is not None and after.reason else None
    return ReplayOutcome("ignored", f"diabaikan: {why}" if why else "diabaikan")
