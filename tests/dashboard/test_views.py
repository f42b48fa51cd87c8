"""The dashboard's pictures and work lists over HTTP, for each role.

Agency staff see only their agency (their code and its LAPOR! id, from ``[agencies]``);
receipt codes and the reporter search are an administrator's; every list exports as CSV;
quarantine reasons are Indonesian with a stable code and a hint; agency names come from
LAPOR! (the sandbox's ``GET /agencies``), cached in our database.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import io
import uuid
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import asyncpg
import pytest
from aiohttp.test_utils import TestClient, TestServer

from aggregator.followup.stats import StatsLoop, percentile
from aggregator.lapor.http import HttpLaporAdapter
from aggregator.storage.admin import create_token
from aggregator.web import charts
from aggregator.web.app import make_app
from aggregator.web.keys import THROTTLE
from aggregator.web.reasons import CODES, explain
from aggregator.web.security import FailureThrottle
from schemas.config import Settings
from tests.core.helpers import make_services
from tests.lapor.helpers import lapor_config, start_sandbox

# In the future, so the sessions it opens are live; 10:00 WIB on a Friday, no holiday near.
NOW = dt.datetime(2027, 7, 16, 3, 0, tzinfo=dt.UTC)
XSS = "<script>window.__xss = 1</script>"


@pytest.fixture
async def client(pool: asyncpg.Pool) -> AsyncIterator[TestClient]:
    settings = Settings(demo=True, agencies={"PUPR": "45", "DISHUB": "46"})
    services = dataclasses.replace(make_services(pool, settings=settings), clock=lambda: NOW)
    app = make_app(services)
    app[THROTTLE] = FailureThrottle(10_000, window_s=1)
    async with TestClient(TestServer(app)) as c:
        c.services = services  # type: ignore[attr-defined]
        yield c


async def login(
    client: TestClient, pool: asyncpg.Pool, role: str, agency: str | None = None
) -> None:
    async with pool.acquire() as conn:
        _, tok = await create_token(conn, name=f"{role}-{agency}", role=role, agency=agency)
    client.session.cookie_jar.clear()
    resp = await client.post("/dasbor/masuk", data={"token": tok}, allow_redirects=False)
    assert resp.status == 303


NAMES = {"45": "Dinas PUPR", "46": "Dinas Perhubungan"}


async def seed(pool: asyncpg.Pool, services: Any) -> dict[str, Any]:
    """Two agencies' complaints over two months, with follow-ups, a clock and a reporter."""
    ids: dict[str, Any] = {}
    phone_hash = services.crypto.match_hash("phone", "+6281345678901")
    async with pool.acquire() as conn:
        rep = uuid.uuid4()
        await conn.execute(
            "INSERT INTO reporters (id, key_id, phone_enc, phone_hash) VALUES ($1, 'k', $2, $3)",
            rep,
            services.crypto.encrypt("phone", "+6281345678901"),
            phone_hash,
        )
        rows = [
            # name, agency (LAPOR! id), source_agency, received, tracking, status, title
            (
                "pupr1",
                "45",
                "PUPR",
                NOW - dt.timedelta(days=3),
                "1916449",
                "selesai",
                "Jalan berlubang di Jl. Merdeka " + XSS,
            ),
            (
                "pupr2",
                "45",
                "PUPR",
                NOW - dt.timedelta(days=40),
                "1916450",
                "terdisposisi",
                "Drainase tersumbat",
            ),
            (
                "dishub",
                "46",
                "DISHUB",
                NOW - dt.timedelta(days=2),
                "1916451",
                "diproses",
                "Lampu lalu lintas mati",
            ),
            (
                "new",
                None,
                None,
                NOW - dt.timedelta(hours=2),
                None,
                "received",
                "Sampah menumpuk di pasar",
            ),
        ]
        for name, agency, code, at, tid, status, title in rows:
            cid = uuid.uuid4()
            ids[name] = cid
            await conn.execute(
                "INSERT INTO complaints (id, source, channel, title, content, agency_id,"
                " source_agency, received_at, lapor_tracking_id, lapor_created_at, status,"
                " reporter_id, origin)"
                " VALUES ($1, 'sms-kota', 'sms', $2, $2 || ' sudah dua minggu, mohon ditangani',"
                " $3, $4, $5, $6, $5, $7, $8, $9)",
                cid,
                title,
                agency,
                code,
                at,
                tid,
                status,
                rep if name == "pupr1" else None,
                {"receipt_code": "AB12-CD34"} if name == "dishub" else {},
            )
        # PUPR answers pupr1 with boilerplate, then for real two working days later
        # (Mon 12 → Wed 14 Jul); pupr2 only with boilerplate.
        await conn.execute(
            "INSERT INTO sla_clocks (complaint_id, clock, started_at, due_at, agency_id)"
            " VALUES ($1, 'first_response', $2, $3, '45'), ($4, 'first_response', $2, $5, '46')",
            ids["pupr1"],
            NOW - dt.timedelta(days=4),
            NOW + dt.timedelta(days=3),
            ids["dishub"],
            NOW + dt.timedelta(days=1),
        )
        await conn.execute(
            "UPDATE sla_clocks SET met_at = $2 WHERE complaint_id = $1", ids["pupr1"], NOW
        )
        # LAPOR!'s dispositions: an agency's figures count from these, never from our
        # routing (issue 12, item 6). pupr2 went to Dishub first, then was moved to PUPR.
        for n, (tid, at, agency) in enumerate(
            (
                ("1916449", NOW - dt.timedelta(days=4), "45"),
                ("1916450", NOW - dt.timedelta(days=40), "46"),
                ("1916450", NOW - dt.timedelta(days=39, hours=12), "45"),
                ("1916451", NOW - dt.timedelta(days=2), "46"),
            )
        ):
            await conn.execute(
                "INSERT INTO lapor_events (event_id, tracking_id, type, at, body, applied)"
                " VALUES ($1, $2, 'disposed', $3, $4, true)",
                f"disp-{n}",
                tid,
                at,
                {"agency": {"id": agency, "name": NAMES[agency]}},
            )
        for cid, at, label in (
            (ids["pupr1"], NOW - dt.timedelta(days=3), "acknowledgement"),
            (ids["pupr1"], NOW - dt.timedelta(days=2), "substantive"),
            (ids["pupr2"], NOW - dt.timedelta(days=39), "acknowledgement"),
        ):
            await conn.execute(
                "INSERT INTO followups (complaint_id, at, text, label, agency_id)"
                " VALUES ($1, $2, 'tanggapan', $3, '45')",
                cid,
                at,
                label,
            )
        ids["quarantined"] = await conn.fetchval(
            "INSERT INTO raw_items (source, source_ref, payload, state, reason, received_at)"
            " VALUES ('sms-kota', 'q1', 'x', 'quarantined', 'reply matches no known complaint',"
            " $1) RETURNING id",
            NOW - dt.timedelta(hours=5),
        )
    return ids


