"""Routing through intake, the dashboard's triage list, corrections and `route retrain`."""

from __future__ import annotations

import asyncio
import io
import json
import sys

import pytest
from aiohttp.test_utils import TestClient, TestServer

from aggregator.cli import main
from aggregator.crypto import generate_key
from aggregator.intake import Intake
from aggregator.storage import routing as repo
from aggregator.web.app import make_app
from connectors.base import Batch, RawItem
from schemas.config import Settings, SourceConfig
from tests.core.helpers import JsonLinesSource, make_services
from tests.core.test_web import tokens

AGENCIES = {"PUPR": "45", "DISHUB": "46", "DLH": "47"}


def _settings(**kw: object) -> Settings:
    return Settings(demo=True, agencies=AGENCIES, **kw)  # type: ignore[arg-type]


async def _ingest(services, texts: list[str]) -> None:
    src = JsonLinesSource(SourceConfig(name="form-pupr", kind="jsonlines", agency="45"))  # PUPR
    items = [RawItem(f"r{i}", json.dumps({"text": t}).encode()) for i, t in enumerate(texts)]
    await Intake(services).ingest(src, Batch(items=items, cursor={"pos": len(items)}))


async def test_intake_stores_the_route_and_suggests_the_routed_agency(pool):
    services = make_services(pool, settings=_settings())
    await _ingest(
        services,
        [
            "Lampu jalan di Jl. Yos Sudarso dpn masjid mati sdh seminggu, gelap bgt",
            "Tolong pak",
            "Air PDAM tidak mengalir sudah tiga hari",
        ],
    )
    async with pool.acquire() as conn:
        rows = {
            r["content"][:10]: r
            for r in await conn.fetch(
                "SELECT content, agency_id, category_id, route_category, route_agency,"
                " route_confidence, route_reasons, needs_triage FROM complaints"
            )
        }
        event = await conn.fetchval(
            "SELECT data FROM events WHERE kind = 'complaint_ingested' LIMIT 1"
        )
    light = rows["Lampu jala"]
    # the keyword stub's demo bug: a street light went to PUPR because of "jalan"
    assert (light["route_category"], light["route_agency"], light["agency_id"]) == (
        "penerangan_jalan",
        "DISHUB",
        "46",
    )
    assert light["category_id"] is None  # LAPOR!'s own category ids are not the policy's
    assert light["route_confidence"] > 0.55 and not light["needs_triage"]
    assert light["route_reasons"][0].startswith("model: penerangan_jalan/DISHUB")
    vague = rows["Tolong pak"]
    assert vague["needs_triage"] and vague["agency_id"] == "45"  # the channel's own agency
    water = rows["Air PDAM t"]
    # PDAM has no LAPOR! id configured: the suggestion falls back to the channel's agency
    assert (water["route_agency"], water["agency_id"]) == ("PDAM", "45")
    assert any("no LAPOR! id" in r for r in water["route_reasons"])
    assert "routed_by" in (json.loads(event) if isinstance(event, str) else event)


async def test_routing_can_be_switched_off(pool):
    from schemas.config import RouterConfig

    services = make_services(pool, settings=_settings(router=RouterConfig(enabled=False)))
    await _ingest(services, ["Lampu jalan mati sdh seminggu"])
    async with pool.acquire() as conn:
        row = await conn.fetchrow("SELECT agency_id, route_category, needs_triage FROM complaints")
    assert (row["agency_id"], row["route_category"], row["needs_triage"]) == ("45", None, False)


