"""The counters the overview reads are what counting the complaints would say, whatever
happens to the complaints: inserts, status changes, a push, a disposition, a real
follow-up, a deletion."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import asyncpg

from aggregator.storage import dashboard as repo

T0 = dt.datetime(2026, 11, 2, 1, 30, tzinfo=dt.UTC)  # 08:30 WIB


async def insert(
    conn: asyncpg.Connection,
    *,
    channel: str = "sms",
    source: str = "sms-kota",
    agency: str | None = None,
    at: dt.datetime = T0,
    status: str = "received",
) -> uuid.UUID:
    cid = uuid.uuid4()
    await conn.execute(
        "INSERT INTO complaints (id, source, channel, content, agency_id, received_at, status)"
        " VALUES ($1, $2, $3, 'isi pengaduan yang cukup panjang', $4, $5, $6)",
        cid,
        source,
        channel,
        agency,
        at,
        status,
    )
    return cid


async def truth(conn: asyncpg.Connection) -> dict[tuple[str, str, str, str], int]:
    rows = await conn.fetch(
        "SELECT channel, coalesce(agency_id, '') AS a, status::text AS s,"
        " complaint_stage(status, lapor_tracking_id, first_real_followup_at) AS g, count(*)"
        " FROM complaints GROUP BY 1, 2, 3, 4"
    )
    return {(r["channel"], r["a"], r["s"], r["g"]): r["count"] for r in rows}


async def counters(conn: asyncpg.Connection) -> dict[tuple[str, str, str, str], int]:
    rows = await conn.fetch(
        "SELECT channel, agency_id, status::text AS s, stage, n FROM complaint_counts WHERE n <> 0"
    )
    return {(r["channel"], r["agency_id"], r["s"], r["stage"]): r["n"] for r in rows}


async def test_counters_follow_every_change(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        a = await insert(conn)
        b = await insert(conn, channel="email", source="imap-kota")
        c = await insert(conn, agency="45")
        assert await counters(conn) == await truth(conn)
        await conn.execute(
            "UPDATE complaints SET lapor_tracking_id = '1916449',"
            " lapor_created_at = $2, status = 'belum_terverifikasi' WHERE id = $1",
            a,
            T0 + dt.timedelta(hours=1),
        )
        await conn.execute(
            "UPDATE complaints SET status = 'terdisposisi', agency_id = '46' WHERE id = $1", a
        )
        # A real follow-up moves it to its stage; a boilerplate one does not.
        await conn.execute(
            "INSERT INTO followups (complaint_id, at, text, label) VALUES"
            " ($1, $2, 'Terima kasih atas laporannya', 'acknowledgement')",
            c,
            T0,
        )
        assert (
            await conn.fetchval("SELECT first_real_followup_at FROM complaints WHERE id = $1", c)
            is None
        )
        await conn.execute(
            "INSERT INTO followups (complaint_id, at, text, label) VALUES"
            " ($1, $2, 'Sudah ditambal tim UPT', 'substantive')",
            a,
            T0 + dt.timedelta(days=2),
        )
        assert await conn.fetchval(
            "SELECT first_real_followup_at FROM complaints WHERE id = $1", a
        ) == T0 + dt.timedelta(days=2)
        await conn.execute("UPDATE complaints SET status = 'selesai' WHERE id = $1", a)
        await conn.execute("DELETE FROM complaints WHERE id = $1", b)
        assert await counters(conn) == await truth(conn)
        assert {k[3] for k in await counters(conn)} == {"closed", "received"}

        hourly = await conn.fetch(
            "SELECT source, channel, agency_id, sum(received)::int, sum(pushed)::int"
            " FROM complaint_hourly GROUP BY 1, 2, 3 HAVING sum(received) <> 0"
            " OR sum(pushed) <> 0 ORDER BY 1, 3"
        )
        assert [tuple(r) for r in hourly] == [
            ("sms-kota", "sms", "45", 1, 0),
            ("sms-kota", "sms", "46", 1, 1),
        ]


async def test_daily_series_is_in_local_days_and_scoped(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        # 23:30 WIB on 1 Nov and 00:30 WIB on 2 Nov: two local days, one UTC day.
        await insert(conn, at=dt.datetime(2026, 11, 1, 16, 30, tzinfo=dt.UTC), agency="45")
        await insert(conn, at=dt.datetime(2026, 11, 1, 17, 30, tzinfo=dt.UTC), agency="46")
        since = dt.datetime(2026, 10, 1, tzinfo=dt.UTC)
        rows = await repo.daily(conn, None, since, "Asia/Jakarta")
        assert [(r["day"], r["received"]) for r in rows] == [
            (dt.date(2026, 11, 1), 1),
            (dt.date(2026, 11, 2), 1),
        ]
        wita = await repo.daily(conn, None, since, "Asia/Makassar")
        assert [r["day"] for r in wita] == [dt.date(2026, 11, 2)]
        scoped = await repo.daily(conn, ["46", "DISHUB"], since, "Asia/Jakarta")
        assert [(r["day"], r["received"]) for r in scoped] == [(dt.date(2026, 11, 2), 1)]
        assert sum(r["n"] for r in await repo.counts(conn, ["45"])) == 1


async def hourly_truth(conn: asyncpg.Connection) -> set[tuple[Any, ...]]:
    rows = await conn.fetch(
        "SELECT hour, source, channel, agency_id, sum(r)::int AS r, sum(p)::int AS p FROM ("
        " SELECT date_trunc('hour', received_at) AS hour, source, channel,"
        "  coalesce(agency_id, '') AS agency_id, 1 AS r, 0 AS p FROM complaints"
        " UNION ALL"
        " SELECT date_trunc('hour', coalesce(lapor_created_at, received_at)), source, channel,"
        "  coalesce(agency_id, ''), 0, 1 FROM complaints WHERE lapor_tracking_id IS NOT NULL"
        ") AS t GROUP BY 1, 2, 3, 4"
    )
    return {tuple(r) for r in rows}


async def hourly_counters(conn: asyncpg.Connection) -> set[tuple[Any, ...]]:
    rows = await conn.fetch(
        "SELECT hour, source, channel, agency_id, received::int, pushed::int"
        " FROM complaint_hourly WHERE received <> 0 OR pushed <> 0"
    )
    return {tuple(r) for r in rows}


async def test_hourly_counters_move_only_the_contribution_whose_hour_or_key_changed(
    pool: asyncpg.Pool,
) -> None:
    async with pool.acquire() as conn:
        a = await insert(conn)
        b = await insert(conn, agency="45")
        c = await insert(conn, at=T0 + dt.timedelta(minutes=20))  # the same hour as a
        steps = [
            # pushed: only its "pushed" contribution appears, in the creation's hour
            (
                "UPDATE complaints SET lapor_tracking_id = '1916449', lapor_created_at = $2,"
                " status = 'belum_terverifikasi' WHERE id = $1",
                a,
                T0 + dt.timedelta(hours=2),
            ),
            # pushed with no known creation time: counted in the receipt's hour
            (
                "UPDATE complaints SET lapor_tracking_id = '1916450',"
                " status = 'belum_terverifikasi' WHERE id = $1",
                b,
            ),
            # the creation time learned later moves the pushed contribution only
            (
                "UPDATE complaints SET lapor_created_at = $2 WHERE id = $1",
                b,
                T0 + dt.timedelta(hours=5),
            ),
            # received_at within its hour: nothing moves; into another hour: it moves
            (
                "UPDATE complaints SET received_at = $2 WHERE id = $1",
                c,
                T0 + dt.timedelta(minutes=25),
            ),
            ("UPDATE complaints SET received_at = $2 WHERE id = $1", c, T0 + dt.timedelta(hours=3)),
            # another agency moves both of a pushed complaint's contributions
            ("UPDATE complaints SET agency_id = '46' WHERE id = $1", a),
            # a status change alone moves no hourly contribution
            ("UPDATE complaints SET status = 'terdisposisi' WHERE id = $1", a),
            # the Tracking ID taken back (an operator's correction): pushed is gone
            ("UPDATE complaints SET lapor_tracking_id = NULL WHERE id = $1", b),
            ("DELETE FROM complaints WHERE id = $1", a),
        ]
        for sql, *args in steps:
            await conn.execute(sql, *args)
            assert await hourly_counters(conn) == await hourly_truth(conn), sql
        totals = await conn.fetch(
            "SELECT hour, source, channel, received::int, pushed::int FROM complaint_hourly_total"
            " WHERE received <> 0 OR pushed <> 0"
        )
        by_agency: dict[tuple[Any, ...], list[int]] = {}
        for h, s, ch, _ag, r, p in await hourly_truth(conn):
            acc = by_agency.setdefault((h, s, ch), [0, 0])
            acc[0] += r
            acc[1] += p
        assert {tuple(r) for r in totals} == {(*k, *v) for k, v in by_agency.items()}