async def stats_with_sandbox_names(client: TestClient, pool: asyncpg.Pool) -> None:
    sandbox = await start_sandbox(rate_limit=False)
    try:
        async with aiohttp.ClientSession() as http:
            port = HttpLaporAdapter(lapor_config(sandbox.base_url), http)
            loop = StatsLoop(client.services, port)  # type: ignore[attr-defined]
            assert await loop.run_once() > 0
    finally:
        await sandbox.stop()


async def test_overview_has_cards_charts_and_funnel(client: TestClient, pool: asyncpg.Pool):
    await seed(pool, client.services)  # type: ignore[attr-defined]
    await login(client, pool, "operator")
    page = await (await client.get("/dasbor")).text()
    assert page.count('<svg class="chart" role="img"') == 2
    assert "Alur status pengaduan" in page and "Tindak lanjut nyata" in page
    assert "Terkirim ke LAPOR!" in page and "WIB" in page
    assert XSS not in page


async def test_agency_user_sees_only_its_agency(client: TestClient, pool: asyncpg.Pool):
    ids = await seed(pool, client.services)  # type: ignore[attr-defined]
    await stats_with_sandbox_names(client, pool)
    await login(client, pool, "agency", "PUPR")
    listing = await (await client.get("/dasbor/pengaduan?opd=46")).text()
    assert str(ids["pupr1"]) in listing and str(ids["pupr2"]) in listing
    assert str(ids["dishub"]) not in listing and str(ids["new"]) not in listing
    assert "&lt;script&gt;" in listing and XSS not in listing
    # Receipt codes and reporters are not an agency's to search.
    assert (
        str(ids["dishub"]) not in await (await client.get("/dasbor/pengaduan?q=AB12-CD34")).text()
    )
    assert (
        str(ids["pupr1"])
        not in await (await client.get("/dasbor/pengaduan?q=zzz&pelapor=%2B6281345678901")).text()
    )
    exported = list(
        csv.reader(
            io.StringIO((await (await client.get("/dasbor/pengaduan.csv")).text()).lstrip("\ufeff"))
        )
    )
    assert {r[1] for r in exported[1:]} == {"1916449", "1916450"}
    overview = await (await client.get("/dasbor")).text()
    assert "sms-kota" not in overview and "Insiden" not in overview
    sla = await (await client.get("/dasbor/tenggat")).text()
    assert str(ids["dishub"]) not in sla
    agencies = await (await client.get("/dasbor/opd")).text()
    assert "Dinas Pekerjaan Umum" in agencies and "Perhubungan" not in agencies
    ind = list(
        csv.reader(
            io.StringIO((await (await client.get("/dasbor/indikator.csv")).text()).lstrip("\ufeff"))
        )
    )
    assert ind[0] == [
        "bulan",
        "id_opd",
        "nama_opd",
        "pengaduan_diterima",
        "ditindaklanjuti",
        "selesai",
    ]
    assert {r[1] for r in ind[1:]} == {"45"}
    assert (await client.get("/dasbor/karantina")).status == 403


