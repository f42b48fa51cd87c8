"""``config check --connect``: try every connection the configuration names, change nothing.

The database (and whether it needs migrations), the LAPOR! token (by listing the agencies
the account may see), and for each enabled channel the source's own ``check()`` (IMAP login,
the Gammu or form database) and its reply path's ``check()`` where it has one (SMTP login,
Kannel's sendsms login). Nothing is sent, written or acknowledged.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import aiohttp
import asyncpg

from aggregator.errors import AuthError, SatukanalError
from aggregator.wiring.settings import show_url
from connectors.base import CheckableSink, Source
from schemas.config import Settings, SourceConfig

if TYPE_CHECKING:
    from aggregator.wiring.services import Services

PROBE_TIMEOUT_S = 20.0


@dataclass(frozen=True)
class ProbeResult:
    name: str  # "database", "LAPOR!", "source email-pengaduan (imap)", …
    ok: bool | None  # None: nothing to try (the sandbox, a push-only channel)
    detail: str


async def probe_all(settings: Settings) -> list[ProbeResult]:
    from aggregator.wiring.runtime import http_session

    results = [await _timed("database", lambda: probe_database(settings))]
    async with http_session(settings) as http:
        services = _probe_services(settings, http)
        results.append(await _timed("LAPOR!", lambda: probe_lapor(settings, http)))
        for cfg in settings.sources:
            if cfg.enabled:
                results += await probe_source(cfg, services)
    return results


async def _timed(name: str, probe: Callable[[], Awaitable[ProbeResult]]) -> ProbeResult:
    try:
        return await asyncio.wait_for(probe(), PROBE_TIMEOUT_S)
    except TimeoutError:
        return ProbeResult(name, False, f"no answer within {PROBE_TIMEOUT_S:.0f} s")
    except Exception as exc:  # a probe reports every failure; it never stops the others
        return ProbeResult(name, False, reason(exc))


def reason(exc: BaseException) -> str:
    """Why a connection failed, in words: our own errors are written for administrators;
    a library's is named with its type."""
    if isinstance(exc, SatukanalError):
        return str(exc)
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


async def probe_database(settings: Settings) -> ProbeResult:
    from aggregator.storage.db import server_version, session_settings
    from aggregator.storage.migrate import pending

    url = settings.database.url.get_secret_value() if settings.database.url else ""
    if not url:
        return ProbeResult(
            "database",
            None,
            (
                f"embedded PostgreSQL in {settings.data_dir / 'pg'}: started by the daemon, "
                "not tried here"
            ),
        )
    name = f"database {show_url(url)}"
    try:
        # The session the daemon's pool opens, timeouts included: the server must take them.
        conn = await asyncpg.connect(
            url, timeout=10, server_settings=session_settings(settings.database)
        )
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        return ProbeResult(name, False, reason(exc))
    try:
        version = await server_version(conn)
        todo = await pending(conn)
    finally:
        await conn.close()
    state = (
        "schema up to date"
        if not todo
        else f"{len(todo)} migration(s) to apply: run `satukanal migrate`"
    )
    return ProbeResult(name, True, f"PostgreSQL {version}; {state}")


async def probe_lapor(settings: Settings, http: aiohttp.ClientSession) -> ProbeResult:
    cfg = settings.lapor
    if cfg.sandbox:
        return ProbeResult("LAPOR!", None, "the built-in sandbox (started by the daemon)")
    if cfg.adapter == "manual":
        return ProbeResult("LAPOR!", None, "manual adapter: operators re-type into LAPOR!")
    if cfg.adapter == "xml-legacy":
        return ProbeResult(
            "LAPOR!",
            None,
            ("the legacy XML interface has no read-only call to try; the first report shows"),
        )
    from aggregator.lapor.http import HttpLaporAdapter

    adapter = HttpLaporAdapter(cfg, http)
    name = f"LAPOR! {adapter.base}"
    try:
        agencies = await adapter.agencies()
    except AuthError as exc:
        return ProbeResult(name, False, (f"LAPOR! refused lapor.client_id/client_secret: {exc}"))
    ids = {a.id for a in agencies}
    detail = f"token accepted; the account sees {len(agencies)} agencies"
    unknown = sorted(v for v in settings.agencies.values() if ids and v not in ids)
    if unknown:
        detail += f"; [agencies] ids LAPOR! does not list: {', '.join(unknown)}"
    return ProbeResult(name, True, detail)


async def probe_source(cfg: SourceConfig, services: Services) -> list[ProbeResult]:
    from aggregator.wiring.sources import build_source
    from connectors.base import abilities

    name = f"source {cfg.name} ({cfg.kind})"
    try:
        source = build_source(cfg, services)
    except Exception as exc:  # the check has reported option errors already
        return [ProbeResult(name, False, reason(exc))]
    results = []
    try:
        checked = await _timed(name, lambda: _check(name, source))
        results.append(checked)
        answering = abilities(source).answering
        sink = answering.sink() if answering is not None else None
        if isinstance(sink, CheckableSink):
            sink_name = f"source {cfg.name}: replies ({type(sink).__name__})"
            results.append(await _timed(sink_name, lambda: _check(sink_name, sink)))
    finally:
        try:
            await source.close()
        except Exception:  # noqa: S110 - closing after a probe; its result is already known
            pass
    return results


async def _check(name: str, target: Source | CheckableSink) -> ProbeResult:
    if getattr(target, "routes", None) is not None:
        # An HTTP intake: citizens or the gateway send to us, there is nothing to dial.
        return ProbeResult(name, None, "receives at /intake/…; nothing to connect to")
    await target.check()
    return ProbeResult(name, True, "connected")


def _probe_services(settings: Settings, http: aiohttp.ClientSession) -> Services:
    """What a connector's constructor and ``check()`` may use: no database pool, no queue
    (a probe never ingests or records anything, so neither is ever reached)."""
    from aggregator.crypto import Crypto
    from aggregator.wiring.services import Services

    return Services(
        settings=settings,
        http=http,
        pool=None,  # type: ignore[arg-type]
        queue=None,  # type: ignore[arg-type]
        crypto=Crypto.from_config(settings.crypto, demo=settings.demo),
        clock=lambda: dt.datetime.now(dt.UTC),
    )
