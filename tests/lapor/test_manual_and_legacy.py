"""The port is real: the manual and xml-legacy adapters drive the same push code, and an
operator's entries make the same timeline as the http adapter's feed."""

from __future__ import annotations

import aiohttp
import asyncpg

from aggregator.lapor import manual
from aggregator.lapor.feed import UpdatesLoop
from aggregator.lapor.http import HttpLaporAdapter
from aggregator.lapor.manual import ManualLaporAdapter
from aggregator.lapor.port import LaporPort
from aggregator.lapor.xml_legacy import XmlLegacyAdapter
from tests.lapor.helpers import RunningSandbox, admin, insert_complaint, lapor_config, make_services
from tests.support.workers import push_worker


async def test_manual_worklist_and_entries(pool: asyncpg.Pool) -> None:
    services = make_services(pool, None)
    port = ManualLaporAdapter(pool)
    assert isinstance(port, LaporPort)
    cid = await insert_complaint(services)
    anon = await insert_complaint(services, anonymous=True)
    await push_worker(services, port).run_once()
    items, total = await manual.worklist(services)
    assert total == 2
    by_id = {i["complaint_id"]: i for i in items}
    assert by_id[str(cid)]["reporter"] == {"name": "Budi", "phone": "+6281234567890"}
    assert by_id[str(anon)]["reporter"] is None  # an anonymous identity is not re-typed
    assert "Jalan berlubang" in by_id[str(cid)]["content"]

    assert await manual.enter_tracking_id(services, cid, "#1916449", actor="rina")
    assert not await manual.enter_tracking_id(services, cid, "1916449", actor="rina")
    assert (await manual.worklist(services))[1] == 1
    await manual.enter_status(
        services,
        cid,
        "terdisposisi",
        actor="rina",
        agency_id="45",
        agency_name="Dinas PUPR Kota Palangka Raya",
    )
    await manual.enter_response(
        services,
        cid,
        "Terima kasih atas laporan Anda, akan kami tindaklanjuti.",
        actor="rina",
        author="Admin Penghubung PUPR",
    )
    await manual.enter_response(
        services,
        cid,
        "Pada tanggal 12-11-2026 tim UPT Pemeliharaan Jalan telah menambal "
        "lubang di Jl. RTA Milono km 5.",
        actor="rina",
        attachments=[{"url": "https://lapor.example/f/1.jpg", "content_type": "image/jpeg"}],
    )
    await manual.enter_status(services, cid, "ditindaklanjuti", actor="rina", event_id="form-123")
    await manual.enter_status(
        services, cid, "ditindaklanjuti", actor="rina", event_id="form-123"
    )  # a double submit changes nothing
    async with pool.acquire() as conn:
        row = await conn.fetchrow(
            "SELECT status::text, agency_id, lapor_tracking_id FROM complaints WHERE id = $1", cid
        )
        kinds = [
            r["kind"]
            for r in await conn.fetch(
                "SELECT kind FROM events WHERE complaint_id = $1 ORDER BY id", cid
            )
        ]
        labels = [
            r["label"]
            for r in await conn.fetch(
                "SELECT label::text FROM followups WHERE complaint_id = $1 ORDER BY at", cid
            )
        ]
    assert (row["status"], row["agency_id"], row["lapor_tracking_id"]) == (
        "ditindaklanjuti",
        "45",
        "1916449",
    )
    assert kinds == [
        "lapor_manual_pending",
        "lapor_pushed",
        "lapor_status_changed",
        "followup_received",
        "followup_received",
        "lapor_status_changed",
    ]
    assert labels == ["acknowledgement", "substantive_with_evidence"]


async def test_manual_entries_match_the_http_timeline(
    pool: asyncpg.Pool, sandbox: RunningSandbox, http: aiohttp.ClientSession
) -> None:
    """The same life upstream, once read from the feed and once typed in by an operator."""
    services = make_services(pool, http, lapor_config(sandbox.base_url))
    port = HttpLaporAdapter(services.settings.lapor, http)
    via_http = await insert_complaint(services)
    await push_worker(services, port).run_once()
    await admin(http, sandbox.root, "POST", "/_sandbox/advance", {"all": True})
    await UpdatesLoop(services, port).run_once()
    via_hand = await insert_complaint(services, enqueue=False)
    await manual.enter_tracking_id(services, via_hand, "77", actor="rina")
    for e in sandbox.sb.state["events"]:
        fields = {k: v for k, v in e.items() if k not in ("event_id", "tracking_id", "at")}
        await manual.enter_event(services, via_hand, fields, actor="rina")
    async with pool.acquire() as conn:

        def kinds(rows: list[asyncpg.Record]) -> list[str]:
            return [r["kind"] for r in rows if r["kind"] != "lapor_manual_pending"]

        a = kinds(
            await conn.fetch("SELECT kind FROM events WHERE complaint_id=$1 ORDER BY id", via_http)
        )
        b = kinds(
            await conn.fetch("SELECT kind FROM events WHERE complaint_id=$1 ORDER BY id", via_hand)
        )
        statuses = await conn.fetch("SELECT status::text FROM complaints ORDER BY status_at")
    assert a == b and len({s["status"] for s in statuses}) == 1


async def test_xml_legacy_adapter_pushes_through_the_same_code(
    pool: asyncpg.Pool, sandbox: RunningSandbox, http: aiohttp.ClientSession
) -> None:
    cfg = lapor_config(sandbox.root, adapter="xml-legacy")
    services = make_services(pool, http, cfg)
    port = XmlLegacyAdapter(cfg, http)
    assert isinstance(port, LaporPort)
    cid = await insert_complaint(services)
    await push_worker(services, port).run_once()
    async with pool.acquire() as conn:
        tid = await conn.fetchval("SELECT lapor_tracking_id FROM complaints WHERE id=$1", cid)
    report = sandbox.sb.state["reports"][tid]
    assert report["title"] == "Jalan berlubang di Jl. RTA Milono km 5"
    assert "SDN 5 Menteng" in report["content"]
