"""Parse a quarantined item again, after a fix to a connector or the data."""

from __future__ import annotations

from typing import Any

from aggregator.intake import Intake
from aggregator.sources import build_sources
from aggregator.sqlfiles import q
from connectors.base import Batch, RawItem


async def replay_item(services: Any, raw_id: int) -> str:
    """Returns what became of the item. The original bytes move to the new row, so nothing
    is lost even when it is quarantined again."""
    async with services.pool.acquire() as conn:
        row = await conn.fetchrow(q("get_raw_item"), raw_id)
        if row is None:
            return f"no item {raw_id}"
        if row["state"] != "quarantined":
            return f"item {raw_id} is {row['state']}, not quarantined"
        sources = services.extras.get("sources") or build_sources(services.settings, services)
        source = sources.get(row["source"])
        if source is None:
            return f"source {row['source']!r} is not configured any more"
        item = RawItem(
            source_ref=row["source_ref"],
            payload=bytes(row["payload"]),
            received_at=row["received_at"],
            meta=row["meta"] or {},
            content_type=row["content_type"],
        )
        cursor = await conn.fetchval(q("get_source_cursor"), row["source"])
        async with conn.transaction():
            await conn.execute("DELETE FROM raw_items WHERE id = $1", raw_id)
            result = await Intake(services).ingest(
                source, Batch(items=[item], cursor=cursor), conn=conn
            )
        update = None
        if result.updates and not result.quarantined:
            # An old form row's later change (a re-scan item, e.g. quarantined because its
            # row was not imported yet) lands on that row's complaint, not in a new one.
            update = await conn.fetchrow(
                q("get_replayed_legacy_update"), row["source"], row["source_ref"]
            )
    if result.quarantined:
        return "quarantined again: " + ", ".join(result.reasons)
    if result.complaints:
        return f"accepted as complaint {result.complaint_ids[0]}"
    if result.replies:
        return "accepted as a reporter reply"
    if update is not None:
        # The complaint may hold it already (an update applied once under another ref).
        held = f" ({update['reason']})" if update["reason"] else ""
        return f"accepted as an update of complaint {update['complaint_id']}{held}"
    return "ignored"
