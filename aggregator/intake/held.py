"""An operator's decision on a held (unverified) reply.

Accepting makes it the reporter's: it goes up to LAPOR! (``reply_up``) and its SUDAH/BELUM
counts. Rejecting keeps it on the timeline, marked, and sends nothing.
"""

from __future__ import annotations

import uuid
from typing import Any, Literal

from aggregator.storage import replies as repo
from aggregator.storage.events import append_event


async def review_held_reply(
    services: Any, reply_id: uuid.UUID, *, by: str, decision: Literal["accepted", "rejected"]
) -> bool:
    """False when there is no such held reply (or someone decided already)."""
    async with services.pool.acquire() as conn, conn.transaction():
        row = await repo.review(conn, reply_id, by=by, decision=decision)
        if row is None:
            return False
        cid = row.complaint_id
        if decision == "accepted":
            await services.queue.enqueue(
                conn,
                "reply_up",
                complaint_id=cid,
                payload={"reply_id": str(reply_id)},
                dedup_key=f"reply:{reply_id}",
            )
            if row.resolved is not None:
                await repo.set_resolved(conn, cid, row.resolved)
        await append_event(
            conn,
            cid,
            "reporter_reply_accepted" if decision == "accepted" else "reporter_reply_rejected",
            {"reply_id": str(reply_id), "by": by},
            actor=f"dasbor:{by}",
        )
    return True
