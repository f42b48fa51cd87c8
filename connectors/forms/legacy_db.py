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

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence
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


class StatementTimeout(TransientError):
    """A statement did not finish in time; it was cancelled and may be retried."""


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
        raise ConfigError(
            f"form database URL must start with mysql:// or postgresql:// "
            f"(got {parts.scheme or 'nothing'}://)"
        )
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
    """A small pool of connections to the form database.

    Every statement runs on a connection of its own for its duration (``fetch``/``execute``
    acquire one and give it back), so concurrent callers (write-back jobs of different
    complaints, a re-scan) never share a cursor: the result a caller reads is always the
    answer to its own statement. A statement that does not finish within
    ``statement_timeout_s`` is cancelled (its connection closed and, on MySQL, the server
    thread's query killed) and raises ``TransientError``; nothing waits on it forever.
    """

    def __init__(
        self,
        url: str,
        charset: str = "latin1",
        *,
        read_only: bool = True,
        pool_size: int = 4,
        statement_timeout_s: float = 30.0,
    ) -> None:
        self.url = parse_url(url)
        self.raw_url = url  # asyncpg understands every libpq form (sockets, ?host=) itself
        self.dialect = self.url.scheme
        self.charset = charset
        self.read_only = read_only
        self.pool_size = max(1, pool_size)
        self.statement_timeout_s = statement_timeout_s
        self._pools: dict[str, Any] = {}  # one per connection charset (MySQL); pg: one
        self.charsets: dict[str, str] = {}  # table -> connection charset (detect_charsets)
        self._lock = asyncio.Lock()

    # -- SQL building ------------------------------------------------------------------
    def ident(self, name: str) -> str:
        return f"`{name}`" if self.dialect == "mysql" else f'"{name}"'

    def ph(self, n: int) -> str:
        """Placeholder for the n-th (1-based) parameter."""
        return "%s" if self.dialect == "mysql" else f"${n}"

    def phs(self, start: int, count: int) -> str:
        return ", ".join(self.ph(start + i) for i in range(count))

    # -- connections -------------------------------------------------------------------
    def _mysql_kwargs(self, charset: str | None = None) -> dict[str, Any]:
        u = self.url
        # Row locks held by the old admin (or another writer) must not block a statement
        # longer than our own timeout; the server gives up first and says so (1205).
        lock_wait = max(1, int(self.statement_timeout_s))
        init = f"SET SESSION innodb_lock_wait_timeout = {lock_wait}"
        if self.read_only:  # one statement only: MariaDB has no combined form of the two
            init = "SET SESSION TRANSACTION READ ONLY"
        return dict(
            host=u.host,
            port=u.port,
            user=u.user,
            password=u.password,
            database=u.database,
            charset=charset or self.charset,
            use_unicode=False,
            autocommit=True,
            connect_timeout=10,
            init_command=init,
        )

    async def connect(self, charset: str | None = None) -> Any:
        """The pool for connections in ``charset`` (default: the source's), created on first
        use. A table is read and written through a connection in its own charset, so the
        server hands its bytes over unconverted."""
        cs = (charset or self.charset) if self.dialect == "mysql" else ""
        if cs in self._pools:
            return self._pools[cs]
        async with self._lock:
            if cs in self._pools:
                return self._pools[cs]
            try:
                if self.dialect == "mysql":
                    import asyncmy

                    pool = await asyncmy.create_pool(
                        minsize=0,
                        maxsize=self.pool_size,
                        pool_recycle=300,
                        **self._mysql_kwargs(cs),
                    )
                else:
                    import asyncpg

                    async def init(conn: Any) -> None:
                        for typ in ("text", "varchar", "bpchar"):
                            await conn.set_type_codec(
                                typ,
                                schema="pg_catalog",
                                format="binary",
                                decoder=bytes,
                                encoder=lambda v: v.encode() if isinstance(v, str) else bytes(v),
                            )

                    pool = await asyncpg.create_pool(
                        self.raw_url,
                        min_size=0,
                        max_size=self.pool_size,
                        timeout=10,
                        init=init,
                        server_settings={"default_transaction_read_only": "on"}
                        if self.read_only
                        else {},
                    )
                    async with pool.acquire():  # fail here (auth, unknown database), not later
                        pass
            except Exception as exc:
                raise self.map_error(exc, "connect") from exc
            if self.dialect == "mysql":
                try:  # fail here (auth, unknown database), not on the first statement
                    conn = await pool.acquire()
                except Exception as exc:
                    pool.close()
                    await pool.wait_closed()
                    raise self.map_error(exc, "connect") from exc
                pool.release(conn)
            self._pools[cs] = pool
            return pool

    async def close(self) -> None:
        pools, self._pools = list(self._pools.values()), {}
        for pool in pools:
            with contextlib.suppress(Exception):
                if self.dialect == "mysql":
                    pool.close()
                    await pool.wait_closed()
                else:
                    await pool.close()

    @contextlib.asynccontextmanager
    async def _conn(self, doing: str, charset: str | None = None) -> AsyncIterator[Any]:
        """One connection for one statement; closed instead of reused after any failure."""
        pool = await self.connect(charset)
        try:
            async with asyncio.timeout(self.statement_timeout_s):
                conn = await pool.acquire()
        except Exception as exc:
            raise self.map_error(exc, "connect") from exc
        broken = True
        try:
            yield conn
            broken = False
        finally:
            if self.dialect == "mysql":
                if broken:
                    conn.close()
                pool.release(conn)
            else:
                if broken:
                    conn.terminate()
                await pool.release(conn)

    async def _timed(self, conn: Any, doing: str, work: Any) -> Any:
        try:
            async with asyncio.timeout(self.statement_timeout_s):
                return await work
        except TimeoutError as exc:
            if self.dialect == "mysql":
                await self._kill_query(conn)
            raise StatementTimeout(
                f"form database {doing} did not finish within {self.statement_timeout_s:g} s "
                "(statement cancelled; it will be retried)"
            ) from exc

    async def _kill_query(self, conn: Any) -> None:
        """Stop the server-side statement of a connection we gave up on (it may hold or wait
        for locks); best effort on a separate short-lived connection."""
        with contextlib.suppress(Exception):
            import asyncmy

            tid = conn.thread_id()
            killer = await asyncio.wait_for(
                asyncmy.connect(**{**self._mysql_kwargs(), "init_command": None}), 5
            )
            try:
                async with killer.cursor() as cur:
                    await asyncio.wait_for(cur.execute(f"KILL QUERY {int(tid)}"), 5)
            finally:
                killer.close()

    async def fetch(
        self, sql: str, params: Sequence[Any] = (), *, charset: str | None = None
    ) -> list[dict[str, Any]]:
        """Rows of one SELECT. Empty only when the statement ran and found nothing; any
        failure raises (never an empty list)."""
        try:
            async with self._conn("read", charset) as conn:
                if self.dialect == "mysql":
                    async with conn.cursor() as cur:
                        await self._timed(conn, "read", cur.execute(sql, tuple(params)))
                        if cur.description is None:
                            raise TransientError("form database read returned no result set")
                        names = [d[0] for d in cur.description]
                        names = [n.decode() if isinstance(n, bytes) else n for n in names]
                        got = await self._timed(conn, "read", cur.fetchall())
                        return [dict(zip(names, r, strict=True)) for r in got or ()]
                return [dict(r) for r in await self._timed(conn, "read", conn.fetch(sql, *params))]
        except Exception as exc:
            raise self.map_error(exc, "read") from exc

    async def execute(
        self, sql: str, params: Sequence[Any] = (), *, charset: str | None = None
    ) -> int:
        """Rows affected by one statement."""
        try:
            async with self._conn("write", charset) as conn:
                if self.dialect == "mysql":
                    async with conn.cursor() as cur:
                        n: int = await self._timed(conn, "write", cur.execute(sql, tuple(params)))
                        return n
                status: str = await self._timed(conn, "write", conn.execute(sql, *params))
                return int(status.rsplit(" ", 1)[-1]) if status[-1:].isdigit() else 0
        except Exception as exc:
            raise self.map_error(exc, "write") from exc

    async def detect_charsets(
        self, tables: Sequence[str], configured: dict[str, str] | None = None
    ) -> dict[str, str]:
        """The connection charset for each table: configured, else what the server reports,
        else the source's ``charset``. Remembered for ``charset_of``."""
        configured = configured or {}
        unknown = [t for t in dict.fromkeys(tables) if t not in configured]
        found = await self.table_charsets(unknown) if unknown else {}
        out = {
            t: configured.get(t) or _connection_charset(found.get(t)) or self.charset
            for t in dict.fromkeys(tables)
        }
        self.charsets = out
        return out

    def charset_of(self, table: str | None) -> str | None:
        return self.charsets.get(table) if table else None

    async def table_charsets(self, tables: Sequence[str]) -> dict[str, str]:
        """Each table's default charset as the server reports it (MySQL/MariaDB
        ``information_schema``); empty for PostgreSQL (text arrives as the database's
        encoding, decoded by the server) or when the server does not say."""
        if self.dialect != "mysql" or not tables:
            return {}
        rows = await self.fetch(
            "SELECT t.TABLE_NAME AS t, c.CHARACTER_SET_NAME AS cs "
            "FROM information_schema.TABLES t JOIN information_schema.COLLATION_CHARACTER_SET_"
            "APPLICABILITY c ON c.COLLATION_NAME = t.TABLE_COLLATION "
            f"WHERE t.TABLE_SCHEMA = DATABASE() AND t.TABLE_NAME IN ({self.phs(1, len(tables))})",
            list(tables),
        )
        out: dict[str, str] = {}
        for r in rows:
            name = r["t"].decode() if isinstance(r["t"], bytes) else str(r["t"])
            cs = r["cs"].decode() if isinstance(r["cs"], bytes) else str(r["cs"] or "")
            if cs:
                out[name] = cs
        return out

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
                    "disable write_back",
                    details={"code": code},
                )
            if code in _MY_CONFIG:
                return ConfigError(text)
            if code == 1205:  # lock wait timeout: the server gave up on our statement
                return StatementTimeout(text)
            if code in (1406, 1366):  # data too long / bad value for the column: never fits
                return PermanentError(
                    f"{text} (the old table's column cannot hold it)", details={"code": code}
                )
            return TransientError(text)
        import asyncpg

        if isinstance(
            exc, asyncpg.InvalidAuthorizationSpecificationError | asyncpg.InvalidPasswordError
        ):
            return AuthError(text)
        if isinstance(
            exc, asyncpg.InsufficientPrivilegeError | asyncpg.ReadOnlySQLTransactionError
        ):
            return PermanentError(
                f"form database user may not {doing} ({exc}); grant the "
                "privilege or disable write_back"
            )
        if isinstance(
            exc,
            asyncpg.UndefinedTableError
            | asyncpg.UndefinedColumnError
            | asyncpg.PostgresSyntaxError
            | asyncpg.InvalidCatalogNameError,
        ):
            return ConfigError(text)
        return TransientError(text)


def _connection_charset(table_charset: str | None) -> str | None:
    """The charset to read a table of ``table_charset`` through without conversion."""
    if not table_charset:
        return None
    cs = table_charset.lower()
    if cs in ("utf8", "utf8mb3", "utf8mb4"):
        return "utf8mb4"  # a superset of utf8mb3: its bytes come across unchanged
    return cs


def _error_code(exc: Exception) -> int | None:
    args = getattr(exc, "args", ())
    if args and isinstance(args[0], int):
        return args[0]
    return None
