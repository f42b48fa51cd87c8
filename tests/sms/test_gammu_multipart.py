"""Long SMS: parts in any order, interleaved senders, 8- and 16-bit references, a part
that never comes, and restarts while parts wait."""

from __future__ import annotations

from typing import Any

from tests.sms.conftest import Smsd, drain, gammu_source, wait_for

A = [
    "Jalan di depan SDN 4 Palangka Raya berlubang besar sekali, sudah ada tiga motor ",
    "yang jatuh minggu ini. Mohon segera ditambal sebelum musim hujan datang karena ",
    "lubangnya makin dalam. Terima kasih.",
]
B = ["Air PDAM di Perumahan Bukit Hindu mati sejak Senin, ", "warga terpaksa beli air galon."]


async def unprocessed(src: Any) -> int:
    return len(await src.db.fetch_new(0, 10_000))


async def contents(pool: Any) -> list[str]:
    async with pool.acquire() as conn:
        return [
            r["content"]
            for r in await conn.fetch("SELECT content FROM complaints ORDER BY content")
        ]


async def test_parts_in_any_order_interleaved_across_restarts(
    smsd: Smsd, services: Any, pool: Any
) -> None:
    src = gammu_source(smsd.driver, smsd.dsn, services, multipart_wait_s=600)
    try:
        smsd.deliver("081311112222", A[2], udh="0500034203" + "03")
        smsd.deliver("+6281355556666", B[1], udh="060804BEEF0202")
        await wait_for(lambda: _n(src, 2), what="2 parts")
        cursor, results = await drain(src, services)
        assert sum(r.new for r in results) == 0 and cursor["waiting"]
        assert await unprocessed(src) == 2  # waiting parts are not acknowledged

        # A restart: a new source instance continues from the stored cursor.
        await src.close()
        src = gammu_source(smsd.driver, smsd.dsn, services, multipart_wait_s=600)
        async with pool.acquire() as conn:
            stored = await conn.fetchval("SELECT cursor FROM source_state WHERE source='sms-gammu'")
        assert stored == cursor
        smsd.deliver("081311112222", A[0], udh="0500034203" + "01")
        smsd.deliver("081377778888", "Pohon tumbang di Jl. Diponegoro menutup jalan")
        await wait_for(lambda: _n(src, 4), what="4 rows")
        cursor, results = await drain(src, services, stored)
        assert sum(r.complaints for r in results) == 1  # only the single SMS
        smsd.deliver("081311112222", A[1], udh="0500034203" + "02")
        smsd.deliver("+6281355556666", B[0], udh="060804BEEF0201")
        await wait_for(lambda: _n(src, 5), what="5 rows")
        cursor, results = await drain(src, services, cursor)
        assert sum(r.complaints for r in results) == 2
        assert cursor["waiting"] == {}
        assert await contents(pool) == sorted(
            ["".join(A), "".join(B), "Pohon tumbang di Jl. Diponegoro menutup jalan"]
        )
        assert await unprocessed(src) == 0
    finally:
        await src.close()


async def test_gammu_linked_parts_are_not_doubled(smsd: Smsd, services: Any, pool: Any) -> None:
    """When all parts are in the phone together, gammu 1.42 writes the whole text into part
    1's TextDecoded and '' into the others; reassembly by UDH must not repeat text."""
    smsd.stop()
    smsd.multipart_timeout = 600
    for seq in (3, 1, 2):
        smsd.deliver("081311112222", A[seq - 1], udh=f"05000377030{seq}")
    smsd.start()
    src = gammu_source(smsd.driver, smsd.dsn, services)
    try:
        await wait_for(lambda: _n(src, 3), what="3 parts")
        rows = await src.db.fetch_new(0, 10)
        assert rows[0]["TextDecoded"] == "".join(A)  # what gammu did
        await drain(src, services)
        assert await contents(pool) == ["".join(A)]
    finally:
        await src.close()


async def test_missing_part_taken_after_the_wait_and_flagged(
    smsd: Smsd, services: Any, pool: Any
) -> None:
    src = gammu_source(smsd.driver, smsd.dsn, services, multipart_wait_s=1.0)
    try:
        smsd.deliver("081311112222", A[0], udh="0500039903" + "01")
        smsd.deliver("081311112222", A[2], udh="0500039903" + "03")
        await wait_for(lambda: _n(src, 2), what="2 parts")
        cursor, results = await drain(src, services)
        assert sum(r.new for r in results) == 0
        import asyncio

        await asyncio.sleep(1.2)
        cursor, results = await drain(src, services, cursor)
        assert sum(r.complaints for r in results) == 1
        async with pool.acquire() as conn:
            c = await conn.fetchrow("SELECT content, flags, origin FROM complaints")
        assert c["content"] == A[0] + A[2]
        assert "incomplete_multipart" in c["flags"]
        # The daemon's note says which parts came (kept for operators beside the flag).
        assert c["origin"]["intake_notes"] == ["SMS panjang: bagian 1, 3 dari 3 diterima"]
        assert await unprocessed(src) == 0
    finally:
        await src.close()


async def _n(src: Any, n: int) -> bool:
    return await unprocessed(src) >= n
