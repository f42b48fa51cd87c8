"""Migrations rebuild the committed schema.sql (the whole dumped schema); they apply in
number order only; two processes can migrate at once."""

from __future__ import annotations

import asyncio
import difflib
from pathlib import Path

import asyncpg
import pytest

from aggregator.storage.migrate import (
    MigrationOrderError,
    available,
    migrate,
    next_free_number,
)
from aggregator.storage.schema_dump import dump_schema
from schemas.complaint import ComplaintStatus
from schemas.events import FollowupLabel, JobState, NotificationState, RawState, Role

ROOT = Path(__file__).resolve().parents[2]

SNAPSHOT = {
    "enums": """SELECT t.typname, array_agg(e.enumlabel ORDER BY e.enumsortorder) AS labels
                FROM pg_type t JOIN pg_enum e ON e.enumtypid = t.oid GROUP BY t.typname
                ORDER BY t.typname""",
}


# pg_dump would set this itself; schema.sql keeps only the schema. A SQL function whose body
# names a table defined further down loads once bodies are checked at call time, as in a restore.
SCHEMA_PRELUDE = "SET check_function_bodies = false;\n"


async def load_schema_sql(dsn: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(SCHEMA_PRELUDE + (ROOT / "schema.sql").read_text())
    finally:
        await conn.close()


def differences(migrated: str, committed: str) -> str:
    return "".join(
        difflib.unified_diff(
            committed.splitlines(keepends=True),
            migrated.splitlines(keepends=True),
            "schema.sql (loaded and dumped)",
            "migrations (applied and dumped)",
            n=1,
        )
    )


async def test_migrating_an_empty_database_yields_schema_sql(empty_db_dsn, db_dsn):
    # db_dsn was built by running every migration; empty_db_dsn gets the committed schema.sql.
    # Both are dumped by the same pg_dump from the same server, so the whole schema is
    # compared: tables, types, indexes, constraints, sequences, functions with their bodies,
    # triggers.
    await load_schema_sql(empty_db_dsn)
    migrated, committed = await dump_schema(db_dsn), await dump_schema(empty_db_dsn)
    for kind in ("CREATE TABLE", "CREATE FUNCTION", "CREATE TRIGGER", "CREATE SEQUENCE"):
        assert kind in migrated, kind
    diff = differences(migrated, committed)
    assert not diff, (
        "schema.sql is stale; run `satukanal migrate --dump-schema schema.sql`:\n" + diff[:4000]
    )


async def test_the_schema_comparison_sees_a_missing_trigger_and_a_changed_function(
    empty_db_dsn, db_dsn
):
    await load_schema_sql(empty_db_dsn)
    migrated = await dump_schema(db_dsn)
    conn = await asyncpg.connect(empty_db_dsn)
    try:
        trigger, table = await conn.fetchrow(
            "SELECT t.tgname, t.tgrelid::regclass::text FROM pg_trigger t "
            "WHERE NOT t.tgisinternal ORDER BY t.tgname LIMIT 1"
        )
        await conn.execute(f'DROP TRIGGER "{trigger}" ON {table}')
        without_trigger = await dump_schema(empty_db_dsn)
        await conn.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
        await conn.execute(SCHEMA_PRELUDE + (ROOT / "schema.sql").read_text())
        _, body = await conn.fetchrow(
            "SELECT p.proname, pg_get_functiondef(p.oid) FROM pg_proc p "
            "JOIN pg_namespace n ON n.oid = p.pronamespace JOIN pg_language l "
            "ON l.oid = p.prolang WHERE n.nspname = 'public' AND l.lanname = 'plpgsql' "
            "ORDER BY p.proname LIMIT 1"
        )
        await conn.execute(body.replace("BEGIN", "BEGIN\n    PERFORM 1;", 1))
        changed_function = await dump_schema(empty_db_dsn)
    finally:
        await conn.close()
    missing = differences(migrated, without_trigger)
    assert f"CREATE TRIGGER {trigger}" in missing, missing[:2000]
    changed = differences(migrated, changed_function)
    assert "PERFORM 1;" in changed, changed[:2000]


async def test_a_migration_numbered_below_an_applied_one_is_refused(empty_db_dsn):
    conn = await asyncpg.connect(empty_db_dsn)
    try:
        await migrate(conn)
        # As if a release brought a migration numbered below ones the database has: the
        # second-newest one is "not applied yet".
        late = available()[-2]
        await conn.execute("DELETE FROM schema_migrations WHERE version = $1", late.version)
        with pytest.raises(MigrationOrderError) as refused:
            await migrate(conn)
        message = str(refused.value)
        assert f"{late.version:04d}_{late.name}" in message
        assert f"below {available()[-1].version:04d}" in message
        assert f"next free number {next_free_number():04d}" in message
        assert "Renumber" in message and "nothing was applied" in message
        applied = await conn.fetchval("SELECT count(*) FROM schema_migrations")
        assert applied == len(available()) - 1
    finally:
        await conn.close()


def test_next_free_number_follows_the_newest_migration():
    assert next_free_number() == available()[-1].version + 1
    assert next_free_number([]) == 1


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
