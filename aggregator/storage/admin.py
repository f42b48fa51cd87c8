"""Read models for operators: status, complaints with their timeline, tokens, key rotation."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import secrets
import uuid
from dataclasses import dataclass
from typing import Any

import asyncpg

from aggregator.crypto import Crypto
from aggregator.receipts import hide_in_origin
from aggregator.storage import jobs as jobs_repo
from aggregator.storage import replies as replies_repo
from aggregator.storage.events import timeline
from aggregator.storage.sqlfiles import q

TOKEN_PREFIX = "skn_"  # noqa: S105 - a recognisable prefix, not a secret


def _plain(row: asyncpg.Record | None) -> dict[str, Any] | None:
    if row is None:
        return None
    return {k: (bytes(v).hex() if isinstance(v, bytes | memoryview) else v) for k, v in row.items()}


async def status_overview(conn: asyncpg.Connection, dead_limit: int = 20) -> dict[str, Any]:
    sources = [_plain(r) for r in await conn.fetch(q("list_source_states"))]
    depth = await jobs_repo.depth(conn)
    queue: list[dict[str, Any]] = [
        {"kind": k, "state": s, "n": n} for k, states in depth.items() for s, n in states.items()
    ]
    dead = [j.model_dump() for j in await jobs_repo.dead(conn, dead_limit)]
    complaints = await status_counts(conn)
    backlog = sum(r["n"] for r in queue if r["state"] in ("queued", "running", "in_doubt"))
    return {
        "sources": sources,
        "queue": queue,
        "backlog": backlog,
        "dead_jobs": dead,
        "complaints": complaints,
    }


@dataclass(frozen=True, slots=True)
class Quarantined:
    id: int
    source: str
    source_ref: str
    reason: str | None
    ingested_at: dt.datetime
    size: int


@dataclass(frozen=True, slots=True)
class RawItemRow:
    """A raw item with its sealed payload and meta (aggregator.intake.sealing opens them)."""

    id: int
    source: str
    source_ref: str
    state: str
    reason: str | None
    payload: bytes
    meta: Any
    received_at: dt.datetime | None
    content_type: str
    payload_key: str | None


async def list_quarantined(
    conn: asyncpg.Connection, source: str | None, limit: int
) -> list[Quarantined]:
    """Quarantined items, newest first."""
    return [Quarantined(**r) for r in await conn.fetch(q("list_quarantined"), source, limit)]


async def get_raw_item(conn: asyncpg.Connection, raw_id: int) -> RawItemRow | None:
    row = await conn.fetchrow(q("get_raw_item"), raw_id)
    return RawItemRow(**row) if row is not None else None


async def status_counts(conn: asyncpg.Connection) -> dict[str, int]:
    """Complaints per status (from the counters, not a count over the table)."""
    return {r["status"]: r["n"] for r in await conn.fetch(q("complaint_status_counts"))}


async def find_complaint_id(conn: asyncpg.Connection, ref: str) -> uuid.UUID | None:
    """A complaint by its id, its LAPOR! Tracking ID or a legacy form's receipt code."""
    try:
        cid = uuid.UUID(ref)
    except ValueError:
        found: uuid.UUID | None = await conn.fetchval(q("find_complaint_by_reference"), ref.strip())
        return found
    return cid if await conn.fetchval(q("complaint_exists"), cid) else None


async def list_complaints(
    conn: asyncpg.Connection,
    *,
    status: str | None = None,
    agencies: list[str] | None = None,
    before: dt.datetime | None = None,
    limit: int = 50,
) -> list[dict[str, Any]]:
    """Newest first; ``agencies`` (ids or codes) keeps those LAPOR! gave to one of them or
    that came by one of their sources."""
    rows = await conn.fetch(q("list_complaints"), status, agencies, before, limit)
    return [_plain(r) for r in rows]  # type: ignore[misc]


