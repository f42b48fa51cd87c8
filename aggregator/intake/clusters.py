"""Clusters: complaints from different reporters about one problem at one place.

A new complaint joins the cluster of its routing category and the first street, alley,
RT/RW or landmark it names, when that cluster had a complaint within the window; else it
starts one. Every member is still pushed and its reporter told; the dashboard and the API
list clusters of two reporters or more with their counts ("24 laporan banjir Jl. G. Obos").

Intake finds (or opens) the batch's clusters before it writes the batch's complaints, so
each complaint is written once, with its cluster: an UPDATE of freshly written complaints
would write every row a second time, with all its indexes and the dashboard's counting
trigger. Two statements per batch, whatever its size: one finds or opens the clusters, one
counts them once their members are written.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable

import asyncpg

from aggregator.judgement.screen import place_key
from aggregator.storage import intake as repo

__all__ = ["clusterable", "count", "place", "place_key"]


def clusterable(category: str | None) -> bool:
    """A category a cluster can be about ("lainnya" is no one problem)."""
    return bool(category) and category != "lainnya"


async def place(
    conn: asyncpg.Connection, keyed: dict[uuid.UUID, tuple[str, str]], window_h: float
) -> dict[uuid.UUID, uuid.UUID]:
    """The cluster of each complaint (id → (category, place)): the open cluster of its key
    within the window, else one opened now. Call it before the complaints are written."""
    if not keyed:
        return {}
    pairs = sorted(set(keyed.values()))
    rows = await repo.find_or_open_clusters(
        conn,
        [c for c, _ in pairs],
        [p for _, p in pairs],
        [uuid.uuid4() for _ in pairs],
        window_h * 3600,
    )
    found = {(r.category, r.place): r.id for r in rows}
    return {cid: found[key] for cid, key in keyed.items()}


async def count(conn: asyncpg.Connection, clusters: Iterable[uuid.UUID]) -> list[uuid.UUID]:
    """Members and reporters of these clusters, counted after their members are written."""
    touched = sorted(set(clusters))
    if touched:
        await repo.count_clusters(conn, touched)
    return touched
