"""Without LAPOR! API access: the operator's worklist, end to end through the admin API."""

from __future__ import annotations

import json

from aiohttp.test_utils import TestClient, TestServer

from aggregator.intake import Intake
from aggregator.lapor.manual import ManualLaporAdapter
from aggregator.lapor.push import PushHandlers
from aggregator.queue import Worker
from aggregator.storage.admin import create_token
from aggregator.web.app import make_app
from connectors.base import Batch, RawItem
from schemas.config import Settings, SourceConfig
from tests.core.helpers import JsonLinesSource, make_services


async def test_operator_retypes_enters_tracking_id_status_and_response(pool):
    settings = Settings(demo=True, lapor={"adapter": "manual"})
    services = make_services(pool, settings=settings)
    src = JsonLinesSource(SourceConfig(name="sms", kind="jsonlines"))
    await Intake(services).ingest(
        src,
        Batch(
            items=[
                RawItem(
                    "1",
                    json.dumps(
                        {
                            "text": "Lampu penerangan jalan di Jl. G. Obos mati sejak Senin malam",
                            "phone": "081299990000",
                            "name": "Dewi",
                        }
                    ).encode(),
                )
            ],
            cursor={},
        ),
    )
    worker = Worker(services.queue, PushHandlers(services, ManualLaporAdapter(pool)).handlers())
    assert await worker.run_once() == 1

    async with pool.acquire() as conn:
        _, op = await create_token(conn, name="ana", role="operator", agency=None)
        _, aud = await create_token(conn, name="audit", role="auditor", agency=None)
    h = {"Authorization": f"Bearer {op}"}
    async with TestClient(TestServer(make_app(services))) as client:
        listed = await (await client.get("/api/worklist", headers=h)).json()
        assert listed["total"] == 1
        item = listed["items"][0]
        assert item["reporter"]["name"] == "Dewi"  # what to re-type into LAPOR!
        cid = item["complaint_id"]
        forbidden = await client.get("/api/worklist", headers={"Authorization": f"Bearer {aud}"})
        assert forbidden.status == 403

        bad = await client.post(
            f"/api/complaints/{cid}/tracking-id", json={"tracking_id": "abc"}, headers=h
        )
        assert bad.status == 422 and "Tracking ID" in (await bad.json())["message"]
        ok = await client.post(
            f"/api/complaints/{cid}/tracking-id",
            json={"tracking_id": "#1916500", "at": "2026-11-28T08:00:00+07:00"},
            headers=h,
        )
        assert ok.status == 200, await ok.text()
        assert (await (await client.get("/api/worklist", headers=h)).json())["total"] == 0

        st = await client.post(
            f"/api/complaints/{cid}/status",
            json={
                "status": "terdisposisi",
                "agency_id": "46",
                "agency_name": "Dinas Perhubungan",
                "at": "2026-11-28T09:00:00+07:00",
            },
            headers=h,
        )
        assert st.status == 200, await st.text()
        resp = await client.post(
            f"/api/complaints/{cid}/response",
            json={
                "text": "Pada 27 November 2026 petugas UPT PJU telah mengganti lampu Jl. G. Obos",
                "agency_id": "46",
                "agency_name": "Dinas Perhubungan",
                "at": "2026-11-28T10:00:00+07:00",
            },
            headers=h,
        )
        assert resp.status == 200, await resp.text()
        naive = await client.post(
            f"/api/complaints/{cid}/status",
            json={"status": "selesai", "at": "2026-11-28T11:00:00"},
            headers=h,
        )
        assert naive.status == 422 and "time zone" in (await naive.json())["message"]

        detail = await (await client.get(f"/api/complaints/{cid}", headers=h)).json()
    assert detail["lapor_tracking_id"] == "1916500"
    assert detail["status"] == "terdisposisi"
    assert [f["label"] for f in detail["followups"]] == ["substantive"]
    kinds = [e["kind"] for e in detail["timeline"]]
    assert (
        "lapor_pushed" in kinds or "lapor_adopted" in kinds or any("tracking" in k for k in kinds)
    )
    actors = {e["actor"] for e in detail["timeline"]}
    assert any("ana" in a for a in actors)  # who entered what is on the record
