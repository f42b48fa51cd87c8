"""An operator moves a citizen's message between "reply" and "new complaint", in a real
browser (issue 14, item 4).

The dashboard runs in-process on a real port against a scratch database; the messages come
in through the real intake, which judges them. The operator logs in with a token, turns a
reply into a new complaint from the report's page, then turns that complaint back into a
reply to the reporter's open complaint chosen in a list. Every page passes the accessibility
basics and raises no script error; the moves are on both timelines.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aiohttp.test_utils import TestServer

from aggregator.web.app import make_app
from schemas.config import Settings, SourceConfig
from tests.browser.test_pages import Visit
from tests.core.helpers import make_services
from tests.core.test_web import tokens
from tests.judgement.test_followon import PhoneSource, _ingest

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]
REPLY = "Pak kapan ditertibkan parkirnya? jukirnya masih minta uang"


async def test_an_operator_moves_a_message_both_ways(
    pool: asyncpg.Pool, browser: Any, artifacts: Path
) -> None:
    services = make_services(pool, settings=Settings(demo=True))
    src = PhoneSource(SourceConfig(name="sms", kind="jsonlines", agency="55"))
    who = {"phone": "081234567899"}
    await _ingest(services, src, [{**who, "text": "Parkir liar di depan Pasar Cik Puan"}])
    async with pool.acquire() as conn:
        await conn.execute("UPDATE complaints SET lapor_tracking_id = 'T-77'")
        parking = await conn.fetchval("SELECT id FROM complaints")
    await _ingest(services, src, [{**who, "text": REPLY}])
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT text FROM reporter_replies") == REPLY
    token = (await tokens(pool))["operator"]

    server = TestServer(make_app(services))
    await server.start_server()
    base = str(server.make_url("")).rstrip("/")
    try:
        desk = await browser.new_context(viewport={"width": 1280, "height": 900}, locale="id-ID")
        visit = Visit(await desk.new_page(), artifacts, "pindah")
        page = visit.page
        await page.goto(f"{base}/dasbor/masuk")
        await page.fill("#token", token)
        await page.keyboard.press("Enter")
        await page.wait_for_url(f"{base}/dasbor")

        # 1. the reply is a new problem: the operator makes it a complaint of its own
        await page.goto(f"{base}/dasbor/pengaduan/{parking}")
        await visit.check("pengaduan-dengan-balasan")
        row = page.locator("tr", has_text=REPLY)
        await row.get_by_role("button", name="Jadikan pengaduan baru").click()
        await page.wait_for_load_state()
        assert "dijadikan pengaduan baru" in await page.inner_text("[role=status]")
        assert REPLY in await page.inner_text("pre")
        new_id = page.url.split("/dasbor/pengaduan/")[1].split("?")[0]
        assert new_id != str(parking)
        await visit.check("pengaduan-baru-dari-balasan")
        async with pool.acquire() as conn:
            assert await conn.fetchval("SELECT count(*) FROM reporter_replies") == 0
            assert await conn.fetchval(
                "SELECT count(*) FROM jobs WHERE kind = 'push' AND complaint_id = $1::uuid",
                new_id,
            )

        # 2. it was a reply after all: back onto the parking complaint, chosen in the list
        options = await page.locator("#ke option").all_inner_texts()
        assert len(options) == 1 and "#T-77" in options[0]
        await page.select_option("#ke", str(parking))
        await page.get_by_role("button", name="Jadikan balasan").click()
        await page.wait_for_url(f"{base}/dasbor/pengaduan/{parking}?**")
        assert "dijadikan balasan" in await page.inner_text("[role=status]")
        assert REPLY in await page.locator("table", has_text="Terverifikasi").inner_text()
        timeline = await page.locator("table", has_text="Peristiwa").inner_text()
        # intake's verdict and both of the operator's moves, each with its reason
        assert timeline.count("pesan dinilai") == 3, timeline
        assert timeline.count("moved by an operator") == 2, timeline
        assert "Keputusan\nbalasan" in timeline and "Keputusan\npengaduan baru" in timeline
        await visit.check("balasan-kembali")
        # the moved complaint is not a complaint any more, and offers no move
        await page.goto(f"{base}/dasbor/pengaduan/{new_id}")
        assert await page.locator("#ke").count() == 0
        await visit.check("pengaduan-yang-dipindah")
        await desk.close()
    finally:
        await server.close()

    async with pool.acquire() as conn:
        reply = await conn.fetchrow("SELECT complaint_id, text FROM reporter_replies")
        assert (reply["complaint_id"], reply["text"]) == (parking, REPLY)
        moved = await conn.fetchrow(
            "SELECT status::text, duplicate_of FROM complaints WHERE id = $1::uuid", new_id
        )
        assert tuple(moved) == ("duplicate", parking)
        assert not await conn.fetchval(
            "SELECT count(*) FROM jobs WHERE kind = 'push' AND complaint_id = $1::uuid", new_id
        )
        actors = await conn.fetch(
            "SELECT complaint_id, data->>'decision' AS decision FROM events"
            " WHERE kind = 'message_judged' AND actor = 'operator:dasbor:operator' ORDER BY id"
        )
        got = [(str(a["complaint_id"]), a["decision"]) for a in actors]
        assert got == [
            (str(parking), "new_complaint"),
            (new_id, "new_complaint"),
            (str(parking), "reply"),
            (new_id, "reply"),
        ]
