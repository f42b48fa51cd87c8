"""Clusters: complaints from different reporters about one problem at one place.

A new complaint joins the cluster of its routing category and the first street, alley,
RT/RW or landmark it names, when that cluster had a complaint within the window; else it
starts one. Every member is still pushed and its reporter told; the dashboard and the API
list clusters of two reporters or more with their counts ("24 laporan banjir Jl. G. Obos").
A handful of statements per batch, whatever its size.
"""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg

from aggregator.judgement.followon import places
from aggregator.storage import intake as repo


def place_key(text: str) -> str | None:
    """The place a complaint names, in one spelling (the first in the text)."""
    found = places(text)
    if not found:
        return None
    # the longest name is the most specific ("g obos ix" over "rt 03")
    return sorted(found, key=lambda p: (-len(p), p))[0]


async def assign(
    conn: asyncpg.Connection, candidates: dict[uuid.UUID, list[Any]], window_h: float
) -> list[uuid.UUID]:
    """Put each candidate (id → [text, category]) in its cluster; returns the clusters."""
    keyed: dict[uuid.UUID, tuple[str, str]] = {}
    for cid, (text, category) in candidates.items():
        if not category or category == "lainnya":
            continue
        place = place_key(text)
        if place is not None:
            keyed[cid] = (category, place)
    if not keyed:
        return []
    pairs = sorted(set(keyed.values()))
    rows = await repo.open_clusters(
        conn, [c for c, _ in pairs], [p for _, p in pairs], window_h * 3600
    )
    found = {(r.category, r.place): r.id for r in rows}
    new = {pair: uuid.uuid4() for pair in pairs if pair not in found}
    if new:
        await repo.insert_clusters(
            conn,
            list(new.values()),
            [c for c, _ in new],
            [p for _, p in new],
        )
    found.update(new)
    ids = list(keyed)
    await repo.set_complaint_clusters(conn, ids, [found[keyed[i]] for i in ids])
    touched = sorted(set(found.values()))
    await repo.count_clusters(conn, touched)
    return touched
