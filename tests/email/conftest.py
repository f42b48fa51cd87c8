"""Fixtures for the e-mail channel: real Dovecot and Postfix, sources wired to a real DB."""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from aggregator.wiring.services import Services
from aggregator.wiring.sources import build_source
from connectors.email.imap import ImapSource
from schemas.config import Settings, SourceConfig
from tests.email.corpus import STAFF
from tests.email.servers import PASSWORD, Dovecot, Postfix
from tests.support.runtime import make_services as runtime


@pytest.fixture(scope="session")
def mail_tmp() -> Iterator[Path]:
    root = Path(tempfile.mkdtemp(prefix="satukanal-mail-"))
    root.chmod(0o755)  # Dovecot's auth and mail processes run as other users
    try:
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def dovecot(mail_tmp: Path) -> Iterator[Dovecot]:
    server = Dovecot(mail_tmp / "dovecot")
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def postfix(mail_tmp: Path, dovecot: Dovecot) -> Iterator[Postfix]:
    server = Postfix(mail_tmp / "postfix", lmtp_port=dovecot.lmtp_port)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def mailbox(dovecot: Dovecot) -> str:
    """A fresh, empty mailbox for this test."""
    return dovecot.fresh_mailbox()


def make_services(pool: asyncpg.Pool, sources: list[SourceConfig] | None = None) -> Services:
    return runtime(pool, settings=Settings(demo=True, sources=sources or []))


def imap_config(
    dovecot: Dovecot, user: str, name: str = "email-kota", *, batch_size: int = 100, **options: Any
) -> SourceConfig:
    opts: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": dovecot.imap_port,
        "tls": "none",
        "user": user,
        "password": PASSWORD,
        "staff_forwarders": sorted(STAFF),
        "max_attachment_mb": 8,
        "message_id_domain": "kota.test",
        "timeout_s": 30,
    }
    opts.update(options)
    return SourceConfig(name=name, kind="imap", poll_s=1, batch_size=batch_size, options=opts)


@pytest.fixture
async def make_imap(pool: asyncpg.Pool, dovecot: Dovecot) -> AsyncIterator[Any]:
    made: list[ImapSource] = []

    def make(user: str, name: str = "email-kota", **kw: Any) -> tuple[ImapSource, Services]:
        cfg = imap_config(dovecot, user, name, **kw)
        services = make_services(pool, [cfg])
        src = build_source(cfg, services)
        made.append(src)
        return src, services

    yield make
    for src in made:
        with contextlib.suppress(Exception):
            await src.close()
