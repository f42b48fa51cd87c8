"""The SMS conventions end to end: real gammu-smsd → Gammu source → intake."""

from __future__ import annotations

import datetime as dt
from typing import Any

from tests.sms.conftest import Smsd, drain, gammu_source, wait_for

CITIZEN = "081311112222"
NEIGHBOUR = "081355556666"


async def _step(
    smsd: Smsd,
    src: Any,
    services: Any,
    cursor: Any,
    *sms: tuple[str, str],
    when: dt.datetime | None = None,
) -> Any:
    before = len(await src.db.fetch_new(0, 1000))
    for number, text in sms:
        smsd.deliver(number, text, **({"when": when} if when else {}))
    await wait_for(lambda: _more(src, before + len(sms)), what="rows")
    cursor, results = await drain(src, services, cursor)
    return cursor, results


async def _more(src: Any, n: int) -> bool:
    return len(await src.db.fetch_new(0, 1000)) >= n


async def test_replies_keywords_and_redelivery(smsd_pg: Smsd, services: Any, pool: Any) -> None:
    src = gammu_source("pgsql", smsd_pg.dsn, services)
    try:
        cur, r = await _step(
            smsd_pg, src, services, None, (CITIZEN, "Jalan berlubang di Jl. Tjilik Riwut km 5")
        )
        assert r[0].complaints == 1
        async with pool.acquire() as conn:
            c1 = await conn.fetchval("SELECT id FROM complaints")
            await conn.execute(
                "UPDATE complaints SET lapor_tracking_id='1916449', status='diproses' WHERE id=$1",
                c1,
            )

        # LAPOR <tracking id> from another phone: a reply on that report.
        cur, r = await _step(
            smsd_pg, src, services, cur, (NEIGHBOUR, "LAPOR 1916449 lubangnya makin lebar")
        )
        assert r[0].replies == 1
        # Plain text from a number with an open complaint: a reply, not a new complaint.
        cur, r = await _step(
            smsd_pg, src, services, cur, (CITIZEN, "Tadi pagi ada motor jatuh lagi")
        )
        assert r[0].replies == 1 and r[0].complaints == 0
        # SUDAH answers "is it solved?".
        cur, r = await _step(smsd_pg, src, services, cur, (CITIZEN, "Sudah, terima kasih"))
        assert r[0].replies == 1
        # A new-complaint keyword starts a new complaint even with one open.
        cur, r = await _step(
            smsd_pg, src, services, cur, (CITIZEN, "BARU Lampu jalan mati di gang Mawar")
        )
        assert r[0].complaints == 1

        async with pool.acquire() as conn:
            replies = await conn.fetch(
                "SELECT complaint_id, text, resolved FROM reporter_replies ORDER BY created_at"
            )
            assert [(x["complaint_id"], x["text"], x["resolved"]) for x in replies] == [
                (c1, "lubangnya makin lebar", None),
                (c1, "Tadi pagi ada motor jatuh lagi", None),
                (c1, "Sudah, terima kasih", True),
            ]
            assert await conn.fetchval(
                "SELECT resolved_by_reporter FROM complaints WHERE id=$1", c1
            )
            assert (
                await conn.fetchval("SELECT content FROM complaints WHERE id<>$1", c1)
                == "Lampu jalan mati di gang Mawar"
            )

        # The SMSC delivers the same SMS twice (same PDU, new inbox row): one complaint.
        when = dt.datetime(2026, 11, 28, 10, 0, 0, tzinfo=dt.UTC)
        text = "Sampah menumpuk di TPS Jl. Kalimantan"
        cur, r = await _step(smsd_pg, src, services, cur, ("081377778888", text), when=when)
        cur, r = await _step(smsd_pg, src, services, cur, ("081377778888", text), when=when)
        assert r[0].skipped == 1 and r[0].new == 0
        async with pool.acquire() as conn:
            assert (
                await conn.fetchval("SELECT count(*) FROM complaints WHERE content=$1", text) == 1
            )
        assert len(await src.db.fetch_new(0, 1000)) == 0
    finally:
        await src.close()
