"""Small helpers for the e-mail tests: mailbox state over IMAP, ingest until drained."""

from __future__ import annotations

import asyncio
import imaplib
import time
from typing import Any

from aggregator.intake.loop import IngestLoop
from tests.email.servers import PASSWORD, Dovecot


def mailbox_count(dovecot: Dovecot, user: str) -> int:
    root = dovecot.maildir(user)
    return sum(len(list((root / sub).glob("*"))) for sub in ("new", "cur") if (root / sub).is_dir())


async def wait_delivered(dovecot: Dovecot, user: str, n: int, within: float = 60) -> None:
    deadline = time.monotonic() + within
    while mailbox_count(dovecot, user) < n:
        if time.monotonic() > deadline:
            raise AssertionError(f"{user}: {mailbox_count(dovecot, user)} of {n} delivered")
        await asyncio.sleep(0.05)


def _imap_search(dovecot: Dovecot, user: str, folder: str, criterion: str) -> list[int]:
    m = imaplib.IMAP4("127.0.0.1", dovecot.imap_port)
    try:
        m.login(user, PASSWORD)
        m.select(folder)
        _, data = m.uid("SEARCH", criterion)
        return [int(x) for x in data[0].split()]
    finally:
        m.logout()


async def imap_search(
    dovecot: Dovecot, user: str, criterion: str = "ALL", folder: str = "INBOX"
) -> list[int]:
    return await asyncio.to_thread(_imap_search, dovecot, user, folder, criterion)


def _imap_fetch_all(dovecot: Dovecot, user: str) -> list[bytes]:
    m = imaplib.IMAP4("127.0.0.1", dovecot.imap_port)
    try:
        m.login(user, PASSWORD)
        m.select("INBOX")
        _, data = m.uid("SEARCH", "ALL")
        out = []
        for uid in data[0].split():
            _, parts = m.uid("FETCH", uid, "(BODY.PEEK[])")
            out.append(parts[0][1])
        return out
    finally:
        m.logout()


async def imap_fetch_all(dovecot: Dovecot, user: str) -> list[bytes]:
    return await asyncio.to_thread(_imap_fetch_all, dovecot, user)


async def drain(services: Any, source: Any, max_rounds: int = 50) -> int:
    """Run the real ingest loop until the source has nothing more; returns items handled."""
    loop = IngestLoop(services, source)
    total = 0
    for _ in range(max_rounds):
        n = await loop.run_once()
        if n == 0:
            return total
        total += n
    raise AssertionError("the source never drained")
