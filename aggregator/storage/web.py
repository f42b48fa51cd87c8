"""Dashboard sessions, the access log of revealed personal data, raw originals."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import uuid
from dataclasses import dataclass
from typing import Any

import asyncpg

from aggregator.storage.sqlfiles import q


@dataclass(frozen=True)
class RawOriginal:
    id: int
    source: str
    state: str
    reason: str | None
    payload: bytes
    content_type: str
    received_at: dt.datetime | None
    anonymous: bool
    payload_key: str | None = None  # the key the payload is encrypted with (None: plaintext)


def _session_hash(session_id: str) -> bytes:
    return hashlib.sha256(session_id.encode()).digest()


async def create_session(
    conn: asyncpg.Connection, token_id: uuid.UUID, ttl: dt.timedelta, now: dt.datetime
) -> str:
    """A new random session id for the token (returned once; only its hash is stored)."""
    session_id = secrets.token_urlsafe(32)
    await conn.execute(
        q("insert_dashboard_session"), _session_hash(session_id), token_id, now + ttl
    )
    return session_id


async def find_session(conn: asyncpg.Connection, session_id: str) -> dict[str, Any] | None:
    """The token identity (id, name, role, agency) behind a live session, or None."""
    row = await conn.fetchrow(q("find_dashboard_session"), _session_hash(session_id))
    return dict(row) if row else None


async def revoke_session(conn: asyncpg.Connection, session_id: str) -> bool:
    return await conn.fetchval(q("revoke_dashboard_session"), _session_hash(session_id)) is not None


async def delete_stale_sessions(conn: asyncpg.Connection, older_than: dt.datetime) -> int:
    status = await conn.execute(q("delete_stale_dashboard_sessions"), older_than)
    return int(status.split()[-1])


async def log_access(
    conn: asyncpg.Connection,
    *,
    token_id: uuid.UUID | None,
    actor: str,
    action: str,
    subject: str,
    detail: dict[str, Any] | None = None,
) -> None:
    await conn.execute(q("insert_access_log"), token_id, actor, action, subject, detail or {})


async def access_log(conn: asyncpg.Connection, limit: int = 200) -> list[dict[str, Any]]:
    return [dict(r) for r in await conn.fetch(q("list_access_log"), limit)]


async def raw_original(conn: asyncpg.Connection, raw_id: int) -> RawOriginal | None:
    row = await conn.fetchrow(q("get_raw_original"), raw_id)
    if row is None:
        return None
    return RawOriginal(**{**dict(row), "payload": bytes(row["payload"])})
