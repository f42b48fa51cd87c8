"""The micro-batcher: concurrent calls share a statement; a failing batch falls back."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from aggregator.lapor.batching import MicroBatcher


async def test_concurrent_calls_share_batches_and_failures_stay_alone() -> None:
    calls: list[list[int]] = []

    async def fetch(keys: Sequence[int]) -> dict[int, str]:
        calls.append(list(keys))
        await asyncio.sleep(0.01)
        if 13 in keys:
            raise ValueError("unlucky")
        return {k: f"v{k}" for k in keys if k != 7}

    batcher: MicroBatcher[int, str] = MicroBatcher(fetch, max_batch=10)
    results = await asyncio.gather(*(batcher(k) for k in range(20)), return_exceptions=True)
    assert results[0] == "v0" and results[19] == "v19"
    assert isinstance(results[7], KeyError)  # not found
    assert isinstance(results[13], ValueError)  # only the bad key fails
    assert sum(1 for r in results if isinstance(r, str)) == 18
    assert len(calls[0]) == 10  # the first twenty calls went in batches, not one by one
    with pytest.raises(ValueError):
        await batcher(13)
