"""A real browser for every page: Playwright driving Debian's chromium.

Playwright cannot download its own browser builds here, so it drives the system's
``chromium`` (installed by the test command from Debian's packages). Screenshots of every
page are kept as test artefacts in ``$SATUKANAL_ARTIFACTS`` (default
``test-artifacts/``), one PNG per page, named after it.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def chromium_path() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if found := shutil.which(name):
            return found
    raise RuntimeError(
        "no chromium on PATH: the browser tests need Debian's `chromium` package "
        "(scripts/debian-packages.txt, installed by scripts/test.sh)"
    )


@pytest.fixture(scope="session")
def artifacts() -> Path:
    out = Path(os.environ.get("SATUKANAL_ARTIFACTS", ROOT / "test-artifacts")) / "screenshots"
    out.mkdir(parents=True, exist_ok=True)
    return out


@pytest.fixture
async def browser() -> AsyncIterator[object]:
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        b = await pw.chromium.launch(
            executable_path=chromium_path(),
            # Root in CI has no user namespace sandbox; the pages are our own.
            args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
        )
        try:
            yield b
        finally:
            await b.close()
