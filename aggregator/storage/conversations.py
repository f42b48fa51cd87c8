"""Reporter identities behind complaints, as keyed hashes (never the identity itself)."""

from __future__ import annotations

import uuid

import asyncpg

from aggregator.storage.sqlfiles import q


def identity_of(row: asyncpg.Record | None) -> set[tuple[str, bytes]]:
    """The (kind, keyed hash) pairs a reporter is known by; empty for no identity."""
    if row is None:
        return set()
    return {
        (k, bytes(row[f"{k}_hash"]))
        for k in ("phone", "email", "nik")
        if row[f"{k}_hash"] is not None
    }


async def reporter_identity(
    conn: asyncpg.Connection, complaint_id: uuid.UUID
) -> set[tuple[str, bytes]]:
    return identity_of(await conn.fetchrow(q("complaint_reporter_hashes"), complaint_id))


async def linked_duplicates(
    conn: asyncpg.Connection, complaint_id: uuid.UUID
) -> list[asyncpg.Record]:
    return list(await conn.fetch(q("linked_duplicates_with_hashes"), complaint_id))
