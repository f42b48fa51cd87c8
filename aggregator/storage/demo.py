"""What the demo asks of the database: is the story over, and what happened in it
(``since``: when this demo run started)."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

import asyncpg

from aggregator.storage.sqlfiles import q


@dataclass(frozen=True)
class DemoProgress:
    complaints: int
    open_complaints: int
    undelivered: int
    open_jobs: int


@dataclass(frozen=True)
class DemoComplaint:
    id: uuid.UUID
    channel: str
    source: str
    tracking_id: str | None
    status: str
    agency_name: str | None
    title: str | None
    closed_without_real_followup: bool
    responses: int


@dataclass(frozen=True)
class LabelCount:
    label: str
    count: int
    with_photos: int


@dataclass(frozen=True)
class MessageCount:
    channel: str
    state: str
    count: int


async def progress(conn: asyncpg.Connection, since: dt.datetime) -> DemoProgress:
    r = await conn.fetchrow(q("demo_progress"), since)
    return DemoProgress(
        complaints=r["complaints"],
        open_complaints=r["open_complaints"],
        undelivered=r["undelivered"],
        open_jobs=r["open_jobs"],
    )


async def complaints(conn: asyncpg.Connection, since: dt.datetime) -> list[DemoComplaint]:
    return [
        DemoComplaint(
            id=r["id"],
            channel=r["channel"],
            source=r["source"],
            tracking_id=r["lapor_tracking_id"],
            status=str(r["status"]),
            agency_name=r["agency_name"],
            title=r["title"],
            closed_without_real_followup=r["closed_without_real_followup"],
            responses=r["responses"],
        )
        for r in await conn.fetch(q("demo_complaints"), since)
    ]


async def followup_labels(conn: asyncpg.Connection, since: dt.datetime) -> list[LabelCount]:
    return [
        LabelCount(label=r["label"], count=r["n"], with_photos=r["with_photos"])
        for r in await conn.fetch(q("demo_followup_labels"), since)
    ]


async def messages(conn: asyncpg.Connection, since: dt.datetime) -> list[MessageCount]:
    return [
        MessageCount(channel=r["channel"], state=r["state"], count=r["n"])
        for r in await conn.fetch(q("demo_messages"), since)
    ]
