"""The way back, end to end: an empty SMS through the real gammu-smsd is answered with the
usage hint by the notifier through the Gammu sink, sent by gammu-smsd, and its delivery
read back from sentitems onto the notification."""

from __future__ import annotations

from typing import Any

import asyncpg

from aggregator.intake.sealing import open_body
from aggregator.notify.delivery import DeliveryLoop
from aggregator.notify.handler import make_notify_handler
from aggregator.queue import Worker
from aggregator.wiring.sources import capabilities
from connectors.base import Origin, OutboundMessage
from tests.sms.conftest import Smsd, drain, gammu_source, wait_for


async def test_empty_sms_is_answered_through_gammu(smsd_pg: Smsd, services: Any, pool: Any) -> None:
    src = gammu_source("pgsql", smsd_pg.dsn, services)
    try:
        smsd_pg.deliver("081377778888", "  ")
        await wait_for(lambda: _rows(src), what="the inbox row")
        await drain(src, services)
        sinks = dict(capabilities({src.name: src}).sinks)
        worker = Worker(services.queue, {"notify": make_notify_handler(services, sinks)})
        assert await worker.run_once() == 1
        async with pool.acquire() as conn:
            n = await conn.fetchrow(
                "SELECT id, state::text, body, body_enc, external_id FROM notifications"
            )
        assert n["state"] == "sent" and n["external_id"].startswith("gammu:")
        assert n["body"] is None and b"ANONIM" not in bytes(n["body_enc"])  # at rest: sealed
        assert "ANONIM" in open_body(services.crypto, n)
        nid = str(n["id"])
        sent = await wait_for(lambda: src.db.find_sent(nid), what="sentitems")
        assert sent[0]["Status"] == "SendingOKNoReport"
        conn2 = await asyncpg.connect(smsd_pg.dsn)
        try:
            dest = await conn2.fetchval(
                'SELECT "DestinationNumber" FROM sentitems WHERE "CreatorID" = $1', nid
            )
            # The operator's status report, as gammu-smsd records it.
            await conn2.execute(
                "UPDATE sentitems SET \"Status\" = 'DeliveryOK', "
                '"DeliveryDateTime" = LOCALTIMESTAMP(0) WHERE "CreatorID" = $1',
                nid,
            )
        finally:
            await conn2.close()
        assert dest == "+6281377778888"
        assert await DeliveryLoop(services, sinks).run_once() == 1
        async with pool.acquire() as conn:
            st = await conn.fetchrow("SELECT state::text, delivered_at FROM notifications")
        assert st["state"] == "delivered" and st["delivered_at"] is not None
        # Sending the same notification again (a redelivered job) queues nothing new.
        again = await sinks[src.name].send(
            Origin(src.name, "sms", "+6281377778888"), OutboundMessage(nid, "usage", "x")
        )
        assert again.external_id == n["external_id"] and again.delivered is True
        assert len(await src.db.find_outbox(nid)) == 0 and len(await src.db.find_sent(nid)) == 1
    finally:
        await src.close()


async def _rows(src: Any) -> bool:
    return bool(await src.db.fetch_new(0, 10))
