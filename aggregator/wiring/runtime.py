"""Open everything a command or the daemon needs, and close it again."""

from __future__ import annotations

import contextlib
import ssl
from collections.abc import AsyncIterator

import aiohttp
import structlog

from aggregator.crypto import Crypto
from aggregator.errors import ConfigError
from aggregator.storage.db import open_database
from aggregator.storage.migrate import migrate, pending
from aggregator.wiring.services import Services, process_owner
from schemas.config import Settings

log = structlog.get_logger(__name__)


def http_session(settings: Settings) -> aiohttp.ClientSession:
    """The one shared client session: pooled, with timeouts and TLS from configuration."""
    cfg = settings.lapor
    ssl_ctx: ssl.SSLContext | bool = True
    if not cfg.verify_tls:
        ssl_ctx = False
    elif cfg.ca_file:
        ssl_ctx = ssl.create_default_context(cafile=str(cfg.ca_file))
    connector = aiohttp.TCPConnector(limit=cfg.max_connections, ssl=ssl_ctx)
    timeout = aiohttp.ClientTimeout(total=cfg.timeout_s, sock_connect=cfg.connect_timeout_s)
    return aiohttp.ClientSession(connector=connector, timeout=timeout)


@contextlib.asynccontextmanager
async def open_services(
    settings: Settings,
    *,
    run_migrations: bool | None = None,
    require_migrated: bool = True,
    wait_for_database: bool = False,
) -> AsyncIterator[Services]:
    from aggregator.queue import JobQueue

    crypto = Crypto.from_config(settings.crypto, demo=settings.demo)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    async with open_database(settings.database, settings.data_dir, wait=wait_for_database) as (
        _dsn,
        pool,
    ):
        do_migrate = (
            settings.database.migrate_on_start if run_migrations is None else run_migrations
        )
        async with pool.acquire() as conn:
            if do_migrate:
                await migrate(conn, statement_timeout_s=settings.database.long_statement_timeout_s)
            elif require_migrated and (todo := await pending(conn)):
                raise ConfigError(
                    f"the database needs {len(todo)} migration(s); run `satukanal migrate` first"
                )
        owner = process_owner()
        async with http_session(settings) as http:
            services = Services(
                settings=settings,
                pool=pool,
                http=http,
                crypto=crypto,
                queue=JobQueue(pool, settings.queue, owner=owner),
                owner=owner,
                dsn=_dsn,
            )
            try:
                yield services
            finally:
                await services.queue.aclose()  # a held-back NOTIFY goes out before the pool closes
