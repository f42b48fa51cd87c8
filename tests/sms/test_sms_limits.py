"""An SMS intake refuses what cannot be an SMS: a body or a text larger than the medium."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from aggregator.web.app import make_app
from aggregator.wiring.sources import build_source
from connectors.sms.options import SMS_MAX_TEXT_CHARS
from schemas.config import SourceConfig
from tests.sms.conftest import make_services
from tests.sms.kannel import free_port

SECRET = "s3kret-gateway"
HEAD = {"X-Satukanal-Secret": SECRET}


@pytest.fixture
async def base(pool: Any) -> AsyncIterator[tuple[str, aiohttp.ClientSession]]:
    async with aiohttp.ClientSession() as http:
        services = make_services(pool, http=http)
        src = build_source(
            SourceConfig(
                name="sms-web", kind="sms_http", options={"secret": SECRET, "timezone": "UTC"}
            ),
            services,
        )
        app = make_app(services, extra=[("/intake/sms-web", src.routes())])
        runner = web.AppRunner(app)
        await runner.setup()
        port = free_port()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        try:
            yield f"http://127.0.0.1:{port}/intake/sms-web", http
        finally:
            await runner.cleanup()


async def test_a_2_mib_sms_is_refused_naming_the_limit(base: Any, pool: Any) -> None:
    url, http = base
    huge = {"from": "081311112222", "text": "a" * (2 * 1024 * 1024)}
    async with http.post(f"{url}/webhook", json=huge, headers=HEAD) as r:
        assert r.status == 413
        assert "at most 262144 bytes (max_body_bytes)" in await r.text()
    async with http.post(f"{url}/kannel?secret={SECRET}&from=0813", data=b"a" * (300 * 1024)) as r:
        assert r.status == 413
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM raw_items") == 0


async def test_a_text_over_the_concatenated_maximum_is_refused(base: Any, pool: Any) -> None:
    url, http = base
    over = {"from": "081311112222", "text": "Jalan rusak. " * 3100}  # 40,300 characters
    async with http.post(f"{url}/webhook", json=over, headers=HEAD) as r:
        assert r.status == 422
        body = await r.text()
    assert f"the longest SMS is {SMS_MAX_TEXT_CHARS} characters" in body
    assert "255 parts of 153" in body
    longest = {"from": "081311112222", "text": ("Jalan rusak di RT 3. " * 2000)[:39015]}
    async with http.post(f"{url}/webhook", json=longest, headers=HEAD) as r:
        assert r.status == 200, await r.text()
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM raw_items") == 1