async def complaint_detail(
    conn: asyncpg.Connection,
    crypto: Crypto,
    complaint_id: uuid.UUID,
    *,
    reveal_identity: bool = False,
) -> dict[str, Any] | None:
    row = await conn.fetchrow(q("get_complaint"), complaint_id)
    if row is None:
        return None
    detail: dict[str, Any] = _plain(row)  # type: ignore[assignment]
    # What the daemon noticed about the item at intake (flags are the codes, these the text).
    origin = detail.get("origin") or {}
    detail["notes"] = list(origin.get("intake_notes") or []) if isinstance(origin, dict) else []
    # The receipt code is the citizen's credential: staff of every role see that one exists.
    detail["origin"], detail["has_receipt_code"] = hide_in_origin(detail.get("origin"))
    reporter_id = detail.pop("reporter_id")
    detail["reporter"] = None
    # An anonymous reporter's text before redaction: sealed, opened only on an explicit
    # (logged) reveal by an administrator.
    origin = dict(detail.get("origin") or {})
    sealed_original = origin.pop("original_text", None)
    detail["origin"] = origin
    if sealed_original is not None:
        detail["original_text"] = (
            json.loads(crypto.open_value("complaint.original_text", sealed_original) or "{}")
            if reveal_identity
            else "(tersimpan terenkripsi)"
        )
    if reporter_id is not None:
        rep = await conn.fetchrow(q("get_reporter"), reporter_id)
        if rep is not None:
            if reveal_identity and not row["anonymous"]:
                detail["reporter"] = {
                    f: crypto.decrypt(f, rep[f"{f}_enc"]) for f in ("name", "email", "phone", "nik")
                }
            else:
                detail["reporter"] = {
                    f: ("(tersimpan terenkripsi)" if rep[f"{f}_enc"] else None)
                    for f in ("name", "email", "phone", "nik")
                }
    detail["followups"] = [
        _plain(r) for r in await conn.fetch(q("list_complaint_followups"), complaint_id)
    ]
    detail["notifications"] = [
        _plain(r) for r in await conn.fetch(q("list_complaint_notifications"), complaint_id)
    ]
    # What the citizen wrote back, verified or held, next to what they were told.
    detail["replies"] = [_plain(r) for r in await replies_repo.for_complaint(conn, complaint_id)]
    detail["jobs"] = [j.model_dump() for j in await jobs_repo.for_complaint(conn, complaint_id)]
    detail["timeline"] = [e.model_dump() for e in await timeline(conn, complaint_id)]
    # where an operator may move this message as a reply instead (issue 14, item 4)
    detail["move_targets"] = [
        _plain(r) for r in await conn.fetch(q("reply_move_targets"), complaint_id)
    ]
    return detail


def hash_token(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


async def create_token(
    conn: asyncpg.Connection, *, name: str, role: str, agency: str | None
) -> tuple[uuid.UUID, str]:
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token_id = uuid.uuid4()
    await conn.execute(q("insert_api_token"), token_id, name, hash_token(token), role, agency)
    return token_id, token


async def find_token(conn: asyncpg.Connection, token: str) -> dict[str, Any] | None:
    row = await conn.fetchrow(q("find_api_token"), hash_token(token))
    return dict(row) if row else None


async def revoke_token(conn: asyncpg.Connection, token_id: uuid.UUID) -> bool:
    return await conn.fetchval(q("revoke_api_token"), token_id) is not None


async def list_tokens(conn: asyncpg.Connection) -> list[dict[str, Any]]:
    return [dict(r) for r in await conn.fetch(q("list_api_tokens"))]


async def rotate_reporter_keys(conn: asyncpg.Connection, crypto: Crypto, batch: int = 500) -> int:
    """Re-encrypt every reporter under the newest key; resumable, in batches."""
    done = 0
    while True:
        async with conn.transaction():
            rows = await conn.fetch(q("reporters_needing_rotation"), crypto.current_id, batch)
            for r in rows:
                fields = [
                    crypto.encrypt(f, crypto.decrypt(f, r[f"{f}_enc"]))
                    for f in ("name", "email", "phone", "nik")
                ]
                await conn.execute(
                    q("update_reporter_ciphertexts"), r["id"], crypto.current_id, *fields
                )
        done += len(rows)
        if len(rows) < batch:
            return done
