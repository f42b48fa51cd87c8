"""Real gateways for the SMS tests: gammu-smsd (dummy phone) on scratch PostgreSQL and
MariaDB databases built from Gammu's own schema files, started and stopped here.

The servers are the machine's PostgreSQL on 127.0.0.1:5432 and MariaDB on 127.0.0.1:3306
(``SATUKANAL_TEST_GAMMU_PG_URL`` / ``SATUKANAL_TEST_GAMMU_MYSQL_URL`` override them).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import pytest

from aggregator.wiring.sources import build_source
from connectors.base import Batch
from tests.sms.dummyphone import inject, sms_file
from tests.support.runtime import make_services as runtime

_DEBIAN_EXAMPLES = Path("/usr/share/doc/gammu-smsd/examples")
# Slim images drop /usr/share/doc (dpkg path-exclude); then the copies of the same Gammu
# 1.42 files kept in tests/sms/data are used.
EXAMPLES = (
    _DEBIAN_EXAMPLES
    if (_DEBIAN_EXAMPLES / "pgsql.sql").exists()
    else Path(__file__).parent / "data"
)
PG_ADMIN = os.environ.get(
    "SATUKANAL_TEST_GAMMU_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
MY_ADMIN = os.environ.get("SATUKANAL_TEST_GAMMU_MYSQL_URL", "mysql://root@127.0.0.1:3306/")


def _name(file: str) -> str:
    return file if EXAMPLES == _DEBIAN_EXAMPLES else f"gammu-{file}"


def pg_schema_sql() -> str:
    # Gammu's file starts with CREATE LANGUAGE plpgsql, which fails on PostgreSQL >= 9.
    text = (EXAMPLES / _name("pgsql.sql")).read_text()
    return "\n".join(line for line in text.splitlines() if "CREATE LANGUAGE" not in line)


def _pg_dsn(db: str) -> str:
    return urlsplit(PG_ADMIN)._replace(path="/" + db).geturl()


async def create_gammu_pg(version: int = 17) -> str:
    name = f"gammu_t_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(PG_ADMIN)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    dsn = _pg_dsn(name)
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(pg_schema_sql())
        if version < 17:
            await downgrade_pg(conn, version)
    finally:
        await conn.close()
    return dsn


async def downgrade_pg(conn: asyncpg.Connection, version: int) -> None:
    """Shape a version-17 schema like an older one: versions 13-15 lack inbox.Status,
    outbox Priority/Status/StatusCode and phones.IMSI (what our SQL must cope with)."""
    if version <= 15:
        await conn.execute('ALTER TABLE inbox DROP COLUMN "Status"')
        await conn.execute(
            'ALTER TABLE outbox DROP COLUMN "Priority", DROP COLUMN "Status", '
            'DROP COLUMN "StatusCode"'
        )
        await conn.execute(
            'ALTER TABLE outbox_multipart DROP COLUMN "Status", DROP COLUMN "StatusCode"'
        )
        await conn.execute('ALTER TABLE sentitems DROP COLUMN "StatusCode"')
        await conn.execute('ALTER TABLE phones DROP COLUMN "IMSI"')
    await conn.execute('UPDATE gammu SET "Version" = $1', version)


async def drop_gammu_pg(dsn: str) -> None:
    name = urlsplit(dsn).path.lstrip("/")
    admin = await asyncpg.connect(PG_ADMIN)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


def _mysql_cli(db: str | None = None) -> list[str]:
    p = urlsplit(MY_ADMIN)
    cmd = [
        "mariadb",
        "-h",
        p.hostname or "127.0.0.1",
        "-P",
        str(p.port or 3306),
        "-u",
        p.username or "root",
    ]
    if p.password:
        cmd.append(f"-p{p.password}")
    if db:
        cmd.append(db)
    return cmd


def create_gammu_mysql(version: int = 17) -> str:
    name = f"gammu_t_{uuid.uuid4().hex[:10]}"
    subprocess.run(
        [*_mysql_cli(), "-e", f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4"],
        check=True,
        capture_output=True,
    )
    subprocess.run(
        _mysql_cli(name),
        input=(EXAMPLES / _name("mysql.sql")).read_bytes(),
        check=True,
        capture_output=True,
    )
    if version < 17:
        stmts = [f"UPDATE gammu SET Version = {version}"]
        if version <= 15:
            stmts += [
                "ALTER TABLE inbox DROP COLUMN Status",
                "ALTER TABLE outbox DROP COLUMN Priority, DROP COLUMN Status, "
                "DROP COLUMN StatusCode",
                "ALTER TABLE outbox_multipart DROP COLUMN Status, DROP COLUMN StatusCode",
                "ALTER TABLE sentitems DROP COLUMN StatusCode",
            ]
        subprocess.run([*_mysql_cli(name), "-e", "; ".join(stmts)], check=True, capture_output=True)
    p = urlsplit(MY_ADMIN)
    return p._replace(path="/" + name).geturl()


def drop_gammu_mysql(dsn: str) -> None:
    name = urlsplit(dsn).path.lstrip("/")
    subprocess.run(
        [*_mysql_cli(), "-e", f"DROP DATABASE IF EXISTS `{name}`"], check=True, capture_output=True
    )


@dataclass
class Smsd:
    """A running gammu-smsd with the dummy phone: incoming SMS are files in ``device``."""

    driver: str
    dsn: str
    root: Path
    proc: subprocess.Popen[bytes] | None = None
    multipart_timeout: int = 1
    sent_log: Path = field(init=False)

    def __post_init__(self) -> None:
        self.device = self.root / "phone"
        self.sent_log = self.root / "sent.log"

    def config(self) -> str:
        p = urlsplit(self.dsn)
        driver = {"pgsql": "native_pgsql", "mysql": "native_mysql"}[self.driver]
        port = p.port or (5432 if self.driver == "pgsql" else 3306)
        return "\n".join(
            [
                "[gammu]",
                "model = dummy",
                "connection = none",
                f"device = {self.device}",
                "",
                "[smsd]",
                "service = sql",
                f"driver = {driver}",
                f"host = {p.hostname}:{port}",
                f"user = {p.username or 'root'}",
                f"password = {p.password or ''}",
                f"database = {p.path.lstrip('/')}",
                f"logfile = {self.root / 'smsd.log'}",
                "debuglevel = 1",
                "PhoneID = satu",
                "CommTimeout = 1",
                "ReceiveFrequency = 1",
                "StatusFrequency = 0",
                "LoopSleep = 1",
                "CheckSecurity = 0",
                "CheckBattery = 0",
                "CheckSignal = 0",
                "DeliveryReport = no",
                # gammu-smsd itself holds lone parts back up to MultipartTimeout; 1 s makes each
                # part its own row at once, as older gateways and other drivers do.
                f"MultipartTimeout = {self.multipart_timeout}",
                "",
                "",
            ]
        )

    def start(self) -> None:
        self.device.mkdir(parents=True, exist_ok=True)
        for sub in ("sms/1", "sms/2", "sms/3", "sms/4", "sms/5"):
            (self.device / sub).mkdir(parents=True, exist_ok=True)
        rc = self.root / "smsdrc"
        rc.write_text(self.config())
        self.proc = subprocess.Popen(
            ["gammu-smsd", "-c", str(rc)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        log = self.root / "smsd.log"
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if log.exists() and "Starting phone communication" in log.read_text(errors="replace"):
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.1)
        raise RuntimeError(f"gammu-smsd did not start:\n{self.log_tail()}")

    def log_tail(self) -> str:
        log = self.root / "smsd.log"
        return "\n".join(log.read_text(errors="replace").splitlines()[-30:]) if log.exists() else ""

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None

    def deliver(self, number: str, text: str | bytes, **kw: Any) -> None:
        inject(self.device, sms_file(number, text, **kw))


@pytest.fixture
async def gammu_pg() -> AsyncIterator[str]:
    dsn = await create_gammu_pg()
    try:
        yield dsn
    finally:
        await drop_gammu_pg(dsn)


@pytest.fixture
def gammu_mysql() -> Iterator[str]:
    dsn = create_gammu_mysql()
    try:
        yield dsn
    finally:
        drop_gammu_mysql(dsn)


@pytest.fixture(params=["pgsql", "mysql"])
async def gammu_db(request: pytest.FixtureRequest) -> AsyncIterator[tuple[str, str]]:
    """A fresh Gammu SMSD database on each backend: ``(driver, dsn)``."""
    if request.param == "pgsql":
        dsn = await create_gammu_pg()
        try:
            yield "pgsql", dsn
        finally:
            await drop_gammu_pg(dsn)
    else:
        dsn = create_gammu_mysql()
        try:
            yield "mysql", dsn
        finally:
            drop_gammu_mysql(dsn)


@pytest.fixture
def smsd(gammu_db: tuple[str, str]) -> Iterator[Smsd]:
    root = Path(tempfile.mkdtemp(prefix="satukanal-smsd-"))
    s = Smsd(gammu_db[0], gammu_db[1], root)
    s.start()
    try:
        yield s
    finally:
        s.stop()
        shutil.rmtree(root, ignore_errors=True)


async def wait_for(predicate: Any, within: float = 30.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + within
    while True:
        value = await predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.2)


async def drain(
    source: Any, services: Any, cursor: dict[str, Any] | None = None, *, ack: bool = True
) -> tuple[dict[str, Any], list[Any]]:
    """What the ingest loop does: pull, ingest each batch in one transaction, then ack."""
    from aggregator.intake import ingest

    results = []
    async for batch in source.pull(cursor):
        results.append(await ingest(services, source, batch))
        cursor = batch.cursor
        if ack:
            await source.ack(batch)
    return cursor or {}, results


def batches_ids(batches: list[Batch]) -> list[int]:
    return [i for b in batches for i in (b.ack_token or [])]


def make_services(pool: asyncpg.Pool, http: Any = None, settings: Any = None) -> Any:
    from schemas.config import Settings

    return runtime(pool, http, settings or Settings(demo=True), owner="test-sms")


@pytest.fixture
async def services(pool: asyncpg.Pool) -> Any:
    return make_services(pool)


def gammu_source(
    driver: str, dsn: str, services: Any, name: str = "sms-gammu", **options: Any
) -> Any:
    from schemas.config import SourceConfig

    opts = {"driver": driver, "dsn": dsn, "timezone": "UTC", **options}
    return build_source(SourceConfig(name=name, kind="gammu", options=opts), services)


@pytest.fixture
def smsd_pg(gammu_pg: str) -> Iterator[Smsd]:
    """gammu-smsd on PostgreSQL only, for tests about our conventions rather than the backend."""
    root = Path(tempfile.mkdtemp(prefix="satukanal-smsd-"))
    s = Smsd("pgsql", gammu_pg, root)
    s.start()
    try:
        yield s
    finally:
        s.stop()
        shutil.rmtree(root, ignore_errors=True)
