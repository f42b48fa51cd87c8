from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest

from tests.lapor.helpers import RunningSandbox, start_sandbox


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
async def sandbox() -> AsyncIterator[RunningSandbox]:
    running = await start_sandbox(rate_limit=False)
    try:
        yield running
    finally:
        await running.stop()
