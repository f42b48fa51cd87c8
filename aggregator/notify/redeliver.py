"""After a failure: again on the same channel after a backoff, then the reporter's other one.

A notification that ends ``failed`` — refused by the sink, or reported failed later by the
channel (Kannel DLR, Gammu ``sentitems``, a DSN bounce read back from the mailbox) — gets a
``redeliver`` notify job. Each redelivery is a new notification row pointing at the one it
replaces (``retry_of``), so the record of every attempt and its reason stays.

The policy (``[notify]``):

- ``retry_backoff_s``: one more attempt on the same channel after each wait, unless the
  failure cannot pass by waiting (an address the server does not know: SMTP 5.x.x, a
  Kannel SMSC reject, a sink's refusal);
- ``fallback = "other_channel"``: then once by e-mail for an SMS, by SMS for an e-mail,
  through the source named in ``fallback_sources``, when the reporter gave that address.

A message whose channel stayed unreachable through every attempt of its notify job (the
queue's own backoff, ``queue.max_attempts``) fails with ``UNREACHABLE``: it has
been retried already, so it goes straight to the fallback.

The chain never turns back: a fallback that fails again ends it.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg
import structlog

from aggregator.storage import delivery as repo
from aggregator.storage.delivery import ChainLink
from aggregator.storage.events import append_event

log = structlog.get_logger(__name__)

OTHER_CHANNEL = {"sms": "email", "email": "sms", "whatsapp": "sms"}  # WhatsApp: same phone
# A failure waiting does not cure: the address is wrong, or the sink refused the message.
_PERMANENT = re.compile(
    r"kannel dlr 16|\b5\.[0-9]{1,3}\.[0-9]{1,3}\b|\b55[0-9]\b|sink refused|refused", re.IGNORECASE
)


@dataclass(frozen=True)
class Step:
    channel: str
    source: str
    wait_s: float
    reason: str  # "retry" | "fallback"


UNREACHABLE = "channel unreachable through every attempt of the job"


def permanent(detail: str | None) -> bool:
    return bool(_PERMANENT.search(detail or ""))


def retried_already(detail: str | None) -> bool:
    return (detail or "").startswith(UNREACHABLE)


def next_step(
    settings: Any, chain: Sequence[ChainLink], *, has_address: Mapping[str, bool]
) -> Step | None:
    """What to do after ``chain[0]`` failed (``chain``: newest first, each with channel,
    source, detail)."""
    cfg = settings.notify
    last = chain[0]
    channel = str(last.channel)
    if any(str(r.channel) != channel for r in chain[1:]):
        return None  # already fell back once: no ping-pong between channels
    tries = len(chain)
    if (
        not permanent(last.detail)
        and not retried_already(last.detail)
        and tries <= len(cfg.retry_backoff_s)
    ):
        return Step(channel, str(last.source), float(cfg.retry_backoff_s[tries - 1]), "retry")
    other = OTHER_CHANNEL.get(channel)
    if cfg.fallback == "other_channel" and other is not None and has_address.get(other):
        source = cfg.fallback_sources.get(other)
        if source:
            return Step(other, source, 0.0, "fallback")
    return None


def redelivery_id(failed: uuid.UUID) -> uuid.UUID:
    return uuid.uuid5(failed, "redeliver")


async def schedule(
    services: Any,
    conn: asyncpg.Connection,
    notification_id: uuid.UUID,
    *,
    has_address: Mapping[str, bool] | None = None,
) -> Step | None:
    """Plan what follows a failed notification (in the caller's transaction)."""
    row = await repo.get_for_redelivery(conn, notification_id)
    if row is None or row.complaint_id is None or str(row.state) != "failed":
        return None
    if has_address is None:
        has_address = await repo.reporter_addresses(conn, row.complaint_id)
    step = next_step(
        services.settings, await repo.chain(conn, notification_id), has_address=has_address
    )
    if step is None:
        log.info(
            "notification_failed_for_good",
            notification_id=str(notification_id),
            channel=row.channel,
        )
        return None
    now: dt.datetime = services.clock()
    await services.queue.enqueue(
        conn,
        "notify",
        complaint_id=row.complaint_id,
        payload={"event": "redeliver", "notification_id": str(notification_id)},
        dedup_key=f"notify-redeliver:{notification_id}",
        run_after=now + dt.timedelta(seconds=step.wait_s),
    )
    await append_event(
        conn,
        row.complaint_id,
        "notification_redelivery_planned",
        {
            "notification_id": str(notification_id),
            "channel": step.channel,
            "step": step.reason,
            "wait_s": step.wait_s,
        },
    )
    log.info(
        "notification_redelivery_planned",
        notification_id=str(notification_id),
        channel=step.channel,
        step=step.reason,
        wait_s=step.wait_s,
    )
    return step
