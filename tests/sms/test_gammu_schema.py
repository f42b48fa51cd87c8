"""Gammu schema versions 13-17 on both databases; anything else is refused clearly."""

from __future__ import annotations

import datetime as dt
from typing import Any

import asyncpg
import pytest

from aggregator.errors import ConfigError
from connectors.base import Origin, OutboundMessage
from connectors.sms.gammu_db import PARKED, MyGammuDb
from tests.sms.conftest import (
    create_gammu_mysql,
    create_gammu_pg,
    drain,
    drop_gammu_mysql,
    drop_gammu_pg,
    gammu_source,
)

ROWS = [  # what gammu-smsd writes: hex UTF-16BE Text, TextDecoded, UDH ('' when single)
    ("081311112222", "Got banjir di Jl. Rajawali setinggi lutut", "", "satu"),
    ("081311112222", "", "050003070201", "satu"),
    ("081311112222", "", "050003070202", "satu"),
]
PARTS = ["Bagian satu dari aduan ", "tentang sampah."]


async def _seed(driver: str, dsn: str) -> None:
    when = dt.datetime(2026, 11, 28, 8, 0, 0)
    texts = [ROWS[0][1], *PARTS]
    if driver == "pgsql":
        conn = await asyncpg.connect(dsn)
        try:
            for (num, decoded, udh, rid), text in zip(ROWS, texts, strict=True):
                await conn.execute(
                    'INSERT INTO inbox ("ReceivingDateTime","Text","SenderNumber","Coding","UDH",'
                    '"TextDecoded","RecipientID") VALUES ($1,$2,$3,$4,$5,$6,$7)',
                    when,
                    text.encode("utf-16-be").hex().upper(),
                    num,
                    "Default_No_Compression",
                    udh,
                    decoded,
                    rid,
                )
        finally:
            await conn.close()
    else:
        db = MyGammuDb(dsn)
        pool = await db._p()
        async with pool.acquire() as conn, conn.cursor() as cur:
            for (num, decoded, udh, rid), text in zip(ROWS, texts, strict=True):
                await cur.execute(
                    "INSERT INTO inbox (ReceivingDateTime, Text, SenderNumber, Coding, UDH, "
                    "TextDecoded, RecipientID) VALUES (%s,%s,%s,%s,%s,%s,%s)",
                    (
                        when,
                        text.encode("utf-16-be").hex().upper(),
                        num,
                        "Default_No_Compression",
                        udh,
                        decoded,
                        rid,
                    ),
                )
        await db.close()


@pytest.mark.parametrize("driver", ["pgsql", "mysql"])
@pytest.mark.parametrize("version", [13, 15, 16, 17])
async def test_supported_versions_read_and_write(
    driver: str, version: int, services: Any, pool: Any
) -> None:
    dsn = await create_gammu_pg(version) if driver == "pgsql" else create_gammu_mysql(version)
    src = gammu_source(driver, dsn, services)
    try:
        await src.check()
        assert src.schema_version == version
        await _seed(driver, dsn)
        cursor, _ = await drain(src, services)
        assert cursor["after_id"] == 3 and cursor["schema_version"] == version
        async with pool.acquire() as conn:
            got = [r["content"] for r in await conn.fetch("SELECT content FROM complaints")]
            replies = [r["text"] for r in await conn.fetch("SELECT text FROM reporter_replies")]
        # The same number writes again within the quiet window, before the push: one
        # complaint of the burst (issue 14), whether or not both arrive in one batch.
        assert got == [ROWS[0][1] + "\nBagian satu dari aduan tentang sampah."]
        assert replies == []
        res = await src.sink().send(
            Origin("sms-gammu", "sms", "+6281311112222"),
            OutboundMessage("n-1", "ack", "Terima kasih. " * 20),
        )
        assert res.external_id is not None
        assert len(await src.db.find_outbox("n-1")) == 1
    finally:
        await src.close()
        if driver == "pgsql":
            await drop_gammu_pg(dsn)
        else:
            drop_gammu_mysql(dsn)


@pytest.mark.parametrize("version", [12, 18])
async def test_unknown_versions_are_refused(version: int, services: Any) -> None:
    dsn = await create_gammu_pg(17)
    conn = await asyncpg.connect(dsn)
    await conn.execute('UPDATE gammu SET "Version" = $1', version)
    await conn.close()
    src = gammu_source("pgsql", dsn, services)
    try:
        with pytest.raises(ConfigError, match=f"version {version} is not supported"):
            await src.check()
    finally:
        await src.close()
        await drop_gammu_pg(dsn)


async def test_mysql_outbox_left_parked_by_a_crash_is_redone(
    gammu_mysql: str, services: Any
) -> None:
    """MyISAM has no transactions: a multipart message is written parked and released at
    the end. A crash in between leaves a parked row, which a retried send replaces."""
    src = gammu_source("mysql", gammu_mysql, services)
    try:
        db = src.db
        await db._run(
            "gammu_insert_outbox",
            (
                "+6281311112222",
                "setengah",
                "Default_No_Compression",
                "050003AA0201",
                "true",
                "n-9",
                None,
                "default",
                PARKED,
            ),
            fetch=False,
        )
        res = await src.sink().send(
            Origin("sms-gammu", "sms", "+6281311112222"),
            OutboundMessage("n-9", "status", "x" * 300),
        )
        rows = await db.find_outbox("n-9")
        assert len(rows) == 1 and rows[0]["SendingDateTime"] < PARKED
        assert res.external_id == f"gammu:{rows[0]['ID']}"
    finally:
        await src.close()


async def test_parts_split_across_batches_of_one_pull(
    gammu_pg: str, services: Any, pool: Any
) -> None:
    """A part read in one batch and its sibling in the next: the first part must be carried
    along, not forgotten below the watermark and later emitted alone."""
    conn = await asyncpg.connect(gammu_pg)
    try:
        rows = [
            ("081311112222", "Awal aduan panjang, ", "050003110201"),
            ("081355556666", "Keluhan pendek satu", ""),
            ("081377778888", "Keluhan pendek dua", ""),
            ("081311112222", "lalu akhirnya.", "050003110202"),
        ]
        for num, text, udh in rows:
            await conn.execute(
                'INSERT INTO inbox ("Text","SenderNumber","UDH","TextDecoded","RecipientID") '
                "VALUES ($1,$2,$3,$4,'satu')",
                text.encode("utf-16-be").hex(),
                num,
                udh,
                text if not udh else "",
            )
    finally:
        await conn.close()
    from aggregator.intake.loop import IngestLoop
    from aggregator.wiring.sources import build_source
    from schemas.config import SourceConfig

    src = build_source(
        SourceConfig(
            name="sms-gammu",
            kind="gammu",
            batch_size=2,
            options={"driver": "pgsql", "dsn": gammu_pg, "timezone": "UTC"},
        ),
        services,
    )
    try:
        assert await IngestLoop(services, src).run_once() == 3
        async with pool.acquire() as c:
            got = sorted(r["content"] for r in await c.fetch("SELECT content FROM complaints"))
        assert got == [
            "Awal aduan panjang, lalu akhirnya.",
            "Keluhan pendek dua",
            "Keluhan pendek satu",
        ]
        assert await src.db.fetch_new(0, 10) == []
    finally:
        await src.close()
