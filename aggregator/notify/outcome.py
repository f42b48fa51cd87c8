"""A channel's later word on a notification (Kannel DLR, Gammu ``sentitems``, a DSN bounce
read back from the mailbox): recorded on the row, and a failure plans the redelivery in the
same transaction, so a crash cannot record the failure and lose the retry."""

from __future__ import annotations

import uuid
from typing import Any

import structlog

from aggregator.notify import redeliver
from aggregator.storage.forms import record_delivery_report

log = structlog.get_logger(__name__)


async def report_delivery(services: Any, notification_id: str, state: str, detail: str) -> bool:
    """True when the report changed the notification (an unknown id or a notification
    already past it changes nothing)."""
    async with services.pool.acquire() as conn, conn.transaction():
        changed = await record_delivery_report(conn, notification_id, state, detail)
        if changed and state == "failed":
            try:
                nid = uuid.UUID(notification_id)
            except ValueError:
                return changed
            await redeliver.schedule(services, conn, nid)
    if changed:
        log.info("notification_delivery_recorded", notification_id=notification_id, state=state)
    return changed
