"""The micro-batcher: concurrent calls share a statement; a failing batch falls back."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence

import pytest

from aggregator.lapor.batching import MicroBatcher


async def test_concurrent_calls_share_batches_and_failures_stay_alone() -> None:
    calls: list[list[int]] = []

    async def fetch(_held: None, keys: Sequence[int]) -> dict[int, str]:
        calls.append(list(keys))
        await asyncio.sleep(0.01)
        if 13 in keys:
            raise ValueError("unlucky")
        return {k: f"v{k}" for k in keys if k != 7}

    batcher: MicroBatcher[int, str, None] = MicroBatcher(
        fetch, contextlib.nullcontext, max_batch=10
    )
    results = await asyncio.gather(*(batcher(k) for k in range(20)), return_exceptions=True)
    assert results[0] == "v0" and results[19] == "v19"
    assert isinstance(results[7], KeyError)  # not found
    assert isinstance(results[13], ValueError)  # only the bad key fails
    assert sum(1 for r in results if isinstance(r, str)) == 18
    assert len(calls[0]) == 10  # the first twenty calls went in batches, not one by one
    with pytest.raises(ValueError):
        await batcher(13)


async def test_back_to_back_batches_share_one_hold_and_answer_before_leaving_it() -> None:
    events: list[str] = []

    @contextlib.asynccontextmanager
    async def hold() -> AsyncIterator[str]:
        events.append("enter")
        yield "conn"
        await asyncio.sleep(0.05)  # a release that takes a round trip
        events.append("leave")

    async def fetch(held: str, keys: Sequence[int]) -> dict[int, str]:
        assert held == "conn"
        await asyncio.sleep(0.005)
        return {k: f"v{k}" for k in keys}

    batcher: MicroBatcher[int, str, str] = MicroBatcher(fetch, hold, linger_s=0.02)

    async def call(k: int, delay: float) -> str:
        await asyncio.sleep(delay)
        got = await batcher(k)
        events.append(f"got{k}")
        return got

    # Calls arriving while a batch runs, and one within linger_s of the last batch.
    got = await asyncio.gather(call(1, 0), call(2, 0.002), call(3, 0.015))
    assert got == ["v1", "v2", "v3"]
    assert batcher.batches == 3 and batcher.holds == 1
    assert "leave" not in events  # answered without waiting for the release
    # Quiet for longer than linger_s: the hold was left; the next call enters it again.
    await asyncio.sleep(0.1)
    assert events[-1] == "leave"
    assert await batcher(4) == "v4"
    assert batcher.holds == 2


async def test_a_hold_that_cannot_be_entered_fails_the_waiting_calls() -> None:
    @contextlib.asynccontextmanager
    async def hold() -> AsyncIterator[None]:
        raise ConnectionError("no database")
        yield

    async def fetch(_held: None, keys: Sequence[int]) -> dict[int, str]:
        raise AssertionError("not reached")

    batcher: MicroBatcher[int, str, None] = MicroBatcher(fetch, hold)
    results = await asyncio.gather(batcher(1), batcher(2), return_exceptions=True)
    assert all(isinstance(r, ConnectionError) for r in results)
