"""A small adapter over the *legacy* form database: MySQL/MariaDB (asyncmy) or PostgreSQL
(asyncpg), returning text columns as bytes.

Table and column names come from configuration, so SQL here is assembled from identifiers
that ``options.check_ident`` has already restricted to ``[A-Za-z_][A-Za-z0-9_]*`` and that
are quoted per dialect; values are always bound parameters.

Reading bytes matters: on MySQL a connection in the *table's* charset (latin1) makes the
server send the stored bytes untouched, and ``use_unicode=False`` stops the driver decoding
them; on PostgreSQL a binary codec on the text types does the same.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

import structlog

from connectors.base.errors import AuthError, ConfigError, PermanentError, TransientError

log = structlog.get_logger(__name__)

# MySQL error numbers sorted by what to do next.
_MY_AUTH = {1044, 1045, 1698}
_MY_DENIED = {1142, 1143, 1227, 1290, 1792}  # command denied, read-only (transaction/server)
_MY_CONFIG = {1049, 1054, 1146, 1064}  # unknown database/column/table, syntax
_MY_TRANSIENT = {1040, 1205, 1213, 2002, 2003, 2006, 2013, 2055}


@dataclass(frozen=True)
class DbUrl:
    scheme: str
    host: str
    port: int
    user: str
    password: str
    database: str


def parse_url(raw: str) -> DbUrl:
    parts = urlsplit(raw)
    scheme = "postgresql" if parts.scheme in ("postgres", "postgresql") else parts.scheme
    if scheme not in ("mysql", "mariadb", "postgresql"):
        raise ConfigError(f"form database URL must start with mysql:// or postgresql:// "
                          f"(got {parts.scheme or 'nothing'}://)")
    scheme = "mysql" if scheme == "mariadb" else scheme
    return DbUrl(
        scheme=scheme,
        host=parts.hostname or "127.0.0.1",
        port=parts.port or (3306 if scheme == "mysql" else 5432),
        user=unquote(parts.username or ("root" if scheme == "mysql" else "postgres")),
        password=unquote(parts.password or ""),
        database=parts.path.lstrip("/"),
    )


class LegacyDb:
    """One connection to the form database; reconnects after a failure."""

    def __init__(self, url: str, charset: str = "latin1", *, read_only: bool = True) -> None:
        self.url = parse_url(url)
        self.raw_url = url  # asyncpg understands every libpq form (sockets, ?host=) itself
        self.dialect = self.url.scheme
        self.charset = charset
        self.read_only = read_only
        self._conn: Any = None

    # -- SQL building ------------------------------------------------------------------
    def ident(self, name: str) -> str:
        return f"`{name}`" if self.dialect == "mysql" else f'"{name}"'

    def ph(self, n: int) -> str:
        """Placeholder for the n-th (1-based) parameter."""
        return "%s" if self.dialect == "mysql" else f"${n}"

    def phs(self, start: int, count: int) -> str:
        return ", ".join(self.ph(start + i) for i in range(count))

    # -- connection --------------------------------------------------------------------
    async def connect(self) -> Any:
        if self._conn is not None:
            return self._conn
        u = self.url
        try:
            if self.dialect == "mysql":
                import asyncmy

                conn = await asyncmy.connect(
                    host=u.host, port=u.port, user=u.user, password=u.password,
                    database=u.database, charset=self.charset, use_unicode=False,
                    autocommit=True, connect_timeout=10)
                if self.read_only:
                    async with conn.cursor() as cur:
                        await cur.execute("SET SESSION TRANSACTION READ ONLY")
            else:
                import asyncpg

                conn = await asyncpg.connect(
                    self.raw_url, timeout=10,
                    server_settings={"default_transaction_read_only": "on"}
                    if self.read_only else {})
                for typ in ("text", "varchar", "bpchar"):
                    await conn.set_type_codec(
                        typ, schema="pg_catalog", format="binary", decoder=bytes,
                        encoder=lambda v: v.encode() if isinstance(v, str) else bytes(v))
        except Exception as exc:
            raise self.map_error(exc, "connect") from exc
        self._conn = conn
        return conn

    async def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        with contextlib.suppress(Exception):
            if self.dialect == "mysql":
                conn.close()
                await conn.ensure_closed()
            else:
                await conn.close()

    async def fetch(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        conn = await self.connect()
        try:
            if self.dialect == "mysql":
                async with conn.cursor() as cur:
                    await cur.execute(sql, tuple(params))
                    names = [d[0] for d in cur.description or ()]
                    names = [n.decode() if isinstance(n, bytes) else n for n in names]
                    return [dict(zip(names, r, strict=True)) for r in await cur.fetchall()]
            return [dict(r) for r in await conn.fetch(sql, *params)]
        except Exception as exc:
            await self._drop_if_broken(exc)
            raise self.map_error(exc, "read") from exc

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        conn = await self.connect()
        try:
            if self.dialect == "mysql":
                async with conn.cursor() as cur:
                    n: int = await cur.execute(sql, tuple(params))
                    return n
            status: str = await conn.execute(sql, *params)
            return int(status.rsplit(" ", 1)[-1]) if status[-1:].isdigit() else 0
        except Exception as exc:
            await self._drop_if_broken(exc)
            raise self.map_error(exc, "write") from exc

    async def _drop_if_broken(self, exc: Exception) -> None:
        if isinstance(self.map_error(exc, ""), TransientError):
            await self.close()

    def map_error(self, exc: Exception, doing: str) -> Exception:
        """Library error → what to do next (one place for both drivers)."""
        if isinstance(exc, AuthError | ConfigError | PermanentError | TransientError):
            return exc
        code = _error_code(exc)
        text = f"form database {doing} failed: {exc}"
        if self.dialect == "mysql":
            if code in _MY_AUTH:
                return AuthError(text)
            if code in _MY_DENIED:
                return PermanentError(
                    f"form database user may not {doing} ({exc}); grant the privilege or "
                    "disable write_back", details={"code": code})
            if code in _MY_CONFIG:
                return ConfigError(text)
            if code in _MY_TRANSIENT or isinstance(exc, OSError | TimeoutError):
                return TransientError(text)
            return TransientError(text)
        import asyncpg

        if isinstance(exc, asyncpg.InvalidAuthorizationSpecificationError |
                      asyncpg.InvalidPasswordError):
            return AuthError(text)
        if isinstance(exc, asyncpg.InsufficientPrivilegeError |
                      asyncpg.ReadOnlySQLTransactionError):
            return PermanentError(f"form database user may not {doing} ({exc}); grant the "
                                  "privilege or disable write_back")
        if isinstance(exc, asyncpg.UndefinedTableError | asyncpg.UndefinedColumnError |
                      asyncpg.PostgresSyntaxError | asyncpg.InvalidCatalogNameError):
            return ConfigError(text)
        return TransientError(text)


def _error_code(exc: Exception) -> int | None:
    args = getattr(exc, "args", ())
    if args and isinstance(args[0], int):
        return args[0]
    return None
