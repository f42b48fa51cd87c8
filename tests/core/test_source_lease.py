"""Replicas: one holder polls a source at a time, and a dead holder's source is taken over
within seconds (issue 18 item 2).

Two runtimes on two pools with two owners stand for two processes on one database. The
holder's poll outlives the lease (its heartbeat keeps it); then the holder dies without
releasing anything — its connections are gone — and the other replica takes the source
over within ``lease_s``, resuming from the committed cursor: nothing ingested twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import time
from typing import Any

import asyncpg

from aggregator.intake.loop import IngestLoop
from aggregator.storage.db import create_pool
from aggregator.wiring.services import Services
from schemas.config import SourceConfig
from tests.core.helpers import JsonLinesSource
from tests.support.runtime import make_services

LEASE_S = 1.5


class HangingSource(JsonLinesSource):
    """Yields its first batch, then hangs (a slow server) before the rest."""

    def __init__(self, cfg: SourceConfig, items: list[bytes]) -> None:
        super().__init__(cfg, items)
        self.hang = asyncio.Event()

    async def pull(self, cursor: dict[str, Any] | None):  # type: ignore[no-untyped-def]
        first = True
        async for batch in super().pull(cursor):
            if not first:
                await self.hang.wait()
            first = False
            yield batch


def _replica(pool: asyncpg.Pool, owner: str) -> Services:
    """One process's runtime: its own pool and owner (a process's is host:pid)."""
    return dataclasses.replace(make_services(pool, owner=owner), owner=owner)


def _items() -> list[bytes]:
    return [
        json.dumps({"text": f"Lampu jalan di gang {i} padam tiga malam", "phone": "0812"}).encode()
        for i in range(3)
    ]


async def test_a_dead_holders_source_is_taken_over_within_the_lease(db_dsn: str) -> None:
    cfg = SourceConfig(name="sms-lease", kind="jsonlines", batch_size=1, lease_s=LEASE_S)
    pool_a = await create_pool(db_dsn, min_size=1, max_size=4)
    pool_b = await create_pool(db_dsn, min_size=1, max_size=4)
    try:
        holder = HangingSource(cfg, _items())
        other = JsonLinesSource(cfg, _items())
        loop_a = IngestLoop(_replica(pool_a, "replica-a"), holder)
        loop_b = IngestLoop(_replica(pool_b, "replica-b"), other)
        poll_a = asyncio.create_task(loop_a.run_once())
        for _ in range(200):
            if holder.acked:
                break
            await asyncio.sleep(0.05)
        assert len(holder.acked) == 1  # first batch in; the poll now hangs

        # Twice the lease: the heartbeat keeps the source with its holder.
        until = time.monotonic() + 2 * LEASE_S
        while time.monotonic() < until:
            assert await loop_b.run_once() == 0
            await asyncio.sleep(0.2)
        assert not other.acked

        # The holder dies: its connections drop, nothing is released.
        pool_a.terminate()
        poll_a.cancel()
        with contextlib.suppress(BaseException):
            await poll_a
        died = time.monotonic()
        taken = 0
        while not taken:
            assert time.monotonic() - died < LEASE_S + 2.0, "source not taken over"
            taken = await loop_b.run_once()
            await asyncio.sleep(0.1)
        takeover_s = time.monotonic() - died
        assert takeover_s <= LEASE_S + 1.0
        assert taken == 2  # resumed after the holder's committed batch
        assert [b.cursor for b in other.acked] == [{"pos": 2}, {"pos": 3}]
    finally:
        await pool_b.close()
        with contextlib.suppress(Exception):
            await pool_a.close()

    conn = await asyncpg.connect(db_dsn)
    try:
        refs = [r["source_ref"] for r in await conn.fetch("SELECT source_ref FROM raw_items")]
        owner = await conn.fetchval("SELECT lease_owner FROM source_state")
    finally:
        await conn.close()
    assert sorted(refs) == ["line-0", "line-1", "line-2"]  # each once
    assert owner is None  # released after the poll