async def test_admin_searches_by_tracking_receipt_text_and_reporter(
    client: TestClient, pool: asyncpg.Pool
):
    ids = await seed(pool, client.services)  # type: ignore[attr-defined]
    await login(client, pool, "admin")

    async def found(query: str) -> set[str]:
        page = await (await client.get("/dasbor/pengaduan" + query)).text()
        return {
            name for name, cid in ids.items() if isinstance(cid, uuid.UUID) and str(cid) in page
        }

    assert await found("?q=1916451") == {"dishub"}
    assert await found("?q=ab12-cd34") == {"dishub"}
    assert await found("?q=drainase") == {"pupr2"}
    assert await found("?pelapor=%2B6281345678901") == {"pupr1"}
    assert await found("?status=received") == {"new"}
    assert await found("?sla=open") == {"dishub"}
    assert await found("?sla=none") == {"pupr2", "new"}
    assert await found("?label=substantive") == {"pupr1"}
    assert await found("?opd=DISHUB") == {"dishub"}
    # An operator may search text but not receipt codes or reporters.
    await login(client, pool, "operator")
    assert await found("?q=ab12-cd34") == set()
    assert await found("?pelapor=%2B6281345678901") == {"pupr1", "pupr2", "dishub", "new"}


async def test_sla_list_is_ordered_by_due_date_and_exports(client: TestClient, pool: asyncpg.Pool):
    ids = await seed(pool, client.services)  # type: ignore[attr-defined]
    async with pool.acquire() as conn:
        await conn.execute(
            "INSERT INTO sla_clocks (complaint_id, clock, started_at, due_at, agency_id)"
            " VALUES ($1, 'verification', $2, $3, NULL)",
            ids["new"],
            NOW,
            NOW - dt.timedelta(hours=1),
        )
    await login(client, pool, "auditor")
    page = await (await client.get("/dasbor/tenggat")).text()
    assert page.index(str(ids["new"])) < page.index(str(ids["dishub"]))
    assert "lewat" in page and "WIB" in page
    rows = list(
        csv.reader(
            io.StringIO((await (await client.get("/dasbor/tenggat.csv")).text()).lstrip("\ufeff"))
        )
    )
    assert [r[1] for r in rows[1:]] == ["verifikasi", "tanggapan pertama"]
    assert rows[1][0].endswith(" WIB")


