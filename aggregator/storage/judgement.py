"""Clusters of complaints, for the dashboard and the API (issue 14, item 3), and an
operator's moves between "reply" and "new complaint" (item 4)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import asyncpg

from aggregator.storage import jobs as jobs_repo
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


@dataclass(frozen=True, slots=True)
class MovableReply:
    text: str
    source_agency: str | None


@dataclass(frozen=True, slots=True)
class MovedRoute:
    """The route a moved message is written with (the router's, as for any new complaint)."""

    agency_id: str | None  # suggested to LAPOR!; None: the channel's agency
    category: str | None
    agency: str | None  # OPD code of the policy
    confidence: float | None
    reasons: tuple[str, ...]
    triage: bool


async def movable_reply(conn: asyncpg.Connection, reply_id: uuid.UUID) -> MovableReply | None:
    """A reply an operator may move to a new complaint (not yet in LAPOR!), or None."""
    row = await conn.fetchrow(q("movable_reply"), reply_id)
    return MovableReply(**row) if row is not None else None


async def reply_as_complaint(
    conn: asyncpg.Connection,
    reply_id: uuid.UUID,
    operator: str,
    route: MovedRoute | None = None,
) -> tuple[uuid.UUID, uuid.UUID] | None:
    """Move a reporter's message from reply to new complaint; (new id, open complaint id),
    or None when the reply is unknown or has already reached LAPOR!. ``route``: what the
    router made of its text (None: the channel's agency, no route)."""
    new_id = uuid.uuid4()
    r = route
    async with conn.transaction():
        row = await conn.fetchrow(
            q("reply_as_complaint"),
            reply_id,
            new_id,
            r.agency_id if r else None,
            r.category if r else None,
            r.agency if r else None,
            r.confidence if r else None,
            list(r.reasons) if r else None,
            r.triage if r else None,
        )
        if row is None or row["new_id"] is None:
            return None
        old_id = row["old_id"]
        await jobs_repo.insert_many(conn, [["push"], [new_id], ["{}"], [f"push:{new_id}"]])
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


async def complaint_as_reply(
    conn: asyncpg.Connection, complaint_id: uuid.UUID, target_id: uuid.UUID, operator: str
) -> uuid.UUID | None:
    """Move a message taken as a new complaint onto ``target_id``, another open complaint of
    the same reporter, as their reply; the reply's id, or None when the complaint is unknown,
    already (being) sent to LAPOR!, or the target is not the reporter's open complaint."""
    reply_id = uuid.uuid4()
    async with conn.transaction():
        states = [r["state"] for r in await conn.fetch(q("lock_push_jobs"), complaint_id)]
        if any(s not in ("queued", "dead") for s in states):
            return None  # the pusher has it: LAPOR! may already hold it
        row = await conn.fetchrow(q("complaint_as_reply"), complaint_id, target_id, reply_id)
        if row is None or row["reply_id"] is None:
            return None
        await jobs_repo.insert_many(
            conn,
            [
                ["reply_up"],
                [target_id],
                [json_text({"reply_id": str(reply_id)})],
                [f"reply:{reply_id}"],
            ],
        )
        data = json_text(
            {
                "decision": "reply",
                "reason": "moved by an operator",
                "open_complaint": str(target_id),
                "moved_complaint": str(complaint_id),
                "reply_id": str(reply_id),
            }
        )
        actor = f"operator:{operator}"
        await conn.execute(
            q("insert_events"),
            [target_id, complaint_id, target_id],
            ["message_judged", "message_judged", "reporter_replied"],
            [actor, actor, actor],
            [data, data, json_text({"reply_id": str(reply_id), "moved_by_operator": True})],
        )
    return reply_id


async def reply_move_targets(
    conn: asyncpg.Connection, complaint_id: uuid.UUID
) -> list[dict[str, Any]]:
    """The reporter's other open complaints this one could be a reply to (empty once it is
    in LAPOR!)."""
    return [dict(r) for r in await conn.fetch(q("reply_move_targets"), complaint_id)]
