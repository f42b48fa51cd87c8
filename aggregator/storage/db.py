"""The database: an asyncpg pool on a configured server or on an embedded PostgreSQL.

With no ``database.url`` the daemon starts PostgreSQL from the ``pgserver`` package in
``<data_dir>/pg`` and stops it on exit, so one command runs satukanal on a bare machine.

Every use of the database is bounded (issue #18): the pool (``BoundedPool``) waits at most
``database.acquire_timeout_s`` for a connection unless the caller gives its own bound, then
raises ``PoolTimeout`` naming the code that waited; every session starts with
``database.statement_timeout_s`` and ``database.idle_in_transaction_timeout_s``; the few
statements that are long by nature (migrations, a backfill's COPY, the retention purge) run
with ``database.long_statement_timeout_s`` instead, per transaction (``allow_long_statements``)
or, for the migrations, per session.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import os
import sys
import time
from collections.abc import AsyncIterator, Generator
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

import asyncpg
import structlog

from aggregator.errors import ConfigError, TransientError
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


class PoolTimeout(TransientError, TimeoutError):
    """No pooled connection came within the acquire timeout: every connection is held (a
    slow statement, a leak, too small a ``database.pool_max``) or the server does not answer.

    A ``TimeoutError`` (so an ``OSError``) as asyncpg's own acquire timeout is, so every loop
    that rides out a database outage rides this out too, and a ``TransientError``: a job or
    a request tried again later may well find a free connection. ``waiter`` names the code
    that waited (module:function:line)."""

    def __init__(self, message: str, *, waiter: str) -> None:
        super().__init__(message)
        self.waiter = waiter


# Frames of the pool machinery, skipped when naming the code that waited.
_POOL_MODULES = ("asyncpg.", __name__)


def _waiter() -> str:
    """The code that asked for a connection: the first frame up the await chain that is
    neither asyncpg nor this module (only looked up once a wait has timed out)."""
    frame: FrameType | None = sys._getframe(1)
    while frame is not None:
        module = frame.f_globals.get("__name__", "?")
        if not module.startswith(_POOL_MODULES):
            return f"{module}:{frame.f_code.co_qualname}:{frame.f_lineno}"
        frame = frame.f_back
    return "?"


class _BoundedAcquire:
    """``pool.acquire()`` as asyncpg's, for ``async with`` and ``await``, with a timeout
    that turns into ``PoolTimeout``."""

    __slots__ = ("_inner", "_pool", "_timeout")

    def __init__(self, pool: BoundedPool, timeout: float) -> None:
        self._pool = pool
        self._timeout = timeout
        self._inner = asyncpg.Pool.acquire(pool, timeout=timeout)

    async def __aenter__(self) -> asyncpg.Connection:
        try:
            conn: asyncpg.Connection = await self._inner.__aenter__()
        except TimeoutError as exc:
            raise self._pool.timed_out(self._timeout, _waiter()) from exc
        return conn

    async def __aexit__(self, *exc: object) -> None:
        await self._inner.__aexit__(*exc)

    def __await__(self) -> Generator[Any, None, asyncpg.Connection]:
        # A generator (not a coroutine's wrapper), so that its frame stays linked to the
        # awaiting one and _waiter() can name it.
        try:
            conn: asyncpg.Connection = yield from self._inner.__await__()
        except TimeoutError as exc:
            raise self._pool.timed_out(self._timeout, _waiter()) from exc
        return conn


class BoundedPool(asyncpg.Pool):
    """asyncpg's pool, whose every acquire — ``pool.acquire()`` and the pool's own
    ``fetch``/``execute`` shortcuts — waits at most ``acquire_timeout_s`` unless the caller
    gives its own ``timeout``, then raises ``PoolTimeout`` and logs
    ``database_pool_timeout`` (once per waiting place per ``log_every_s``, with how many
    waits were not logged in between)."""

    def __init__(
        self, *args: Any, acquire_timeout_s: float, log_every_s: float = 60.0, **kw: Any
    ) -> None:
        super().__init__(*args, **kw)
        self.acquire_timeout_s = acquire_timeout_s
        self.log_every_s = log_every_s
        self._logged: dict[str, tuple[float, int]] = {}  # waiter -> (logged at, not logged)

    def acquire(self, *, timeout: float | None = None) -> _BoundedAcquire:
        return _BoundedAcquire(self, self.acquire_timeout_s if timeout is None else timeout)

    def timed_out(self, timeout: float, waiter: str) -> PoolTimeout:
        size, idle, most = self.get_size(), self.get_idle_size(), self.get_max_size()
        task = asyncio.current_task()
        message = (
            f"no database connection within {timeout:g} s for {waiter}: {size - idle} of at "
            f"most {most} connections in use (a slow statement, or database.pool_max too "
            f"small for the load; the wait is database.acquire_timeout_s)"
        )
        now = time.monotonic()
        at, skipped = self._logged.get(waiter, (None, 0))
        if at is None or now - at >= self.log_every_s:
            self._logged[waiter] = (now, 0)
            log.error(
                "database_pool_timeout",
                waiter=waiter,
                task=task.get_name() if task is not None else None,
                timeout_s=timeout,
                in_use=size - idle,
                pool_max=most,
                not_logged=skipped,
            )
        else:
            self._logged[waiter] = (at, skipped + 1)
        return PoolTimeout(message, waiter=waiter)


def session_settings(cfg: DatabaseConfig) -> dict[str, str]:
    """What every pooled session starts with (PostgreSQL's units: milliseconds)."""
    return {
        "statement_timeout": _ms(cfg.statement_timeout_s),
        "idle_in_transaction_session_timeout": _ms(cfg.idle_in_transaction_timeout_s),
    }


def _ms(seconds: float) -> str:
    return str(max(1, round(seconds * 1000)))


async def create_pool(dsn: str, cfg: DatabaseConfig | None = None, **kw: Any) -> BoundedPool:
    cfg = cfg or DatabaseConfig()
    server_settings = {**session_settings(cfg), **kw.pop("server_settings", {})}
    pool = BoundedPool(
        dsn,
        min_size=kw.pop("min_size", cfg.pool_min),
        max_size=kw.pop("max_size", cfg.pool_max),
        max_queries=50000,
        max_inactive_connection_lifetime=300.0,
        loop=None,
        connection_class=asyncpg.Connection,
        record_class=asyncpg.Record,
        setup=None,
        init=init_connection,
        server_settings=server_settings,
        acquire_timeout_s=kw.pop("acquire_timeout_s", cfg.acquire_timeout_s),
        log_every_s=cfg.outage_log_every_s,
        **kw,
    )
    try:
        await pool
    except (OSError, asyncpg.PostgresError) as exc:
        raise ConfigError(f"cannot connect to PostgreSQL at {redact_dsn(dsn)}: {exc}") from exc
    return pool


async def allow_long_statements(conn: asyncpg.Connection, timeout_s: float) -> None:
    """Inside a transaction: let its statements run up to ``timeout_s`` seconds each
    (``database.long_statement_timeout_s``) instead of the session's
    ``statement_timeout``; the transaction's end restores it (``SET LOCAL``)."""
    await conn.execute(q("set_local_statement_timeout"), _ms(timeout_s))


async def set_session_statement_timeout(conn: asyncpg.Connection, timeout_s: float) -> None:
    """For work outside one transaction (the migrations, each in its own, and the lock they
    wait for): this session's ``statement_timeout`` until ``reset_session_statement_timeout``
    (or the connection's return to the pool, which resets every setting)."""
    await conn.execute(q("set_session_statement_timeout"), _ms(timeout_s))


async def reset_session_statement_timeout(conn: asyncpg.Connection) -> None:
    await conn.execute(q("reset_session_statement_timeout"))


def is_statement_timeout(exc: BaseException) -> bool:
    """PostgreSQL cancelled a statement that ran past ``statement_timeout``."""
    return isinstance(exc, asyncpg.QueryCanceledError) and "statement timeout" in str(exc)


def describe_database_error(exc: BaseException) -> str:
    """One line for an operator: a statement timeout names the setting that cut it off."""
    if is_statement_timeout(exc):
        return (
            f"a statement ran past database.statement_timeout_s and PostgreSQL cancelled it "
            f"({type(exc).__name__}: {exc})"
        )
    return f"{type(exc).__name__}: {exc}"


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
