"""Bursts and clusters (issue 14, item 3)."""

from __future__ import annotations

import datetime as dt
import json

from aiohttp.test_utils import TestClient, TestServer

from aggregator.intake import Intake
from aggregator.web.app import make_app
from connectors.base import Batch, RawItem
from schemas.config import Settings, SourceConfig
from tests.core.helpers import make_services
from tests.core.test_web import tokens
from tests.judgement.test_followon import PhoneSource


async def _send(services, src, messages: list[dict]) -> None:
    items = [
        RawItem(f"r{len(src.items) + i}", json.dumps(m).encode()) for i, m in enumerate(messages)
    ]
    src.items.extend(items)
    await Intake(services).ingest(src, Batch(items=items, cursor={"pos": len(src.items)}))


async def test_an_sms_burst_is_one_complaint_pushed_after_the_quiet_window(pool):
    services = make_services(pool, settings=Settings(demo=True))
    src = PhoneSource(SourceConfig(name="sms", kind="jsonlines", agency="55"))
    me = {"phone": "081311112222"}
    # two parts in one batch, a third a minute later
    await _send(
        services,
        src,
        [
            {**me, "text": "Pak lampu jalan di Jl. Melati mati semua"},
            {**me, "text": "sudah 5 hari gelap sekali"},
        ],
    )
    await _send(services, src, [{**me, "text": "depan SDN 3, rawan begal"}])
    async with pool.acquire() as conn:
        rows = await conn.fetch("SELECT id, content FROM complaints")
        job = await conn.fetchrow("SELECT run_after, created_at FROM jobs WHERE kind = 'push'")
        merged = await conn.fetchval("SELECT count(*) FROM events WHERE kind = 'burst_merged'")
        replies = await conn.fetchval("SELECT count(*) FROM reporter_replies")
    assert len(rows) == 1 and replies == 0 and merged == 2
    assert rows[0]["content"] == (
        "Pak lampu jalan di Jl. Melati mati semua\nsudah 5 hari gelap sekali\n"
        "depan SDN 3, rawan begal"
    )
    wait = job["run_after"] - dt.datetime.now(dt.UTC)
    assert dt.timedelta(seconds=150) < wait <= dt.timedelta(seconds=180)

    # once pushed (a tracking id), a further SMS is a reply again, not a part
    async with pool.acquire() as conn:
        await conn.execute("UPDATE complaints SET lapor_tracking_id = 'T1'")
        await conn.execute("UPDATE jobs SET state = 'done' WHERE kind = 'push'")
    await _send(services, src, [{**me, "text": "masih gelap pak"}])
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM reporter_replies") == 1


async def test_burst_window_is_configuration(pool):
    services = make_services(pool, settings=Settings(demo=True, bursts={"quiet_window_s": 0}))
    src = PhoneSource(SourceConfig(name="sms", kind="jsonlines", agency="55"))
    me = {"phone": "081311113333"}
    await _send(services, src, [{**me, "text": "Pak lampu jalan di Jl. Melati mati semua"}])
    await _send(services, src, [{**me, "text": "sudah 5 hari gelap sekali"}])
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM reporter_replies") == 1
        assert await conn.fetchval("SELECT run_after <= now() FROM jobs WHERE kind = 'push'")


async def test_reports_of_one_problem_at_one_place_form_a_counted_cluster(pool):
    services = make_services(pool, settings=Settings(demo=True))
    src = PhoneSource(SourceConfig(name="sms", kind="jsonlines", agency="55"))
    flood = [
        "Banjir setinggi lutut di Jl. G. Obos IX, air masuk rumah",
        "Jl. G. Obos IX banjir lagi pak, drainase tersumbat",
        "tolong, banjir parah di Jl. G. Obos IX sejak subuh",
    ]
    await _send(
        services, src, [{"phone": f"08131111{i:04d}", "text": t} for i, t in enumerate(flood[:2])]
    )
    await _send(
        services,
        src,
        [
            {"phone": "081311119999", "text": flood[2]},
            {"phone": "081311118888", "text": "Sampah menumpuk di TPS Jl. G. Obos IX bau"},
        ],
    )
    async with pool.acquire() as conn:
        clusters = await conn.fetch(
            "SELECT id, category, place, complaints, reporters FROM complaint_clusters"
            " ORDER BY complaints DESC"
        )
        pushes = await conn.fetchval("SELECT count(*) FROM jobs WHERE kind = 'push'")
    top = clusters[0]
    assert (top["category"], top["place"], top["complaints"], top["reporters"]) == (
        "banjir_drainase",
        "g obos ix",
        3,
        3,
    )
    assert [c["complaints"] for c in clusters[1:]] == [1]  # the rubbish: another problem
    assert pushes == 4  # each still pushed
    toks = await tokens(pool)
    async with TestClient(TestServer(make_app(services))) as client:
        api = await client.get(
            "/api/clusters", headers={"Authorization": f"Bearer {toks['operator']}"}
        )
        listed = (await api.json())["clusters"]
        assert [(c["reporters"], c["place"]) for c in listed] == [(3, "g obos ix")]
        one = await client.get(
            f"/api/clusters/{top['id']}", headers={"Authorization": f"Bearer {toks['operator']}"}
        )
        assert (await one.json())["count"] == 3
        await client.post("/dasbor/masuk", data={"token": toks["operator"]})
        page = await (await client.get("/dasbor/klaster")).text()
        assert "3 laporan banjir drainase" in page and "g obos ix" in page
        await client.session.close()
