"""Fixtures for the job queue tests: a queue on the per-test database, fast backoff."""

from __future__ import annotations

import uuid

import asyncpg
import pytest

from aggregator.queue import JobQueue
from schemas.config import QueueConfig

FAST = QueueConfig(
    batch_size=20,
    lease_s=30,
    max_attempts=3,
    backoff_base_s=0.01,
    backoff_max_s=0.05,
    poll_s=0.2,
)


@pytest.fixture
def cfg() -> QueueConfig:
    return FAST


@pytest.fixture
def queue(pool: asyncpg.Pool, cfg: QueueConfig) -> JobQueue:
    return JobQueue(pool, cfg, owner="test:1")


async def make_complaint(pool: asyncpg.Pool) -> uuid.UUID:
    """A minimal complaint row, so jobs and events can point at it."""
    cid = uuid.uuid4()
    async with pool.acquire() as conn:
        await conn.execute(
            "INSERT INTO complaints (id, source, channel, content)"
            " VALUES ($1, 'test', 'email', 'x')",
            cid,
        )
    return cid


async def job_row(pool: asyncpg.Pool, job_id: int) -> asyncpg.Record:
    async with pool.acquire() as conn:
        row = await conn.fetchrow("SELECT * FROM jobs WHERE id = $1", job_id)
    assert row is not None
    return row


async def enqueue(queue: JobQueue, kind: str = "push", **kw: object) -> int:
    async with queue.pool.acquire() as conn, conn.transaction():
        job_id = await queue.enqueue(conn, kind, **kw)  # type: ignore[arg-type]
    assert job_id is not None
    return job_id
