"""Numbered SQL migrations, each in its own transaction, recorded in ``schema_migrations``.

Two processes migrating at once are serialised by an advisory lock; the second finds the
work done. Migrations apply in number order only: a pending migration numbered below one the
database already has is refused (``MigrationOrderError``): applied late it would leave this
database built in a different order from a fresh one. A new migration takes the next free
number (``next_free_number()``). ``schema.sql`` at the repository root is what migrating an
empty database yields (a test compares their whole dumps; ``satukanal migrate --dump-schema``
regenerates it).
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass
from importlib.resources import files

import asyncpg
import structlog

from aggregator.errors import ConfigError
from aggregator.storage.db import reset_session_statement_timeout, set_session_statement_timeout

log = structlog.get_logger(__name__)

_LOCK_ID = 0x5A7C_A1A1  # advisory lock key for migrations
_FILE = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


def available() -> list[Migration]:
    found = []
    for entry in files("aggregator.storage.migrations").iterdir():
        m = _FILE.match(entry.name)
        if m:
            found.append(Migration(int(m.group(1)), m.group(2), entry.read_text(encoding="utf-8")))
    found.sort(key=lambda mig: mig.version)
    versions = [mig.version for mig in found]
    if len(set(versions)) != len(versions):
        raise RuntimeError(f"two migrations share a number: {versions}")
    return found


class MigrationOrderError(ConfigError):
    """A pending migration is numbered below one the database already has."""


def next_free_number(migrations: list[Migration] | None = None) -> int:
    found = available() if migrations is None else migrations
    return max((m.version for m in found), default=0) + 1


def check_order(done: set[int], todo: list[Migration]) -> None:
    """Refuse ``todo`` when any of it is numbered below the newest applied migration."""
    if not done or not todo:
        return
    newest = max(done)
    late = [m for m in todo if m.version < newest]
    if late:
        names = ", ".join(f"{m.version:04d}_{m.name}" for m in late)
        raise MigrationOrderError(
            f"migration(s) {names} not yet applied but numbered below {newest:04d}, which this "
            f"database already has; applying them now would build this database in a "
            f"different order from a fresh one. Renumber them after the newest migration "
            f"(next free number {next_free_number():04d}) and run `satukanal migrate` again; "
            f"nothing was applied"
        )


async def applied_versions(conn: asyncpg.Connection) -> set[int]:
    exists = await conn.fetchval("SELECT to_regclass('schema_migrations') IS NOT NULL")
    if not exists:
        return set()
    rows = await conn.fetch("SELECT version FROM schema_migrations")
    return {r["version"] for r in rows}


async def pending(conn: asyncpg.Connection) -> list[Migration]:
    done = await applied_versions(conn)
    return [m for m in available() if m.version not in done]


async def migrate(
    conn: asyncpg.Connection, *, statement_timeout_s: float | None = None
) -> list[Migration]:
    """Apply every pending migration; return the ones this call applied.

    ``statement_timeout_s`` (the daemon and the CLI pass ``database.long_statement_timeout_s``)
    bounds each statement, the wait for another process's migrations included, instead of
    the session's ordinary ``statement_timeout``: a migration rewriting a large table is
    long by nature. The session's own limit is back afterwards."""
    if statement_timeout_s is None:
        return await _migrate_locked(conn)
    await set_session_statement_timeout(conn, statement_timeout_s)
    try:
        applied = await _migrate_locked(conn)
    except BaseException:
        # The failure is what matters; a pooled connection is reset on release anyway.
        with contextlib.suppress(Exception):
            await reset_session_statement_timeout(conn)
        raise
    await reset_session_statement_timeout(conn)
    return applied


async def _migrate_locked(conn: asyncpg.Connection) -> list[Migration]:
    applied: list[Migration] = []
    await conn.execute("SELECT pg_advisory_lock($1)", _LOCK_ID)
    try:
        await conn.execute(
            """CREATE TABLE IF NOT EXISTS schema_migrations (
                   version integer PRIMARY KEY,
                   name text NOT NULL,
                   applied_at timestamptz NOT NULL DEFAULT now())"""
        )
        todo = await pending(conn)
        check_order(await applied_versions(conn), todo)
        for mig in todo:
            async with conn.transaction():
                await conn.execute(mig.sql)
                await conn.execute(
                    "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
                    mig.version,
                    mig.name,
                )
            log.info("migration_applied", version=mig.version, name=mig.name)
            applied.append(mig)
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", _LOCK_ID)
    return applied
