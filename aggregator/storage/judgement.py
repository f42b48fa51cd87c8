"""Clusters of complaints, for the dashboard and the API (issue 14, item 3)."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg

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
