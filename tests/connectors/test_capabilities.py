"""The composition root wires each source by the abilities it declares: push-only sources
get routes and no poll loop, pulling sources a loop, answering sources a sink, form sources
with write-back a writer, and the status page serves the sources that issue receipts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import asyncpg

from aggregator.intake.loop import IngestLoop
from aggregator.wiring.assemble import assemble
from aggregator.wiring.sources import build_sources, capabilities
from schemas.config import Settings, SourceConfig
from tests.core.helpers import make_services


def settings(tmp_path: Path) -> Settings:
    for sub in ("new", "cur", "tmp"):
        (tmp_path / "mail" / sub).mkdir(parents=True)
    return Settings(
        demo=False,
        data_dir=tmp_path,
        lapor={"adapter": "manual"},
        sources=[
            SourceConfig(name="sms-push", kind="sms_http", options={"secret": "s"}),
            SourceConfig(name="web-form", kind="form_http", options={}),
            SourceConfig(
                name="mail",
                kind="maildir",
                options={
                    "path": str(tmp_path / "mail"),
                    "outbox": {"path": str(tmp_path / "out"), "from_address": "p@kota.test"},
                },
            ),
            SourceConfig(
                name="sms-modem",
                kind="gammu",
                options={"dsn": "postgresql://smsd:pw@127.0.0.1:1/smsd"},
            ),
            SourceConfig(
                name="form-db",
                kind="sql_table",
                options={"url": "mysql://u:pw@127.0.0.1:1/db", "write_back": {"enabled": True}},
            ),
        ],
    )


async def test_capabilities_follow_the_declared_protocols(
    pool: asyncpg.Pool, tmp_path: Path
) -> None:
    services = make_services(pool, settings=settings(tmp_path))
    sources = build_sources(services.settings, services)
    try:
        caps = capabilities(sources)
        assert set(caps.pulling) == {"mail", "sms-modem", "form-db"}
        assert set(caps.http_intake) == {"sms-push", "web-form"}
        assert set(caps.receipts) == {"web-form"}
        assert set(caps.sinks) == {"mail", "sms-modem", "form-db"}  # sms-push: no kannel set
        assert set(caps.delivery_status) == {"sms-modem"}
        assert set(caps.backfill) == {"form-db"}
        assert set(caps.writers) == {"form-db"}
    finally:
        for src in sources.values():
            await src.close()


async def test_push_only_sources_get_no_poll_loop(pool: asyncpg.Pool, tmp_path: Path) -> None:
    services = make_services(pool, settings=settings(tmp_path))
    async with assemble(services) as comp:
        polled = sorted(lp.source.name for lp in comp.loops if isinstance(lp, IngestLoop))
        mounted = sorted(prefix for prefix, _ in comp.http_routes if prefix)
    assert polled == ["form-db", "mail", "sms-modem"]
    assert mounted == ["/intake/sms-push", "/intake/web-form"]


async def test_the_status_page_is_mounted_by_the_core(pool: asyncpg.Pool, tmp_path: Path) -> None:
    services = make_services(pool, settings=settings(tmp_path))
    async with assemble(services) as comp:
        root: list[Any] = [r for prefix, routes in comp.http_routes if not prefix for r in routes]
    assert {(r.method, r.path) for r in root} >= {
        ("GET", "/status/{code}"),
        ("POST", "/status/{code}"),
    }
