"""Cutting auto-reply loops before a message leaves.

An operator's promotion from ``TELKOMSEL``, a bank's short code or an e-mail vacation
responder may each answer everything it receives; answering them back starts a loop that
costs credit and floods the log. Three guards, in this order:

- SMS to a short code or an alphanumeric sender is never sent (no citizen can read it);
- at most ``notify.max_per_address_per_hour`` messages to one address in any hour;
- the very same text at most ``notify.identical_limit`` times to one address within
  ``notify.identical_window_h``.

A message a guard stops is recorded as ``skipped`` with the guard's reason and stays on the
status page. Addresses are compared by keyed hash, never decrypted for it. A redelivery
(``notify/redeliver.py``) is not counted against the attempts it repeats: the default two
retries of a failed e-mail would otherwise be cut as an identical-message loop, and the
fallback to the reporter's other channel would never come.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from typing import Any

import asyncpg

from aggregator.storage import delivery as repo

MIN_PHONE_DIGITS = 8  # Indonesian short codes have 3–6 digits; a mobile number 10–13
_PHONE = re.compile(r"^\+?[0-9][0-9 ()-]*$")


def sms_address_problem(address: str) -> str | None:
    """Why an SMS must not go to ``address`` (None: it is a phone number)."""
    a = address.strip()
    if not _PHONE.match(a):
        return "alphanumeric sender: not a phone number a citizen reads"
    if sum(ch.isdigit() for ch in a) < MIN_PHONE_DIGITS:
        return "short code: not a phone number a citizen reads"
    return None


async def loop_problem(
    conn: asyncpg.Connection,
    settings: Any,
    *,
    address_hash: bytes,
    body_hash: bytes | None,
    now: dt.datetime,
    excluding: uuid.UUID,
) -> str | None:
    """Why this message to this address would feed a loop (None: send it)."""
    since, identical_since = windows(settings, now)
    recent, identical = await repo.recent_to_address(
        conn,
        address_hash,
        since=since,
        body_hash=body_hash,
        identical_since=identical_since,
        excluding=excluding,
    )
    return loop_reason(settings, recent, identical)


async def begin_guarded(
    conn: asyncpg.Connection,
    settings: Any,
    *,
    head: uuid.UUID,
    at: dt.datetime,
    address_hash: bytes,
    body_hash: bytes | None,
) -> tuple[str | None, bool, dt.datetime | None]:
    """``loop_problem`` and the hand-over marker (``delivery.begin_send``) of the message
    ``head`` in one round trip: (why it is held, or None; whether the marker was set — not
    when held, nor when the message is no longer queued; the marker before it)."""
    cfg = settings.notify
    since, identical_since = windows(settings, at)
    r = await repo.begin_send_guarded(
        conn,
        head,
        at,
        address_hash,
        body_hash,
        since=since,
        identical_since=identical_since,
        max_recent=cfg.max_per_address_per_hour or 0,
        max_identical=cfg.identical_limit or 0,
    )
    return loop_reason(settings, r.recent, r.identical), r.began, r.previous


def windows(settings: Any, now: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    """Since when hand-overs to an address count: (for the hourly limit, for the
    identical-text limit)."""
    cfg = settings.notify
    return now - dt.timedelta(hours=1), now - dt.timedelta(hours=cfg.identical_window_h)


def loop_reason(settings: Any, recent: int, identical: int) -> str | None:
    """Why a message is held, from the hand-overs to its address (``recent`` in the last
    hour, ``identical`` of its text in the window); None: under both limits."""
    cfg = settings.notify
    if cfg.max_per_address_per_hour and recent >= cfg.max_per_address_per_hour:
        return (
            f"rate limit: {recent} messages to this address in the last hour "
            f"(notify.max_per_address_per_hour = {cfg.max_per_address_per_hour})"
        )
    if cfg.identical_limit and identical >= cfg.identical_limit:
        return (
            f"identical-message loop: the same text went to this address {identical} "
            f"times in {cfg.identical_window_h:g} h (notify.identical_limit = "
            f"{cfg.identical_limit})"
        )
    return None
