"""Replies go out through the real gammu-smsd and are read back from sentitems."""

from __future__ import annotations

import datetime as dt
from typing import Any

from connectors.base import Origin, OutboundMessage
from tests.sms.conftest import Smsd, gammu_source, wait_for

TO = Origin(source="sms-gammu", channel="sms", address="+6281311112222")


async def sent_rows(src: Any, nid: str) -> list[dict[str, Any]]:
    return await src.db.find_sent(nid)


async def test_replies_are_sent_once_and_read_back(smsd: Smsd, services: Any) -> None:
    src = gammu_source(smsd.driver, smsd.dsn, services, sender_id="satu")
    sink = src.sink()
    try:
        short = OutboundMessage("n-short", "ack", "Aduan Anda diterima. No. laporan LAPOR 1916449.")
        long_text = (
            "Tanggapan Dinas PUPR: lubang di Jl. Tjilik Riwut km 5 sudah ditambal pada "
            "27 November 2026 oleh tim pemeliharaan jalan. "
        ) * 4
        long = OutboundMessage("n-long", "response", long_text)
        uni = OutboundMessage("n-uni", "status", "Laporan Anda ✓ sedang diproses oleh OPD terkait.")
        results = [await sink.send(TO, m) for m in (short, long, uni)]
        assert all(r.external_id and r.external_id.startswith("gammu:") for r in results)
        # A retry before gammu-smsd sent it finds it in the outbox.
        again = await sink.send(TO, short)
        assert again.external_id == results[0].external_id
        for nid in ("n-short", "n-long", "n-uni"):
            await wait_for(lambda nid=nid: sent_rows(src, nid), what=f"{nid} in sentitems")
        await wait_for(lambda: _parts(src, "n-long", 3), what="3 parts of n-long")

        s = await sent_rows(src, "n-short")
        assert len(s) == 1 and (await sink.delivery_status("n-short")).state == "sent"
        parts = await sent_rows(src, "n-long")
        assert [p["SequencePosition"] for p in parts] == [1, 2, 3]
        full = await _sent_texts(smsd, "n-long")
        assert "".join(full).startswith(long_text[:300]) and "".join(full).endswith("...")
        assert all(len(p) <= 153 for p in full)
        assert await _sent_codings(smsd, "n-uni") == ["Unicode_No_Compression"]
        assert await _sent_codings(smsd, "n-short") == ["Default_No_Compression"]

        # A retry after sending finds it in sentitems: still one message.
        retry = await sink.send(TO, long)
        assert retry.external_id == results[1].external_id
        assert len(await sent_rows(src, "n-long")) == 3
        assert len(await src.db.find_outbox("n-long")) == 0

        # A delivery report (what the gateway writes on a status report) is read back.
        await _set_status(smsd, "n-short", "DeliveryOK")
        st = await sink.delivery_status("n-short")
        assert st.state == "delivered"
        assert (await sink.delivery_status("never-sent")).state == "unknown"
    finally:
        await src.close()


async def _parts(src: Any, nid: str, n: int) -> bool:
    return len(await src.db.find_sent(nid)) >= n


async def _query(smsd: Smsd, pg_sql: str, my_sql: str, *args: Any) -> list[Any]:
    if smsd.driver == "pgsql":
        import asyncpg

        conn = await asyncpg.connect(smsd.dsn)
        try:
            return [tuple(r) for r in await conn.fetch(pg_sql, *args)]
        finally:
            await conn.close()
    src_db = __import__("connectors.sms.gammu_db", fromlist=["MyGammuDb"]).MyGammuDb(smsd.dsn)
    try:
        pool = await src_db._p()
        async with pool.acquire() as conn, conn.cursor() as cur:
            await cur.execute(my_sql, args)
            return list(await cur.fetchall())
    finally:
        await src_db.close()


async def _sent_texts(smsd: Smsd, nid: str) -> list[str]:
    rows = await _query(
        smsd,
        'SELECT "TextDecoded" FROM sentitems WHERE "CreatorID"=$1 ORDER BY "SequencePosition"',
        "SELECT TextDecoded FROM sentitems WHERE CreatorID=%s ORDER BY SequencePosition",
        nid,
    )
    return [r[0] for r in rows]


async def _sent_codings(smsd: Smsd, nid: str) -> list[str]:
    rows = await _query(
        smsd,
        'SELECT "Coding" FROM sentitems WHERE "CreatorID"=$1 ORDER BY "SequencePosition"',
        "SELECT Coding FROM sentitems WHERE CreatorID=%s ORDER BY SequencePosition",
        nid,
    )
    return [r[0] for r in rows]


async def _set_status(smsd: Smsd, nid: str, status: str) -> None:
    await _query(
        smsd,
        'UPDATE sentitems SET "Status"=$2, "DeliveryDateTime"=$3 WHERE "CreatorID"=$1',
        "UPDATE sentitems SET Status=%s, DeliveryDateTime=%s WHERE CreatorID=%s",
        *(
            (nid, status, dt.datetime(2026, 11, 28, 9))
            if smsd.driver == "pgsql"
            else (status, dt.datetime(2026, 11, 28, 9), nid)
        ),
    )