async def test_quarantine_explains_reason_in_indonesian(client: TestClient, pool: asyncpg.Pool):
    await seed(pool, client.services)  # type: ignore[attr-defined]
    await login(client, pool, "operator")
    page = await (await client.get("/dasbor/karantina")).text()
    assert "tidak cocok dengan pengaduan mana pun" in page
    assert "balasan_tanpa_pengaduan" in page and "Tracking ID warga" in page
    assert "16-07-2027 05:00 WIB" in page  # received 5 hours before 10:00 WIB
    rows = list(
        csv.reader(
            io.StringIO((await (await client.get("/dasbor/karantina.csv")).text()).lstrip("\ufeff"))
        )
    )
    assert rows[1][5] == "balasan_tanpa_pengaduan"
    assert (await client.get("/dasbor/antrian.csv")).status == 200


def test_every_reason_has_a_code_and_unknown_ones_keep_their_text():
    assert explain("empty complaint text").code == "teks_kosong"
    assert explain("parser failed: KeyError: 'x'").code == "parser_gagal"
    assert explain("baris formulir lama 12 belum pernah diimpor").code == "formulir_belum_diimpor"
    other = explain("something new")
    assert (other.code, other.text) == ("lainnya", "something new")
    assert len(set(CODES)) == len(CODES)


async def test_agency_page_names_medians_and_sorting(client: TestClient, pool: asyncpg.Pool):
    await seed(pool, client.services)  # type: ignore[attr-defined]
    await stats_with_sandbox_names(client, pool)
    await login(client, pool, "auditor")
    page = await (await client.get("/dasbor/opd")).text()
    assert "Dinas Pekerjaan Umum" in page and ">45<" not in page
    assert page.count('role="img"') == 4
    rows = list(
        csv.reader(
            io.StringIO((await (await client.get("/dasbor/opd.csv")).text()).lstrip("\ufeff"))
        )
    )
    pupr = next(r for r in rows if r[0] == "45")
    # received 2, followed up 2, real 1, done 1; median = p90 = 2 working days (the first
    # response clock started Mon 16 Nov, the real answer came Wed 18 Nov); both answered
    # complaints had boilerplate only in one case → 50%.
    assert pupr[2:8] == ["2", "2", "1", "1", "2.0", "2.0"]
    assert pupr[8] == "0.5"
    # pupr2 was moved from Dishub to PUPR once; nothing is only our suggestion.
    assert pupr[12:14] == ["1", "0"]
    dishub = next(r for r in rows if r[0] == "46")
    assert dishub[2] == "1" and dishub[12:14] == ["0", "0"]
    fewest_first = await (await client.get("/dasbor/opd?urut=received&arah=naik")).text()
    assert fewest_first.index("Perhubungan") < fewest_first.index("Dinas Pekerjaan Umum")
    assert 'aria-sort="ascending"' in fewest_first


def test_percentiles_from_a_histogram():
    hist = [0] * 61
    for d in (1, 2, 2, 3, 10):
        hist[d] += 1
    assert percentile(hist, 0.5) == 2.0 and percentile(hist, 0.9) == 10.0
    assert percentile([0] * 61, 0.5) is None


def test_chart_text_is_escaped():
    svg = charts.bar_chart([(XSS, 3, "3 <b>")], label="a <i>")
    assert "<script>" not in svg and "&lt;script&gt;" in svg and "<b>" not in svg
    assert "<i>" not in charts.line_chart(["x"], [("<i>", [1])], label="l")
