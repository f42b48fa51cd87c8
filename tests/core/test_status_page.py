"""The public page every notification links to: /status/<Tracking ID>, any channel."""

from __future__ import annotations

from aiohttp.test_utils import TestClient, TestServer

from aggregator.web.app import make_app
from aggregator.web.status import status_routes
from tests.core.helpers import make_services


async def seed(pool, tracking: str, *, confidential: bool) -> None:
    async with pool.acquire() as conn:
        cid = await conn.fetchval(
            "INSERT INTO complaints (id, source, channel, content, status, lapor_tracking_id, "
            "agency_name, confidential) VALUES (gen_random_uuid(), 'sms-1708', 'sms', "
            "'Jalan berlubang di Jl. Tjilik Riwut km 7 depan sekolah', 'ditindaklanjuti', $1, "
            "'Dinas PUPR', $2) RETURNING id",
            tracking,
            confidential,
        )
        await conn.execute(
            "INSERT INTO followups (complaint_id, at, agency_name, text, label) VALUES "
            "($1, now(), 'Dinas PUPR', 'Lubang sudah ditambal tim UPT Jalan pada 27 November.', "
            "'substantive')",
            cid,
        )


async def test_status_by_tracking_id_is_read_only_and_respects_rahasia(pool):
    services = make_services(pool)
    await seed(pool, "1916449", confidential=False)
    await seed(pool, "1916450", confidential=True)
    app = make_app(services, extra=[("", status_routes(services, {}))])
    async with TestClient(TestServer(app)) as client:
        page = await (await client.get("/status/1916449")).text()
        assert "#1916449" in page and "ditindaklanjuti" in page
        assert "sudah ditambal tim UPT Jalan" in page
        assert "<form" not in page  # replies need the receipt code or the citizen's channel
        secret = await (await client.get("/status/%231916450")).text()
        assert "#1916450" in secret and "ditambal" not in secret and "rahasia" in secret
        missing = await client.get("/status/999")
        assert missing.status == 404 and "tidak ditemukan" in (await missing.text()).lower()
        assert "Jl. Tjilik Riwut" not in page  # the complaint text itself is not public here


def test_every_status_has_a_public_label() -> None:
    from aggregator.web.status import STATUS_LABELS
    from schemas.complaint import ComplaintStatus

    assert set(STATUS_LABELS) == {s.value for s in ComplaintStatus}
