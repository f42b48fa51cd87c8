"""A failed SMS is sent again after the configured backoff, and when that fails too, by
e-mail to the address the reporter also gave. The SMS go through the real gammu-smsd; its
failure is recorded in ``sentitems`` as gammu-smsd records a modem's refusal, and read back by
the delivery loop. The e-mail goes into a Maildir outbox."""

from __future__ import annotations

import datetime as dt
import email
import tempfile
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from aggregator.notify.delivery import DeliveryLoop
from aggregator.notify.handler import make_notify_handler
from aggregator.queue import Worker
from aggregator.wiring.sources import build_source, sinks_of
from schemas.complaint import Reporter
from schemas.config import SourceConfig
from tests.followup.helpers import Clock, add_complaint, make_services
from tests.sms.conftest import Smsd, wait_for

pytestmark = pytest.mark.timeout(180)


def _maildir(root: Path) -> Path:
    for sub in ("new", "cur", "tmp"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    return root


async def _fail_in_gammu(dsn: str, creator_id: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(
            'UPDATE sentitems SET "Status" = \'SendingError\' WHERE "CreatorID" = $1', creator_id
        )
    finally:
        await conn.close()


async def _chain(pool: asyncpg.Pool, cid: Any) -> list[asyncpg.Record]:
    async with pool.acquire() as conn:
        return list(
            await conn.fetch(
                "SELECT id, channel, state::text AS state, detail, retry_of FROM notifications"
                " WHERE complaint_id = $1 ORDER BY created_at, id",
                cid,
            )
        )


async def test_failed_sms_retried_after_backoff_then_sent_by_email(
    pool: asyncpg.Pool, smsd_pg: Smsd
) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="satukanal-redeliver-"))
    sms_cfg = SourceConfig(
        name="sms-gammu",
        kind="gammu",
        options={"driver": "pgsql", "dsn": smsd_pg.dsn, "timezone": "UTC"},
    )
    mail_cfg = SourceConfig(
        name="surel",
        kind="maildir",
        options={
            "path": str(_maildir(tmp / "inbox")),
            "outbox": {
                "path": str(_maildir(tmp / "outbox")),
                "from_address": "pengaduan@kota.test",
            },
        },
    )
    clock = Clock(dt.datetime.now(dt.UTC))
    services = make_services(
        pool,
        clock,
        sources=[sms_cfg, mail_cfg],
        notify={
            "merge_window_s": 0,
            "retry_backoff_s": [300],
            "fallback_sources": {"email": "surel"},
        },
    )
    sms = build_source(sms_cfg, services)
    mail = build_source(mail_cfg, services)
    sinks = sinks_of({sms.name: sms, mail.name: mail})
    worker = Worker(services.queue, {"notify": make_notify_handler(services, sinks)})
    loop = DeliveryLoop(services, sinks)
    try:
        cid = await add_complaint(
            services,
            source="sms-gammu",
            channel="sms",
            tracking_id="1916480",
            reporter=Reporter(phone="081366667777", email="warga@warga.test", name="Sari"),
        )
        async with pool.acquire() as conn:
            await services.queue.enqueue(
                conn,
                "notify",
                complaint_id=cid,
                payload={"event": "lapor_pushed"},
                dedup_key=f"notify:pushed:{cid}",
            )
        assert await worker.run_once() == 1
        [first] = await _chain(pool, cid)
        await wait_for(lambda: sms.db.find_sent(str(first["id"])), what="the first SMS sent")
        await _fail_in_gammu(smsd_pg.dsn, str(first["id"]))
        assert await loop.run_once() == 1
        [first] = await _chain(pool, cid)
        assert first["state"] == "failed" and first["detail"] == "SendingError"

        # Not before the backoff.
        assert await worker.run_once() == 0
        clock.now += dt.timedelta(seconds=301)
        assert await worker.run_once() == 1
        first, second = await _chain(pool, cid)
        assert (second["channel"], second["state"], second["retry_of"]) == (
            "sms",
            "sent",
            first["id"],
        )
        await wait_for(lambda: sms.db.find_sent(str(second["id"])), what="the second SMS sent")
        await _fail_in_gammu(smsd_pg.dsn, str(second["id"]))
        assert await loop.run_once() == 1

        # The retries are used up: the reporter's e-mail, at once.
        assert await worker.run_once() == 1
        chain = await _chain(pool, cid)
        assert [(n["channel"], n["state"]) for n in chain] == [
            ("sms", "failed"),
            ("sms", "failed"),
            ("email", "sent"),
        ]
        assert chain[2]["retry_of"] == second["id"]
        [file] = list((tmp / "outbox" / "new").iterdir())
        msg = email.message_from_bytes(file.read_bytes())
        assert msg["To"] == "warga@warga.test" and "1916480" in msg["Subject"]
        assert "Sari" in msg.get_payload()[0].get_payload(decode=True).decode()
        # Nothing else is planned for a message that went out.
        assert await worker.run_once() == 0
    finally:
        await sms.close()
        await mail.close()