async def test_operator_corrects_a_route_on_the_triage_list(pool):
    services = make_services(pool, settings=_settings())
    await _ingest(services, ["Tolong pak, sdh lama tdk ada yg urus"])
    toks = await tokens(pool)
    async with TestClient(TestServer(make_app(services))) as client:
        await client.post("/dasbor/masuk", data={"token": toks["operator"]})
        page = await (await client.get("/dasbor/triase")).text()
        assert "Triase rute pengaduan" in page and "sdh lama tdk ada yg urus" in page
        assert "1 pengaduan menunggu triase" in page
        async with pool.acquire() as conn:
            cid = await conn.fetchval("SELECT id FROM complaints")
            route = await conn.fetchrow("SELECT route_category, route_agency FROM complaints")
        # The system's suggestion is the row's preselected route, and only it.
        mine = f'<option value="{route["route_category"]}/{route["route_agency"]}" selected>'
        assert page.count(" selected>") == 1 and mine in page
        assert page.count("<option ") > 10
        bad = await client.post(f"/dasbor/triase/{cid}", data={"route": "lainnya/PUPR"})
        assert "Pilih kategori dan OPD" in await bad.text()
        ok = await client.post(f"/dasbor/triase/{cid}", data={"route": "sampah_kebersihan/DLH"})
        assert "Dialihkan ke DLH" in await ok.text()
        assert "Tidak ada pengaduan yang menunggu triase" in await ok.text()
        await client.session.close()
    async with pool.acquire() as conn:
        row = await conn.fetchrow(
            "SELECT agency_id, route_category, route_agency, needs_triage"
            " FROM complaints WHERE id = $1",
            cid,
        )
        assert dict(row) == {
            "agency_id": "47",
            "route_category": "sampah_kebersihan",
            "route_agency": "DLH",
            "needs_triage": False,
        }
        kinds = [
            r["kind"]
            for r in await conn.fetch(
                "SELECT kind FROM events WHERE complaint_id = $1 ORDER BY id", cid
            )
        ]
        assert kinds[-1] == "route_corrected"
        found = await repo.corrections(conn)
    assert [(c.category, c.agency) for c in found] == [("sampah_kebersihan", "DLH")]
    assert "sdh lama" in found[0].text


async def test_route_retrain_exports_corrections_used_from_next_start(
    pool, db_dsn, tmp_path, monkeypatch, capsys
):
    services = make_services(pool, settings=_settings())
    text = "Pohon tumbang nutup jalan gang kami"
    await _ingest(services, [text])
    async with pool.acquire() as conn, conn.transaction():
        cid = await conn.fetchval("SELECT id FROM complaints")
        await repo.correct_route(
            conn, cid, category="lainnya", agency="KECAMATAN", agency_id=None, operator="test"
        )
    cfg = tmp_path / "satukanal.toml"
    cfg.write_text(
        f'data_dir = "{tmp_path / "data"}"\n[database]\nurl = "{db_dsn}"\n'
        f'[crypto]\nhmac_key = "{generate_key()}"\n[[crypto.keys]]\nid = "k1"\n'
        f'secret = "{generate_key()}"\n'
        "[lapor]\nsandbox = true\n"  # no LAPOR! is reached; production would need credentials
    )
    # the CLI runs its own event loop, so it runs beside the test's
    assert await asyncio.to_thread(main, ["--config", str(cfg), "route", "retrain"]) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["corrections"] == 1
    exported = (tmp_path / "data" / "routing_corrections.jsonl").read_text("utf-8")
    assert json.loads(exported)["agency"] == "KECAMATAN"
    # `satukanal route` with that configuration reads the corrections as training data
    monkeypatch.setattr(sys, "stdin", io.StringIO(json.dumps({"text": text}) + "\n"))
    assert main(["--config", str(cfg), "route"]) == 0
    routed = json.loads(capsys.readouterr().out)
    assert routed["agency"] == "KECAMATAN" and routed["text"] == text


def test_route_filter_without_configuration(monkeypatch, capsys):
    lines = [{"text": "lampu jln mati", "channel": "sms"}, "not json", {"text": "sampah numpuk"}]
    monkeypatch.setattr(
        sys,
        "stdin",
        io.StringIO("\n".join(x if isinstance(x, str) else json.dumps(x) for x in lines) + "\n"),
    )
    assert main(["route"]) == 1  # one bad line
    out = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert [(o["category"], o["agency"]) for o in out] == [
        ("penerangan_jalan", "DISHUB"),
        ("sampah_kebersihan", "DLH"),
    ]
    assert out[0]["channel"] == "sms" and 0 < out[0]["confidence"] <= 1 and out[0]["reasons"]


@pytest.fixture(autouse=True)
def _no_config_env(monkeypatch):
    monkeypatch.delenv("SATUKANAL_CONFIG", raising=False)
