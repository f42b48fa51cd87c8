from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.forms.legacy import JPEG, LegacyDb, create_legacy_db, drop_legacy_db


@pytest.fixture
async def legacy() -> AsyncIterator[LegacyDb]:
    db = await create_legacy_db()
    try:
        yield db
    finally:
        await drop_legacy_db(db)


@pytest.fixture
def uploads(tmp_path: Path) -> Path:
    base = tmp_path / "uploads"
    base.mkdir()
    (base / "pohon.jpg").write_bytes(JPEG)
    (tmp_path / "secret.txt").write_text("rahasia")
    return base


@pytest.fixture
async def services(pool):  # type: ignore[no-untyped-def]
    """Services on the test's fresh PostgreSQL; a fixed clock so policies are deterministic."""
    import datetime as dt

    import aiohttp

    from tests.support.runtime import make_services

    async with aiohttp.ClientSession() as http:
        yield make_services(
            pool, http, clock=lambda: dt.datetime(2025, 11, 20, 3, 0, tzinfo=dt.UTC)
        )
