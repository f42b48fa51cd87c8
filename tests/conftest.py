"""Shared fixtures: a real PostgreSQL for every test that needs one, and the markers.

The server is ``SATUKANAL_TEST_DATABASE_URL`` when set, else an embedded pgserver started for
the session. Migrations run once into a template database; each test gets a fresh clone
(``CREATE DATABASE … TEMPLATE``), which takes milliseconds and isolates tests completely.

Every test that uses a server fixture (directly or through another fixture) or lives in a
server folder is marked ``server``; the end-to-end folders are also ``slow``. So
``pytest -m "not server"`` runs the pure tests alone, in seconds, and ``-m "not slow"`` leaves
out the long ones. The runtime factory and test ports are in ``tests/support``.
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
TESTS = Path(__file__).resolve().parent

# Fixtures that start or reach a real server; pytest lists the fixtures a test uses
# transitively, so a test asking for ``pool`` or ``services`` is found through ``pg_server_dsn``.
SERVER_FIXTURES = frozenset(
    {
        "pg_server_dsn",  # PostgreSQL: db_dsn, empty_db_dsn, pool, services, …
        "legacy",  # the old forms' MariaDB
        "gammu_pg",
        "gammu_mysql",
        "gammu_db",
        "smsd",
        "smsd_pg",  # gammu-smsd databases
        "dovecot",
        "postfix",  # mail
        "browser",  # Chromium
    }
)
# Folders whose tests all run real servers or processes, and take long.
SERVER_FOLDERS = frozenset({"e2e", "install", "browser"})
SLOW_FOLDERS = SERVER_FOLDERS
# Single modules and tests that take ten seconds or more without a server (subprocesses of
# the CLI, a property-based API run); a test may also mark itself ``slow``.
SLOW_TESTS = (
    "tests/core/test_daemon.py",
    "tests/core/test_database_wait.py",
    "tests/core/test_config.py::test_config_check_cli_masks_secrets_and_reports_errors",
    "tests/followup/test_sla_loop.py::test_followup_classify_command",
    "tests/lapor/test_openapi_schemathesis.py",
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        parts = Path(str(item.path)).resolve().relative_to(TESTS).parts
        folder = parts[0] if len(parts) > 1 else ""
        if folder in SERVER_FOLDERS or SERVER_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.server)
        if folder in SLOW_FOLDERS or item.nodeid.startswith(SLOW_TESTS):
            item.add_marker(pytest.mark.slow)


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
