"""Write-back under concurrency, retries and hung statements, against the real MariaDB."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from typing import Any

from aggregator.queue import Worker
from tests.forms.helpers import form_source_config, write_back_handler
from tests.forms.legacy import LegacyDb, fill
from tests.forms.test_writeback import followed_up, imported, job


async def test_twenty_tracking_ids_at_once_all_reach_their_rows(
    legacy: LegacyDb, services: Any
) -> None:
    """The issue's first run: 20 Tracking IDs entered in a quarter of a second. With one
    connection per statement every row gets its own ID and none is taken for deleted."""
    await fill(legacy, 30)
    services, ids = await imported(services, legacy)
    targets = sorted(ids)[:20]
    async with services.pool.acquire() as conn:
        for rid in targets:
            await conn.execute(
                "UPDATE complaints SET lapor_tracking_id = $2, status = 'diproses' WHERE id = $1",
                ids[rid],
                f"T{rid:06d}",
            )
    handler = write_back_handler(services)
    try:
        worker = Worker(services.queue, {"write_back": handler}, concurrency=20)
        assert await worker.run_once() == 20
    finally:
        await handler.close()
    rows = dict(
        await legacy.run(
            "SELECT id_pengaduan, lapor_tracking_id FROM pengaduan "
            "WHERE id_pengaduan IN (" + ",".join(map(str, targets)) + ")"
        )
    )
    assert rows == {rid: f"T{rid:06d}".encode() for rid in targets}
    async with services.pool.acquire() as conn:
        deleted = await conn.fetchval(
            "SELECT count(*) FROM complaints WHERE (origin->>'legacy_row_deleted')::boolean"
        )
        states = await conn.fetch(
            "SELECT state::text AS s, count(*) AS n FROM jobs WHERE kind = 'write_back' GROUP BY 1"
        )
    assert deleted == 0
    assert {r["s"]: r["n"] for r in states} == {"done": 20}


async def test_a_response_keeps_its_first_wording_across_a_lost_confirmation(
    legacy: LegacyDb, services: Any
) -> None:
    """A job wrote the response, then died before recording it (confirmation lost); by the
    retry the agency's name changed. The ledger's wording is written again, so the old table
    still holds the response once, in one wording."""
    services, ids = await imported(services, legacy)
    await followed_up(services, ids[1])
    handler = write_back_handler(services)
    try:
        await handler(job(ids[1]))
        async with services.pool.acquire() as conn:
            ledger = await conn.fetch(
                "SELECT write_key, wording, confirmed_at IS NOT NULL AS ok"
                " FROM form_writes WHERE complaint_id = $1 "
                "ORDER BY write_key",
                ids[1],
            )
            assert [(r["write_key"].split(":")[0], r["ok"]) for r in ledger] == [
                ("followup", True),
                ("tracking", True),
            ]
            await conn.execute("UPDATE form_writes SET confirmed_at = NULL")
            await conn.execute("UPDATE followups SET agency_name = 'Dinas PUPR Kota'")
        await handler(job(ids[1]))
        await handler(job(ids[1]))
    finally:
        await handler.close()
    resp = await legacy.run("SELECT tanggapan FROM tanggapan WHERE id_pengaduan = 1")
    assert [r[0].decode() for r in resp] == [
        "[Tanggapan Dinas PUPR melalui SP4N-LAPOR!] Lubang sudah ditambal pada 18 November — "
        "tim UPT Jalan."
    ]
    async with services.pool.acquire() as conn:
        assert await conn.fetchval("SELECT bool_and(confirmed_at IS NOT NULL) FROM form_writes")


async def test_a_hung_statement_times_out_and_the_job_retries(
    legacy: LegacyDb, services: Any
) -> None:
    """Staff's admin holds row 1 locked (an open transaction). The write-back's UPDATE is
    cancelled after the statement timeout instead of hanging, the job fails transiently
    (nothing marked deleted), and once the lock is gone the retry writes the Tracking ID."""
    from aggregator.errors import TransientError

    services, ids = await imported(services, legacy)
    await followed_up(services, ids[1])
    cfg = form_source_config(legacy, statement_timeout_s=1.5)
    services = dataclasses.replace(
        services, settings=services.settings.model_copy(update={"sources": [cfg]})
    )
    blocker = await legacy.connect()
    handler = write_back_handler(services)
    try:
        async with blocker.cursor() as cur:
            await cur.execute("BEGIN")
            await cur.execute("SELECT * FROM pengaduan WHERE id_pengaduan = 1 FOR UPDATE")
        started = time.monotonic()
        try:
            await handler(job(ids[1]))
        except TransientError as exc:
            assert "did not finish within 1.5 s" in str(exc) or "Lock wait" in str(exc), exc
        else:
            raise AssertionError("a write blocked by a row lock must not succeed")
        assert time.monotonic() - started < 10
        async with blocker.cursor() as cur:
            await cur.execute("ROLLBACK")
        await handler(job(ids[1]))
    finally:
        blocker.close()
        await handler.close()
    row = (
        await legacy.run("SELECT lapor_tracking_id, status FROM pengaduan WHERE id_pengaduan = 1")
    )[0]
    assert row == (b"1916449", b"proses")
    async with services.pool.acquire() as conn:
        origin = await conn.fetchval("SELECT origin FROM complaints WHERE id = $1", ids[1])
    assert "legacy_row_deleted" not in origin


async def test_concurrent_readers_each_get_their_own_answer(legacy: LegacyDb) -> None:
    """Forty reads at once on one LegacyDb: each returns its own row (a shared cursor would
    hand one caller another's result, or an empty one)."""
    from connectors.forms.legacy_db import LegacyDb as Db

    await fill(legacy, 40)
    db = Db(legacy.url, pool_size=4)
    try:
        got = await asyncio.gather(
            *(
                db.fetch("SELECT id_pengaduan FROM pengaduan WHERE id_pengaduan = %s", [i])
                for i in range(1, 41)
            )
        )
    finally:
        await db.close()
    assert [r[0]["id_pengaduan"] for r in got] == list(range(1, 41))


async def test_a_statement_over_the_timeout_is_cancelled_on_the_server(legacy: LegacyDb) -> None:
    """A statement that would run for a minute: cancelled after the timeout, killed on the
    server (no query of ours left running there), and the pool still answers."""
    from connectors.forms.legacy_db import LegacyDb as Db
    from connectors.forms.legacy_db import StatementTimeout

    db = Db(legacy.url, statement_timeout_s=1.0)
    try:
        started = time.monotonic()
        try:
            await db.fetch("SELECT SLEEP(60) AS s")
        except StatementTimeout as exc:
            assert "did not finish within 1 s" in str(exc)
        else:
            raise AssertionError("SLEEP(60) must not finish under a 1 s timeout")
        assert time.monotonic() - started < 5
        await asyncio.sleep(0.5)
        running = await legacy.run(
            "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE INFO LIKE %s",
            ["SELECT SLEEP(60)%"],
        )
        assert running[0][0] == 0
        assert await db.fetch("SELECT 1 AS one") == [{"one": 1}]
    finally:
        await db.close()
