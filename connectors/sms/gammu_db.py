"""Access to a Gammu SMSD database, PostgreSQL (asyncpg) or MySQL/MariaDB (asyncmy).

The two backends offer the same small set of calls; the SQL for each lives next to this
module as named blocks (``gammu_pgsql.sql``, ``gammu_mysql.sql``). This is the *legacy*
database of the SMS gateway, not ours, so it is reached here rather than through
``aggregator/storage``. Library errors become ``AuthError`` / ``TransientError`` /
``ConfigError`` at this boundary.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Sequence
from functools import cache
from importlib.resources import files
from typing import Any, Protocol
from urllib.parse import unquote, urlsplit

import asyncpg

from connectors.base.errors import AuthError, ConfigError, TransientError
from connectors.base.sqlfiles import parse_blocks

# Every use of Gammu's database is bounded: a connection from our small pool within
# _ACQUIRE_S (the source's poll and the sink's sends share it), each statement within
# _STATEMENT_S (Gammu's statements touch a few rows; a hung server must not hang a poll).
_ACQUIRE_S = 10.0
_STATEMENT_S = 30.0

INBOX_COLUMNS = (
    "ID",
    "ReceivingDateTime",
    "Text",
    "SenderNumber",
    "Coding",
    "UDH",
    "SMSCNumber",
    "Class",
    "TextDecoded",
    "RecipientID",
)
# Far-future send time that parks a MySQL outbox row until all its parts are written.
PARKED = dt.datetime(2037, 12, 31)  # TIMESTAMP ends in January 2038


@cache
def _sql(dialect: str) -> dict[str, str]:
    name = f"gammu_{dialect}.sql"
    return parse_blocks(files("connectors.sms").joinpath(name).read_text("utf-8"), name)


class GammuDb(Protocol):
    dialect: str

    async def version(self) -> int: ...
    async def fetch_new(self, after_id: int, limit: int) -> list[dict[str, Any]]: ...
    async def fetch_unacked(self, lo: int, hi: int, limit: int) -> list[dict[str, Any]]: ...
    async def fetch_ids(self, ids: Sequence[int]) -> list[dict[str, Any]]: ...
    async def mark_processed(self, ids: Sequence[int]) -> int: ...
    async def find_sent(self, creator_id: str) -> list[dict[str, Any]]: ...
    async def find_outbox(self, creator_id: str) -> list[dict[str, Any]]: ...
    async def queue_message(
        self,
        *,
        number: str,
        coding: str,
        parts: Sequence[tuple[str, str | None]],
        creator_id: str,
        sender_id: str | None,
        delivery_report: str,
    ) -> int: ...
    async def discard_parked(self, outbox_id: int) -> None: ...
    async def close(self) -> None: ...


def _row(record: Any) -> dict[str, Any]:
    return {k: record[k] for k in INBOX_COLUMNS if k in record}


class PgGammuDb:
    dialect = "pgsql"

    def __init__(self, dsn: str) -> None:
        self._dsn = dsn
        self._pool: asyncpg.Pool | None = None

    async def _p(self) -> asyncpg.Pool:
        if self._pool is None:
            try:
                self._pool = await asyncpg.create_pool(
                    self._dsn, min_size=1, max_size=3, timeout=10, command_timeout=_STATEMENT_S
                )
            except (
                asyncpg.InvalidPasswordError,
                asyncpg.InvalidAuthorizationSpecificationError,
            ) as exc:
                raise AuthError(f"Gammu database refused the login: {exc}") from exc
            except asyncpg.InvalidCatalogNameError as exc:
                raise ConfigError(f"Gammu database does not exist: {exc}") from exc
            except (OSError, asyncpg.PostgresError) as exc:
                raise TransientError(f"Gammu database unreachable: {exc}") from exc
        return self._pool

    async def _fetch(self, name: str, *args: Any) -> list[asyncpg.Record]:
        pool = await self._p()
        try:
            async with pool.acquire(timeout=_ACQUIRE_S) as conn:
                return await conn.fetch(_sql("pgsql")[name], *args)
        except asyncpg.UndefinedTableError as exc:
            raise ConfigError(f"not a Gammu SMSD database: {exc}") from exc
        except (OSError, asyncpg.PostgresConnectionError, asyncpg.InterfaceError) as exc:
            raise TransientError(f"Gammu database: {exc}") from exc

    async def version(self) -> int:
        rows = await self._fetch("gammu_version")
        return int(rows[0]["Version"]) if rows else 0

    async def fetch_new(self, after_id: int, limit: int) -> list[dict[str, Any]]:
        return [_row(r) for r in await self._fetch("gammu_fetch_new", after_id, limit)]

    async def fetch_unacked(self, lo: int, hi: int, limit: int) -> list[dict[str, Any]]:
        return [_row(r) for r in await self._fetch("gammu_fetch_unacked", lo, hi, limit)]

    async def fetch_ids(self, ids: Sequence[int]) -> list[dict[str, Any]]:
        if not ids:
            return []
        return [_row(r) for r in await self._fetch("gammu_fetch_ids", list(ids))]

    async def mark_processed(self, ids: Sequence[int]) -> int:
        if not ids:
            return 0
        pool = await self._p()
        try:
            async with pool.acquire(timeout=_ACQUIRE_S) as conn:
                status = await conn.execute(_sql("pgsql")["gammu_mark_processed"], list(ids))
        except (OSError, asyncpg.PostgresError) as exc:
            raise TransientError(f"Gammu database: {exc}") from exc
        return int(status.split()[-1])

    async def find_sent(self, creator_id: str) -> list[dict[str, Any]]:
        return [dict(r) for r in await self._fetch("gammu_find_sent", creator_id)]

    async def find_outbox(self, creator_id: str) -> list[dict[str, Any]]:
        return [dict(r) for r in await self._fetch("gammu_find_outbox", creator_id)]

    async def queue_message(
        self,
        *,
        number: str,
        coding: str,
        parts: Sequence[tuple[str, str | None]],
        creator_id: str,
        sender_id: str | None,
        delivery_report: str,
    ) -> int:
        sql = _sql("pgsql")
        pool = await self._p()
        try:
            async with pool.acquire(timeout=_ACQUIRE_S) as conn, conn.transaction():
                first_text, first_udh = parts[0]
                oid: int = await conn.fetchval(
                    sql["gammu_insert_outbox"],
                    number,
                    first_text,
                    coding,
                    first_udh,
                    len(parts) > 1,
                    creator_id,
                    sender_id,
                    delivery_report,
                )
                for seq, (text, udh) in enumerate(parts[1:], start=2):
                    await conn.execute(sql["gammu_insert_outbox_part"], oid, seq, text, coding, udh)
        except (OSError, asyncpg.PostgresError) as exc:
            raise TransientError(f"Gammu outbox insert failed: {exc}") from exc
        return oid

    async def discard_parked(self, outbox_id: int) -> None:  # transactions: never parked
        return None

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None


class MyGammuDb:
    dialect = "mysql"

    def __init__(self, dsn: str) -> None:
        parts = urlsplit(dsn)
        if parts.scheme not in {"mysql", "mariadb"}:
            raise ConfigError("a MySQL Gammu DSN looks like mysql://user:password@host:3306/smsd")
        self._kw: dict[str, Any] = {
            "host": parts.hostname or "127.0.0.1",
            "port": parts.port or 3306,
            "user": unquote(parts.username or "root"),
            "password": unquote(parts.password or ""),
            "db": parts.path.lstrip("/"),
        }
        self._pool: Any = None

    async def _p(self) -> Any:
        import asyncmy
        from asyncmy.errors import OperationalError

        if self._pool is None:
            try:
                self._pool = await asyncmy.create_pool(
                    minsize=1,
                    maxsize=3,
                    autocommit=True,
                    charset="utf8mb4",
                    connect_timeout=10,
                    read_timeout=_STATEMENT_S,
                    **self._kw,
                )
            except OperationalError as exc:
                code = exc.args[0] if exc.args else 0
                if code in (1044, 1045):
                    raise AuthError(f"Gammu database refused the login: {exc}") from exc
                if code == 1049:
                    raise ConfigError(f"Gammu database does not exist: {exc}") from exc
                raise TransientError(f"Gammu database unreachable: {exc}") from exc
            except OSError as exc:
                raise TransientError(f"Gammu database unreachable: {exc}") from exc
        return self._pool

    async def _run(
        self,
        name: str,
        args: Sequence[Any] = (),
        *,
        ids: Sequence[int] | None = None,
        fetch: bool = True,
    ) -> tuple[list[dict[str, Any]], int, int]:
        from asyncmy.cursors import DictCursor
        from asyncmy.errors import MySQLError, ProgrammingError

        sql = _sql("mysql")[name]
        if ids is not None:
            sql = sql.replace("/*ids*/", ", ".join(["%s"] * len(ids)))
            args = [*args, *ids]
        pool = await self._p()
        try:
            async with asyncio.timeout(_ACQUIRE_S):
                conn = await pool.acquire()
        except TimeoutError as exc:
            raise TransientError(f"Gammu database: no connection within {_ACQUIRE_S:g} s") from exc
        except (MySQLError, OSError) as exc:
            raise TransientError(f"Gammu database: {exc}") from exc
        try:
            async with conn.cursor(DictCursor) as cur:
                n = await cur.execute(sql, list(args))
                rows = list(await cur.fetchall()) if fetch else []
                return rows, int(n or 0), int(cur.lastrowid or 0)
        except ProgrammingError as exc:
            raise ConfigError(f"not a Gammu SMSD database: {exc}") from exc
        except (MySQLError, OSError) as exc:
            raise TransientError(f"Gammu database: {exc}") from exc
        finally:
            pool.release(conn)

    async def version(self) -> int:
        rows, _, _ = await self._run("gammu_version")
        return int(rows[0]["Version"]) if rows else 0

    async def fetch_new(self, after_id: int, limit: int) -> list[dict[str, Any]]:
        return (await self._run("gammu_fetch_new", (after_id, limit)))[0]

    async def fetch_unacked(self, lo: int, hi: int, limit: int) -> list[dict[str, Any]]:
        return (await self._run("gammu_fetch_unacked", (lo, hi, limit)))[0]

    async def fetch_ids(self, ids: Sequence[int]) -> list[dict[str, Any]]:
        if not ids:
            return []
        return (await self._run("gammu_fetch_ids", ids=list(ids)))[0]

    async def mark_processed(self, ids: Sequence[int]) -> int:
        if not ids:
            return 0
        return (await self._run("gammu_mark_processed", ids=list(ids), fetch=False))[1]

    async def find_sent(self, creator_id: str) -> list[dict[str, Any]]:
        return (await self._run("gammu_find_sent", (creator_id,)))[0]

    async def find_outbox(self, creator_id: str) -> list[dict[str, Any]]:
        return (await self._run("gammu_find_outbox", (creator_id,)))[0]

    async def queue_message(
        self,
        *,
        number: str,
        coding: str,
        parts: Sequence[tuple[str, str | None]],
        creator_id: str,
        sender_id: str | None,
        delivery_report: str,
    ) -> int:
        first_text, first_udh = parts[0]
        multi = len(parts) > 1
        _, _, oid = await self._run(
            "gammu_insert_outbox",
            (
                number,
                first_text,
                coding,
                first_udh,
                "true" if multi else "false",
                creator_id,
                sender_id,
                delivery_report,
                PARKED,
            ),
            fetch=False,
        )
        for seq, (text, udh) in enumerate(parts[1:], start=2):
            await self._run("gammu_insert_outbox_part", (oid, seq, text, coding, udh), fetch=False)
        # Released with the server's own clock, which is the one gammu-smsd compares with.
        await self._run("gammu_release_outbox", (oid,), fetch=False)
        return oid

    async def discard_parked(self, outbox_id: int) -> None:
        await self._run("gammu_delete_outbox_parts", (outbox_id,), fetch=False)
        await self._run("gammu_delete_outbox", (outbox_id,), fetch=False)

    async def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
            await self._pool.wait_closed()
            self._pool = None


def open_gammu_db(driver: str, dsn: str) -> GammuDb:
    if driver == "pgsql":
        return PgGammuDb(dsn)
    if driver == "mysql":
        return MyGammuDb(dsn)
    raise ConfigError(f"unknown Gammu database driver {driver!r}; use 'pgsql' or 'mysql'")
