"""Incoming SMS through a real gammu-smsd (dummy phone) into satukanal, on PostgreSQL and
MariaDB Gammu databases built from Gammu's own schema files."""

from __future__ import annotations

from typing import Any

from aggregator.intake.sealing import job_address
from tests.sms.conftest import Smsd, drain, gammu_source, wait_for


async def inbox_count(source: Any) -> int:
    rows = await source.db.fetch_new(0, 10_000)
    return len(rows)


async def processed_ids(source: Any) -> int:
    # rows that are still un-processed
    return len(await source.db.fetch_new(0, 10_000))


async def test_every_kind_of_incoming_sms(smsd: Smsd, services: Any, pool: Any) -> None:
    src = gammu_source(smsd.driver, smsd.dsn, services, multipart_wait_s=600)
    try:
        smsd.deliver("081311112222", "Jalan berlubang di Jl. Tjilik Riwut km 5, sudah 2 minggu")
        smsd.deliver("+6281355556666", "ANONIM ada pungutan liar di kantor kelurahan Menteng")
        smsd.deliver("TELKOMSEL", "Promo! Paket internet 10GB cuma Rp10rb")
        smsd.deliver("6281377778888", "   ")
        smsd.deliver(
            "081399990000", "Lampu jalan mati 😡 di gang Mawar", coding="Unicode_No_Compression"
        )
        smsd.deliver("081344445555", b"Sampah menumpuk di pasar", coding="8bit")
        await wait_for(lambda: _count(src, 6), what="6 inbox rows")
        _cursor, results = await drain(src, services)
        total = sum(r.new for r in results)
        assert total == 6
        async with pool.acquire() as conn:
            rows = await conn.fetch(
                "SELECT c.content, c.anonymous, c.channel, r.phone_enc FROM complaints c "
                "LEFT JOIN reporters r ON r.id = c.reporter_id ORDER BY c.content"
            )
            contents = {r["content"]: r for r in rows}
            assert set(contents) == {
                "Jalan berlubang di Jl. Tjilik Riwut km 5, sudah 2 minggu",
                "ada pungutan liar di kantor kelurahan Menteng",
                "Lampu jalan mati 😡 di gang Mawar",
                "Sampah menumpuk di pasar",
            }
            anon = contents["ada pungutan liar di kantor kelurahan Menteng"]
            assert anon["anonymous"] is True
            phone = services.crypto.decrypt(
                "phone",
                contents["Jalan berlubang di Jl. Tjilik Riwut km 5, sudah 2 minggu"]["phone_enc"],
            )
            assert phone == "+6281311112222"
            states = await conn.fetch("SELECT state::text, reason FROM raw_items ORDER BY id")
            ignored = sorted(r["reason"] for r in states if r["state"] == "ignored")
            assert len(ignored) == 2 and any("alphanumeric" in r for r in ignored)
            usage = await conn.fetchrow(
                "SELECT payload FROM jobs WHERE kind='notify' AND payload->>'event' = 'usage'"
            )
            assert "address" not in usage["payload"]  # sealed at rest
            assert job_address(services.crypto, usage["payload"]) == "+6281377778888"
            assert "ANONIM" in usage["payload"]["text"]
        assert await _count(src, 0, exact=True)  # every row is Processed now
    finally:
        await src.close()


async def _count(src: Any, n: int, exact: bool = False) -> bool:
    c = len(await src.db.fetch_new(0, 10_000))
    return c == n if exact else c >= n
