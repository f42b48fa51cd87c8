"""Reporter identities behind complaints, as keyed hashes (never the identity itself)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import asyncpg

from aggregator.storage.sqlfiles import q


@dataclass(frozen=True, slots=True)
class ReporterHashes:
    """A reporter's keyed hashes (never the identity itself)."""

    phone_hash: bytes | None
    email_hash: bytes | None
    nik_hash: bytes | None


@dataclass(frozen=True, slots=True)
class LinkedDuplicate(ReporterHashes):
    """A complaint linked to another as its duplicate, with its reporter's keyed hashes."""

    id: uuid.UUID
    source: str
    channel: str


def identity_of(row: ReporterHashes | None) -> set[tuple[str, bytes]]:
    """The (kind, keyed hash) pairs a reporter is known by; empty for no identity."""
    if row is None:
        return set()
    hashes = {"phone": row.phone_hash, "email": row.email_hash, "nik": row.nik_hash}
    return {(k, bytes(h)) for k, h in hashes.items() if h is not None}


async def reporter_identity(
    conn: asyncpg.Connection, complaint_id: uuid.UUID
) -> set[tuple[str, bytes]]:
    row = await conn.fetchrow(q("complaint_reporter_hashes"), complaint_id)
    return identity_of(ReporterHashes(**row) if row is not None else None)


async def linked_duplicates(
    conn: asyncpg.Connection, complaint_id: uuid.UUID
) -> list[LinkedDuplicate]:
    rows = await conn.fetch(q("linked_duplicates_with_hashes"), complaint_id)
    return [LinkedDuplicate(**r) for r in rows]
