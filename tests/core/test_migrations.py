"""Migrations rebuild the committed schema.sql; two processes can migrate at once."""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg

from aggregator.storage.migrate import available, migrate
from schemas.complaint import ComplaintStatus
from schemas.events import FollowupLabel, JobState, NotificationState, RawState, Role

ROOT = Path(__file__).resolve().parents[2]

SNAPSHOT = {
    "columns": """SELECT table_name, column_name, data_type, udt_name, is_nullable,
                         column_default
                  FROM information_schema.columns
                  WHERE table_schema = 'public' AND table_name <> 'schema_migrations'
                  ORDER BY table_name, column_name""",
    "indexes": """SELECT tablename, indexname, indexdef FROM pg_indexes
                  WHERE schemaname = 'public' AND tablename <> 'schema_migrations'
                  ORDER BY tablename, indexname""",
    "constraints": """SELECT c.conrelid::regclass::text AS tbl, c.conname,
                             pg_get_constraintdef(c.oid) AS def
                      FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace
                      WHERE n.nspname = 'public'
                        AND c.conrelid::regclass::text <> 'schema_migrations'
                      ORDER BY 1, 2""",
    "enums": """SELECT t.typname, array_agg(e.enumlabel ORDER BY e.enumsortorder) AS labels
                FROM pg_type t JOIN pg_enum e ON e.enumtypid = t.oid GROUP BY t.typname
                ORDER BY t.typname""",
}


async def snapshot(dsn: str) -> dict[str, list[tuple]]:
    conn = await asyncpg.connect(dsn)
    try:
        return {k: [tuple(r) for r in await conn.fetch(sql)] for k, sql in SNAPSHOT.items()}
    finally:
        await conn.close()


async def test_migrating_an_empty_database_yields_schema_sql(empty_db_dsn, db_dsn):
    # db_dsn was built by running every migration; empty_db_dsn gets the committed schema.sql.
    conn = await asyncpg.connect(empty_db_dsn)
    try:
        await conn.execute((ROOT / "schema.sql").read_text())
    finally:
        await conn.close()
    migrated, committed = await snapshot(db_dsn), await snapshot(empty_db_dsn)
    for part in SNAPSHOT:
        assert migrated[part] == committed[part], (
            f"schema.sql is stale ({part}); run `satukanal migrate --dump-schema schema.sql`"
        )


async def test_concurrent_migrations_apply_each_once(empty_db_dsn):
    async def one() -> int:
        conn = await asyncpg.connect(empty_db_dsn)
        try:
            return len(await migrate(conn))
        finally:
            await conn.close()

    counts = await asyncio.gather(one(), one(), one())
    assert sorted(counts) == [0, 0, len(available())]
    conn = await asyncpg.connect(empty_db_dsn)
    try:
        versions = [
            r["version"]
            for r in await conn.fetch("SELECT version FROM schema_migrations ORDER BY version")
        ]
        assert versions == [m.version for m in available()]
        assert await migrate(conn) == []  # idempotent
    finally:
        await conn.close()


async def test_status_enums_equal_the_database_labels(pool):
    expected = {
        "complaint_status": [s.value for s in ComplaintStatus],
        "job_state": [s.value for s in JobState],
        "raw_state": [s.value for s in RawState],
        "followup_label": [s.value for s in FollowupLabel],
        "notification_state": [s.value for s in NotificationState],
        "token_role": [s.value for s in Role],
    }
    rows = await pool.fetch(SNAPSHOT["enums"])
    labels = {r["typname"]: list(r["labels"]) for r in rows}
    for typ, values in expected.items():
        assert labels[typ] == values, typ
