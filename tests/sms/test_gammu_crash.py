"""A kill between our commit and Gammu's Processed flag loses and duplicates nothing."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path
from typing import Any

from aggregator.intake.loop import IngestLoop
from tests.sms.conftest import Smsd, gammu_source, wait_for

ROOT = Path(__file__).resolve().parents[2]


async def test_kill_after_commit_before_processed(
    smsd: Smsd, services: Any, pool: Any, db_dsn: str
) -> None:
    smsd.deliver("081311112222", "Drainase tersumbat di Jl. Ahmad Yani depan toko emas")
    smsd.deliver("081355556666", "Parkir liar di trotoar Jl. Imam Bonjol")
    smsd.deliver("081377778888", "Bagian pertama aduan panjang ", udh="0500035102" + "01")
    smsd.deliver("081399990000", "Bagian kedua saja", udh="0500035202" + "02")  # waits
    src = gammu_source(smsd.driver, smsd.dsn, services, multipart_wait_s=600)
    try:
        await wait_for(lambda: _unprocessed(src, 4), what="4 rows")
        child = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tests.sms.kill_child",
            db_dsn,
            smsd.driver,
            smsd.dsn,
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        _, err = await asyncio.wait_for(child.communicate(), 60)
        assert child.returncode == -signal.SIGKILL, err.decode()[-2000:]
        async with pool.acquire() as conn:
            assert await conn.fetchval("SELECT count(*) FROM complaints") == 2
        assert len(await src.db.fetch_new(0, 100)) == 4  # nothing was acknowledged

        smsd.deliver("081377778888", "dan bagian kedua.", udh="0500035102" + "02")
        await wait_for(lambda: _unprocessed(src, 5), what="5 rows")
        async with pool.acquire() as conn:
            # The dead process still holds the source's lease; let it run out.
            await conn.execute("UPDATE source_state SET lease_until = now() - interval '1 s'")
        loop = IngestLoop(services, src)
        await loop.run_once()
        async with pool.acquire() as conn:
            rows = await conn.fetch("SELECT content FROM complaints ORDER BY content")
            raw = await conn.fetchval("SELECT count(*) FROM raw_items")
        assert [r["content"] for r in rows] == [
            "Bagian pertama aduan panjang dan bagian kedua.",
            "Drainase tersumbat di Jl. Ahmad Yani depan toko emas",
            "Parkir liar di trotoar Jl. Imam Bonjol",
        ]
        assert raw == 3
        left = await src.db.fetch_new(0, 100)
        assert [r["UDH"] for r in left] == ["050003520202"]  # only the part still waiting
    finally:
        await src.close()


async def _unprocessed(src: Any, n: int) -> bool:
    return len(await src.db.fetch_new(0, 100)) >= n
