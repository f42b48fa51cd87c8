"""Only the reporter speaks for a report: a reply by Tracking ID (public, sequential) from
any other sender is held as an unverified reply for an operator, never sent to LAPOR! and
never marks the complaint resolved; anonymous reporters keep the same protection."""

from __future__ import annotations

import json

from aggregator.intake import Intake
from aggregator.storage import replies as replies_repo
from connectors.base import Batch, RawItem
from schemas.config import SourceConfig
from tests.core.helpers import JsonLinesSource, make_services

OWNER = "081300000001"
STRANGER = "081399999999"


def _line(**kw: object) -> bytes:
    return json.dumps(kw).encode()


async def _complaint(pool, intake, src, *, anonymous: bool, tracking: str):
    r = await intake.ingest(
        src,
        Batch(
            items=[
                RawItem(
                    f"c-{tracking}",
                    _line(
                        text="Saluran air tersumbat di RT 03 Kelurahan Panarung sejak seminggu",
                        phone=OWNER,
                        anonymous=anonymous,
                    ),
                )
            ],
            cursor={},
        ),
    )
    cid = r.complaint_ids[0]
    async with pool.acquire() as conn:
        await conn.execute("UPDATE complaints SET lapor_tracking_id=$2 WHERE id=$1", cid, tracking)
    return cid


async def test_stranger_reply_and_sudah_are_held_owner_reply_goes_up(pool) -> None:
    services = make_services(pool)
    src = JsonLinesSource(SourceConfig(name="s", kind="jsonlines"))
    intake = Intake(services)
    for anonymous, tracking in ((False, "1916452"), (True, "1916453")):
        cid = await _complaint(pool, intake, src, anonymous=anonymous, tracking=tracking)
        forged = await intake.ingest(
            src,
            Batch(
                items=[
                    RawItem(
                        f"f-{tracking}",
                        _line(
                            reply_to=tracking, text="SUDAH selesai", resolved=True, phone=STRANGER
                        ),
                    ),
                    RawItem(f"n-{tracking}", _line(reply_to=tracking, text="tanpa nomor")),
                ],
                cursor={},
            ),
        )
        assert forged.replies == 2 and forged.complaints == 0
        async with pool.acquire() as conn:
            assert (
                await conn.fetchval(
                    "SELECT count(*) FROM jobs WHERE kind='reply_up' AND complaint_id=$1", cid
                )
                == 0
            )
            assert (
                await conn.fetchval("SELECT resolved_by_reporter FROM complaints WHERE id=$1", cid)
                is None
            )
            held = [h for h in await replies_repo.held(conn) if h["complaint_id"] == cid]
            assert sorted(h["unverified_reason"] for h in held) == [
                f"nomor pengirim bukan nomor pelapor pengaduan #{tracking}",
                "pengirim tanpa nomor atau alamat e-mail yang dapat dicocokkan",
            ]
            kinds = [
                r["kind"]
                for r in await conn.fetch(
                    "SELECT kind FROM events WHERE complaint_id=$1 ORDER BY id", cid
                )
            ]
            assert kinds.count("reporter_reply_unverified") == 2
            assert "reporter_replied" not in kinds
        ok = await intake.ingest(
            src,
            Batch(
                items=[
                    RawItem(
                        f"o-{tracking}",
                        _line(
                            reply_to=tracking, text="SUDAH", resolved=True, phone="+6281300000001"
                        ),
                    )
                ],
                cursor={},
            ),
        )
        assert ok.replies == 1
        async with pool.acquire() as conn:
            assert (
                await conn.fetchval(
                    "SELECT count(*) FROM jobs WHERE kind='reply_up' AND complaint_id=$1", cid
                )
                == 1
            )
            assert (
                await conn.fetchval("SELECT resolved_by_reporter FROM complaints WHERE id=$1", cid)
                is True
            )
            rows = await replies_repo.for_complaint(conn, cid)
            assert [(r["verified"], r["verified_by"]) for r in rows] == [
                (False, None),
                (False, None),
                (True, "phone"),
            ]


async def test_operator_sees_held_replies_with_reason_and_decides(pool) -> None:
    from aiohttp.test_utils import TestClient, TestServer

    from aggregator.web.app import make_app
    from aggregator.web.keys import THROTTLE
    from aggregator.web.security import FailureThrottle
    from tests.core.test_web import login_as, tokens

    services = make_services(pool)
    src = JsonLinesSource(SourceConfig(name="s", kind="jsonlines"))
    intake = Intake(services)
    cid = await _complaint(pool, intake, src, anonymous=True, tracking="1916460")
    await intake.ingest(
        src,
        Batch(
            items=[
                RawItem(
                    "f1",
                    _line(
                        reply_to="1916460", text="SUDAH beres kok", resolved=True, phone=STRANGER
                    ),
                ),
                RawItem("f2", _line(reply_to="1916460", text="Ini dari saya juga", phone=STRANGER)),
                RawItem(
                    "o1", _line(reply_to="1916460", text="Belum ada petugas datang", phone=OWNER)
                ),
            ],
            cursor={},
        ),
    )
    app = make_app(services)
    app[THROTTLE] = FailureThrottle(10_000, window_s=1)
    async with TestClient(TestServer(app)) as client:
        toks = await tokens(pool)
        await login_as(client, toks["operator"])
        overview = await (await client.get("/dasbor")).text()
        assert "balasan ditahan" in overview
        page = await (await client.get("/dasbor/balasan")).text()
        assert "SUDAH beres kok" in page and "Ini dari saya juga" in page
        assert "nomor pengirim bukan nomor pelapor pengaduan #1916460" in page
        assert "Belum ada petugas datang" not in page  # the reporter's own reply is not held
        async with pool.acquire() as conn:
            held = {h["text"]: h["id"] for h in await replies_repo.held(conn)}
        resp = await client.post(
            f"/dasbor/balasan/{held['SUDAH beres kok']}/tolak", allow_redirects=False
        )
        assert resp.status == 303 and "ditolak" in resp.headers["Location"]
        resp = await client.post(
            f"/dasbor/balasan/{held['Ini dari saya juga']}/terima", allow_redirects=False
        )
        assert resp.status == 303
        again = await client.post(
            f"/dasbor/balasan/{held['Ini dari saya juga']}/terima", allow_redirects=False
        )
        assert "sudah diputuskan" in again.headers["Location"].replace("%20", " ")
        # The complaint's timeline shows every reply, verified or not (item 7).
        detail = await (await client.get(f"/dasbor/pengaduan/{cid}")).text()
        for text in ("SUDAH beres kok", "Ini dari saya juga", "Belum ada petugas datang"):
            assert text in detail
        assert "ditolak operator" in detail and "diterima operator" in detail
        assert "nomor pelapor" in detail
        api = await (
            await client.get(
                f"/api/complaints/{cid}", headers={"Authorization": f"Bearer {toks['auditor']}"}
            )
        ).json()
        assert [(r["text"], r["verified"], r["channel"]) for r in api["replies"]] == [
            ("SUDAH beres kok", False, "sms"),
            ("Ini dari saya juga", True, "sms"),
            ("Belum ada petugas datang", True, "sms"),
        ]
    async with pool.acquire() as conn:
        ups = await conn.fetch(
            "SELECT payload FROM jobs WHERE kind='reply_up' AND complaint_id=$1", cid
        )
        assert len(ups) == 2  # the owner's and the accepted one; never the rejected SUDAH
        assert (
            await conn.fetchval("SELECT resolved_by_reporter FROM complaints WHERE id=$1", cid)
            is None
        )
