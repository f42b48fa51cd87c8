"""Backfill with its worker processes: the same rows as in one process, pages written in
source order, an interrupted run resumed to the same result, memory bounded by the pages in
flight. Real MariaDB and PostgreSQL; the workers are real processes."""

from __future__ import annotations

import asyncio
import dataclasses
import io
import itertools
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from aggregator.intake.backfill import Policy, Summary, run_backfill
from aggregator.wiring.sources import build_source
from connectors.base import Batch
from tests.forms.helpers import form_source_config
from tests.forms.legacy import LegacyDb, fill
from tests.forms.test_backfill_bulk import _snapshot

PAGE = 25
_TABLES = "raw_items, complaints, reporters, events, jobs, backfill_runs, source_state"


def _source(services: Any, legacy: LegacyDb, uploads: Path) -> tuple[Any, Any]:
    cfg = form_source_config(legacy, uploads, batch_size=PAGE)
    services = dataclasses.replace(
        services, settings=services.settings.model_copy(update={"sources": [cfg]})
    )
    return services, build_source(cfg, services)


async def _run(services: Any, legacy: LegacyDb, uploads: Path, **kw: Any) -> Summary:
    services, src = _source(services, legacy, uploads)
    try:
        return await run_backfill(
            services,
            src,
            # Some pushed, most kept as history: both write paths in every page.
            policy=Policy(push_if_open_newer_than_days=20),
            progress=False,
            out=io.StringIO(),
            **kw,
        )
    finally:
        await src.close()


async def _pages_in_order(services: Any) -> bool:
    """Each page's raw items got ids after every earlier page's: written in source order."""
    async with services.pool.acquire() as conn:
        spans = await conn.fetch(
            "SELECT ((meta->>'row_id')::int - 1) / $1 AS page, min(id) lo, max(id) hi "
            "FROM raw_items GROUP BY 1 ORDER BY 1",
            PAGE,
        )
    return all(a["hi"] < b["lo"] for a, b in itertools.pairwise(spans))


async def _stored(services: Any) -> dict[str, Any]:
    async with services.pool.acquire() as conn:
        snap = await _snapshot(conn, services)
        raw, refs = await conn.fetchrow(
            "SELECT count(*), count(DISTINCT source_ref) FROM raw_items"
        )
    assert raw == refs == len(snap)  # nothing stored twice
    return snap


async def _truncate(services: Any) -> None:
    async with services.pool.acquire() as conn:
        await conn.execute(f"TRUNCATE {_TABLES} CASCADE")


def _same(expected: dict[str, Any], got: dict[str, Any]) -> None:
    assert set(got) == set(expected)
    for ref in expected:
        for part in expected[ref]:
            want, have = expected[ref][part], got[ref][part]
            assert have == want, (
                ref,
                part,
                {k: (have.get(k), v) for k, v in want.items() if have.get(k) != v},
            )


async def test_pool_sizes_store_the_same_rows_in_source_order(
    legacy: LegacyDb, uploads: Path, services: Any
) -> None:
    await fill(legacy, 300, people=30)
    one = await _run(services, legacy, uploads, workers=0)
    expected = await _stored(services)
    assert one.workers == 0 and one.read == 315 and one.pushed and one.history
    for n in (1, 2):
        await _truncate(services)
        s = await _run(services, legacy, uploads, workers=n)
        assert s.workers == n
        assert s.to_json() == one.to_json()
        _same(expected, await _stored(services))
        assert await _pages_in_order(services)


async def test_interrupted_pooled_run_resumes_to_the_same_result(
    legacy: LegacyDb, uploads: Path, services: Any
) -> None:
    await fill(legacy, 300, people=30)
    whole = await _run(services, legacy, uploads, workers=2)
    expected = await _stored(services)
    await _truncate(services)

    committed = asyncio.Event()
    pages = 0

    def on_batch(_: Summary) -> None:
        nonlocal pages
        pages += 1
        if pages == 4:
            committed.set()

    task = asyncio.create_task(_run(services, legacy, uploads, workers=2, on_batch=on_batch))
    await committed.wait()
    await asyncio.sleep(0.05)  # somewhere in the next page: writing, or waiting for a worker
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    async with services.pool.acquire() as conn:
        run = await conn.fetchrow("SELECT cursor, counts, finished_at FROM backfill_runs")
        held = await conn.fetchval("SELECT count(*) FROM raw_items")
    assert run["finished_at"] is None
    # The checkpoint is exactly the pages committed: their rows, and no row after them.
    last = run["cursor"]["last_id"]
    assert last % PAGE == 0 and PAGE * 4 <= last < 315
    assert held == run["counts"]["read"] == last

    rest = await _run(services, legacy, uploads, workers=2)
    assert rest.resumed and rest.finished
    assert rest.to_json() == whole.to_json()  # counts carried across the two runs
    _same(expected, await _stored(services))
    assert await _pages_in_order(services)


async def test_pages_in_flight_are_bounded(legacy: LegacyDb, uploads: Path, services: Any) -> None:
    """A slow writer: the workers could run far ahead, but at most ``pages_in_flight``
    pages are read from the source and not yet committed."""
    await fill(legacy, 300, people=30)
    services, src = _source(services, legacy, uploads)
    pulled = 0
    ahead: list[int] = []
    pull = src.pull

    async def counting_pull(cursor: Any) -> AsyncIterator[Batch]:
        nonlocal pulled
        async for batch in pull(cursor):
            pulled += 1
            yield batch

    async def slow_ack(batch: Batch) -> None:
        await asyncio.sleep(0.1)  # the writer falls behind the workers

    def on_batch(s: Summary) -> None:
        ahead.append(pulled - len(ahead) - 1)  # read, beyond the ones committed

    src.pull, src.ack = counting_pull, slow_ack
    try:
        s = await run_backfill(
            services,
            src,
            policy=Policy(push_if_open_newer_than_days=0),
            progress=False,
            out=io.StringIO(),
            on_batch=on_batch,
            workers=2,
            pages_in_flight=3,
        )
    finally:
        await src.close()
    assert s.finished and s.read == 315 and len(ahead) == 13
    # Read ahead up to the bound (the committed page still counts until the next is asked
    # for), never past it.
    assert max(ahead) == 2 and s.pages_in_flight_peak == 3
