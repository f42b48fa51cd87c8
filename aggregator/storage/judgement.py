"""Clusters of complaints, for the dashboard and the API (issue 14, item 3)."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg

from aggregator.storage.db import json_text
from aggregator.storage.sqlfiles import q


async def recent_clusters(
    pool: asyncpg.Pool, *, min_reporters: int = 2, days: int = 30, limit: int = 100
) -> list[dict[str, Any]]:
    """Problems reported by ``min_reporters`` or more, newest first."""
    async with pool.acquire() as conn:
        rows = await conn.fetch(q("list_clusters"), min_reporters, days, limit)
    return [dict(r) for r in rows]


async def cluster_members(pool: asyncpg.Pool, cluster_id: uuid.UUID) -> list[dict[str, Any]]:
    async with pool.acquire() as conn:
        rows = await conn.fetch(q("cluster_members"), cluster_id)
    return [dict(r) for r in rows]


async def reply_as_complaint(
    conn: asyncpg.Connection, reply_id: uuid.UUID, operator: str
) -> tuple[uuid.UUID, uuid.UUID] | None:
    """Move a reporter's message from reply to new complaint; (new id, open complaint id),
    or None when the reply is unknown or has already reached LAPOR!."""
    new_id = uuid.uuid4()
    async with conn.transaction():
        row = await conn.fetchrow(q("reply_as_complaint"), reply_id, new_id)
        if row is None or row["new_id"] is None:
            return None
        old_id = row["old_id"]
        await conn.execute(
            q("insert_jobs"), ["push"], [new_id], ["{}"], [f"push:{new_id}"], [None], 0
        )
        data = json_text(
            {
                "decision": "new_complaint",
                "reason": "moved by an operator",
                "open_complaint": str(old_id),
                "new_complaint": str(new_id),
                "reply_id": str(reply_id),
            }
        )
        await conn.execute(
            q("insert_events"),
            [old_id, new_id],
            ["message_judged", "message_judged"],
            [f"operator:{operator}", f"operator:{operator}"],
            [data, data],
        )
    return new_id, old_id
