"""Shared fixtures: a real PostgreSQL for every test.

The server is ``SATUKANAL_TEST_DATABASE_URL`` when set, else an embedded pgserver started for
the session. Migrations run once into a template database; each test gets a fresh clone
(``CREATE DATABASE … TEMPLATE``), which takes milliseconds and isolates tests completely.
"""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest
import structlog

from aggregator.storage.db import EmbeddedPostgres, create_pool
from aggregator.storage.migrate import migrate

TEMPLATE = f"satukanal_tpl_{os.getpid()}"


def _with_db(dsn: str, db: str) -> str:
    parts = urlsplit(dsn)
    return urlunsplit(parts._replace(path="/" + db))


@pytest.fixture(autouse=True)
def _structlog_config() -> Iterator[None]:
    """A test that configures logging (the CLI does, at warning level) must not change what
    later tests see: ``capture_logs`` cannot capture what a level filter already dropped."""
    saved = structlog.get_config()
    yield
    structlog.configure(**saved)


@pytest.fixture(scope="session")
def pg_server_dsn() -> Iterator[str]:
    """DSN of a PostgreSQL server (its maintenance database) the tests may create DBs on."""
    url = os.environ.get("SATUKANAL_TEST_DATABASE_URL")
    if url:
        yield url
        return
    tmp = Path(tempfile.mkdtemp(prefix="satukanal-pg-"))
    os.chmod(tmp, 0o755)
    server = EmbeddedPostgres(tmp / "pg")
    dsn = server.start()
    try:
        yield dsn
    finally:
        server.stop()


@pytest.fixture(scope="session")
async def template_dsn(pg_server_dsn: str) -> AsyncIterator[str]:
    admin = await asyncpg.connect(pg_server_dsn)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{TEMPLATE}"')
        await admin.execute(f'CREATE DATABASE "{TEMPLATE}"')
        dsn = _with_db(pg_server_dsn, TEMPLATE)
        conn = await asyncpg.connect(dsn)
        try:
            await migrate(conn)
        finally:
            await conn.close()
        yield dsn
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{TEMPLATE}" WITH (FORCE)')
        await admin.close()


async def make_database(pg_server_dsn: str, template: str | None = TEMPLATE) -> str:
    """Create a fresh database (a clone of the migrated template by default); return its DSN."""
    name = f"satukanal_t_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(pg_server_dsn)
    try:
        if template:
            await admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
        else:
            await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    return _with_db(pg_server_dsn, name)


async def drop_database(pg_server_dsn: str, dsn: str) -> None:
    name = urlsplit(dsn).path.lstrip("/")
    admin = await asyncpg.connect(pg_server_dsn)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest.fixture
async def db_dsn(pg_server_dsn: str, template_dsn: str) -> AsyncIterator[str]:
    """A fresh, migrated database for this test."""
    dsn = await make_database(pg_server_dsn)
    try:
        yield dsn
    finally:
        await drop_database(pg_server_dsn, dsn)


@pytest.fixture
async def empty_db_dsn(pg_server_dsn: str) -> AsyncIterator[str]:
    """A fresh database with no schema at all."""
    dsn = await make_database(pg_server_dsn, template=None)
    try:
        yield dsn
    finally:
        await drop_database(pg_server_dsn, dsn)


@pytest.fixture
async def pool(db_dsn: str) -> AsyncIterator[asyncpg.Pool]:
    p = await create_pool(db_dsn, min_size=1, max_size=10)
    try:
        yield p
    finally:
        await p.close()
