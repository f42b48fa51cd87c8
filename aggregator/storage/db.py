"""The database: an asyncpg pool on a configured server or on an embedded PostgreSQL.

With no ``database.url`` the daemon starts PostgreSQL from the ``pgserver`` package in
``<data_dir>/pg`` and stops it on exit, so one command runs satukanal on a bare machine.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import os
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import structlog

from aggregator.errors import ConfigError
from aggregator.storage.sqlfiles import q
from schemas.config import DatabaseConfig

log = structlog.get_logger(__name__)


def json_text(value: object) -> str:
    """JSON as satukanal writes it everywhere (jsonb parameters, bulk arrays, API bodies):
    UTF-8 as is, and dates and other odd values in connector metadata as strings rather
    than errors."""
    return json.dumps(value, default=str, ensure_ascii=False)


class EncodedJson(bytes):
    """A JSON value already encoded (UTF-8 ``json_text``): the codecs send it as it is. Lets
    the CPU of encoding happen where the row was planned (a backfill's worker process), not
    in the process that writes it; as bytes it also crosses between processes cheaply."""

    __slots__ = ()


def _jsonb_out(value: object) -> bytes:
    if isinstance(value, EncodedJson):
        return b"\x01" + value
    return b"\x01" + json_text(value).encode()  # jsonb's binary format: a version byte, text


def _jsonb_in(data: bytes) -> object:
    return json.loads(data[1:])


def _json_out(value: object) -> bytes:
    if isinstance(value, EncodedJson):
        return bytes(value)
    return json_text(value).encode()


async def init_connection(conn: asyncpg.Connection) -> None:
    # Binary codecs, so that COPY (binary only in asyncpg) can write jsonb columns too.
    await conn.set_type_codec(
        "jsonb", encoder=_jsonb_out, decoder=_jsonb_in, schema="pg_catalog", format="binary"
    )
    await conn.set_type_codec(
        "json", encoder=_json_out, decoder=json.loads, schema="pg_catalog", format="binary"
    )


@dataclass
class EmbeddedPostgres:
    """A PostgreSQL server owned by this process (pgserver), stopped on ``stop()``."""

    data_dir: Path
    _server: Any = None

    def start(self) -> str:
        # pgserver keeps a cross-process lock under the user's runtime dir; on a server
        # without a login session there is none, so give it a private one beside the data
        # (the same for the daemon and the CLI, which share one embedded server).
        if "XDG_RUNTIME_DIR" not in os.environ:
            run_dir = self.data_dir.parent / ".run"
            run_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
            run_dir.chmod(0o700)
            os.environ["XDG_RUNTIME_DIR"] = str(run_dir)
        try:
            import pgserver
        except ImportError as exc:  # pragma: no cover - dependency of the package
            raise ConfigError("embedded PostgreSQL needs the 'pgserver' package") from exc
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._server = pgserver.get_server(self.data_dir, cleanup_mode="stop")
        uri: str = self._server.get_uri()
        return uri

    def stop(self) -> None:
        if self._server is not None:
            with contextlib.suppress(Exception):
                self._server.cleanup()
            self._server = None


async def create_pool(dsn: str, cfg: DatabaseConfig | None = None, **kw: Any) -> asyncpg.Pool:
    cfg = cfg or DatabaseConfig()
    try:
        pool = await asyncpg.create_pool(
            dsn,
            min_size=kw.pop("min_size", cfg.pool_min),
            max_size=kw.pop("max_size", cfg.pool_max),
            init=init_connection,
            **kw,
        )
    except (OSError, asyncpg.PostgresError) as exc:
        raise ConfigError(f"cannot connect to PostgreSQL at {redact_dsn(dsn)}: {exc}") from exc
    assert pool is not None
    return pool


# Errors that mean "not up yet" (refused, starting, too many clients during a restart),
# worth waiting for; a wrong password or a missing database is not.
_NOT_UP_YET = (OSError, asyncpg.CannotConnectNowError, asyncpg.TooManyConnectionsError)


async def create_pool_waiting(
    dsn: str, cfg: DatabaseConfig, *, wait_s: float, clock: Any = time.monotonic
) -> asyncpg.Pool:
    """``create_pool``, retried with backoff while PostgreSQL is not up yet, for at most
    ``wait_s`` seconds in all (a container started beside its database, a server rebooting)."""
    deadline = clock() + wait_s
    delay, attempt = 0.5, 0
    while True:
        attempt += 1
        try:
            return await create_pool(dsn, cfg)
        except ConfigError as exc:
            cause = exc.__cause__
            left = deadline - clock()
            if not isinstance(cause, _NOT_UP_YET) or left <= 0:
                if attempt > 1:
                    raise ConfigError(
                        f"{exc} (gave up after waiting {wait_s:.0f} s: database.connect_wait_s)"
                    ) from cause
                raise
            pause = min(delay, left)
            log.warning(
                "database_not_ready_retrying",
                target=redact_dsn(dsn),
                attempt=attempt,
                retry_in_s=round(pause, 1),
                gives_up_in_s=round(left, 1),
                error=f"{type(cause).__name__}: {cause}",
            )
            await asyncio.sleep(pause)
            delay = min(delay * 2, 10.0)


def redact_dsn(dsn: str) -> str:
    """Hide a password in a DSN for messages."""
    import re

    return re.sub(r"(://[^:/@]+:)[^@]*@", r"\1***@", dsn)


@contextlib.asynccontextmanager
async def open_database(
    cfg: DatabaseConfig, data_dir: Path, *, wait: bool = False
) -> AsyncIterator[tuple[str, asyncpg.Pool]]:
    """Yield ``(dsn, pool)``; an embedded server is started and stopped around it. With
    ``wait`` (the daemon) a server that is not up yet is waited for, up to
    ``database.connect_wait_s``; commands fail at once instead."""
    embedded: EmbeddedPostgres | None = None
    if cfg.url is not None and cfg.url.get_secret_value():
        dsn = cfg.url.get_secret_value()
    else:
        embedded = EmbeddedPostgres(data_dir / "pg")
        dsn = embedded.start()
        log.info("embedded_postgres_started", data_dir=str(embedded.data_dir))
    try:
        if wait and embedded is None and cfg.connect_wait_s > 0:
            pool = await create_pool_waiting(dsn, cfg, wait_s=cfg.connect_wait_s)
        else:
            pool = await create_pool(dsn, cfg)
        try:
            yield dsn, pool
        finally:
            await pool.close()
    finally:
        if embedded is not None:
            embedded.stop()
            log.info("embedded_postgres_stopped")


async def server_version(conn: asyncpg.Connection) -> str:
    version: str = await conn.fetchval(q("server_version"))
    return version


async def database_now(conn: asyncpg.Connection) -> dt.datetime:
    now: dt.datetime = await conn.fetchval(q("database_now"))
    return now
