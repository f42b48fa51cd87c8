"""Delivery followed to the end over real mail servers: a reply to an address Dovecot does not
know comes back from Postfix as a DSN bounce, is read from our own mailbox by the IMAP source,
fails the notification with the server's reason and sends it again by SMS through the real
gammu-smsd schema; a reply that Postfix relays stays ``sent``, nothing more will come.

Then the crash: the notifier killed by SIGKILL after Postfix accepted the message and before
the record. The retry does not send it again (the citizen's mailbox holds one copy); the
notification says why it is ``sent`` without a confirmation of its own.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import email
import json
import os
import signal
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from aggregator.intake.sealing import open_body
from aggregator.notify.handler import IN_DOUBT, make_notify_handler
from aggregator.queue import Worker
from aggregator.wiring.sources import build_source, sinks_of
from schemas.complaint import Reporter
from schemas.config import SourceConfig
from tests.email.conftest import imap_config
from tests.email.helpers import drain, imap_fetch_all, wait_delivered
from tests.email.servers import Dovecot, Postfix
from tests.followup.helpers import Clock, add_complaint, make_services
from tests.sms.conftest import create_gammu_pg, drop_gammu_pg

pytestmark = pytest.mark.timeout(240)
ROOT = Path(__file__).resolve().parents[2]
CITIZEN = "budi.santoso@warga.test"
UNKNOWN = "tidak.ada@kota.test"  # Postfix takes it, then its error transport bounces it
PHONE = "081377778888"


def _smtp(postfix: Postfix, mailbox: str) -> dict[str, Any]:
    # Replies come from our own mailbox: the server's reports come back where we read.
    return {
        "host": "127.0.0.1",
        "port": postfix.smtp_port,
        "tls": "none",
        "from_address": mailbox,
        "message_id_domain": "kota.test",
        "timeout_s": 20,
    }


class BouncingPostfix(Postfix):
    """The tests' Postfix, plus one address it accepts and then bounces with a DSN, as a
    real server does for a mailbox that is gone."""

    def _postfix(self, *args: str) -> None:
        if args == ("check",):  # main.cf is written, the server not started yet
            cfg = self.root / "etc"
            (cfg / "transport").write_text(
                "/^tidak\\.ada@kota\\.test$/ error:5.1.1 mailbox tidak.ada@kota.test unknown\n"
            )
            (cfg / "refuse").write_text(
                "/^ditolak@kota\\.test$/ REJECT 5.7.1 mailbox ditolak@kota.test refuses mail\n"
            )
            main = (
                (cfg / "main.cf")
                .read_text()
                .replace(
                    "smtpd_recipient_restrictions = permit_mynetworks, reject",
                    f"smtpd_recipient_restrictions = check_recipient_access regexp:{cfg}/refuse,"
                    " permit_mynetworks, reject",
                )
            )
            (cfg / "main.cf").write_text(
                main + f"transport_maps = regexp:{cfg}/transport\n"
                "smtpd_reject_unlisted_recipient = no\n"
            )
        super()._postfix(*args)


@pytest.fixture(scope="module")
def bouncing(mail_tmp: Path, dovecot: Dovecot) -> Iterator[Postfix]:
    server = BouncingPostfix(mail_tmp / "postfix-bouncing", lmtp_port=dovecot.lmtp_port)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
async def gammu_dsn() -> AsyncIterator[str]:
    dsn = await create_gammu_pg()
    try:
        yield dsn
    finally:
        await drop_gammu_pg(dsn)


async def _run_jobs(services: Any, sinks: Any) -> int:
    worker = Worker(services.queue, {"notify": make_notify_handler(services, sinks)})
    return await worker.run_once()


async def _notifications(pool: asyncpg.Pool, cid: Any) -> list[asyncpg.Record]:
    async with pool.acquire() as conn:
        return list(
            await conn.fetch(
                "SELECT id, channel, source, state::text AS state, detail, external_id, retry_of,"
                " body, body_enc FROM notifications WHERE complaint_id = $1"
                " ORDER BY created_at, id",
                cid,
            )
        )


async def _ack(services: Any, cid: Any) -> None:
    async with services.pool.acquire() as conn:
        await services.queue.enqueue(
            conn,
            "notify",
            complaint_id=cid,
            payload={"event": "lapor_pushed"},
            dedup_key=f"notify:pushed:{cid}",
        )


async def test_bounce_fails_the_email_and_falls_back_to_sms(
    pool: asyncpg.Pool, dovecot: Dovecot, bouncing: Postfix, mailbox: str, gammu_dsn: str
) -> None:
    mail_cfg = imap_config(dovecot, mailbox, "email-kota", smtp=_smtp(bouncing, mailbox))
    sms_cfg = SourceConfig(
        name="sms-gammu",
        kind="gammu",
        options={"driver": "pgsql", "dsn": gammu_dsn, "timezone": "UTC"},
    )
    clock = Clock(dt.datetime.now(dt.UTC))
    services = make_services(
        pool,
        clock,
        sources=[mail_cfg, sms_cfg],
        notify={
            "merge_window_s": 0,
            "retry_backoff_s": [600],
            "fallback_sources": {"sms": "sms-gammu", "email": "email-kota"},
        },
    )
    mail = build_source(mail_cfg, services)
    sms = build_source(sms_cfg, services)
    sinks = sinks_of({mail.name: mail, sms.name: sms})
    try:
        bad = await add_complaint(
            services,
            source="email-kota",
            tracking_id="1916452",
            reporter=Reporter(email=UNKNOWN, phone=PHONE),
        )
        good = await add_complaint(
            services, source="email-kota", tracking_id="1916453", reporter=Reporter(email=CITIZEN)
        )
        refused = await add_complaint(
            services,
            source="email-kota",
            tracking_id="1916454",
            reporter=Reporter(email="ditolak@kota.test", phone="081311110000"),
        )
        await _ack(services, bad)
        await _ack(services, good)
        await _ack(services, refused)
        assert await _run_jobs(services, sinks) == 3
        # Refused while sending: failed with the server's reason, the address masked.
        [no] = await _notifications(pool, refused)
        assert no["state"] == "failed"
        assert no["detail"].startswith("sink refused: the citizen's address was refused: 554 5.7.1")
        assert "ditolak@" not in no["detail"]
        [first] = await _notifications(pool, bad)
        assert (first["channel"], first["state"]) == ("email", "sent"), first["detail"]
        assert first["external_id"].startswith("<notif-")

        # Postfix's bounce for the unknown user and its success report for the citizen
        # both come back to our mailbox; the IMAP source reads them like any mail.
        await wait_delivered(dovecot, mailbox, 2)
        await drain(services, mail)
        [failed, *_rest] = await _notifications(pool, bad)
        assert failed["state"] == "failed", failed
        assert failed["detail"].startswith("dsn failed 5.1.1"), failed["detail"]
        assert UNKNOWN not in failed["detail"] and "<alamat>" in failed["detail"]
        # Postfix hands the good one to Dovecot over LMTP and reports "relayed": nothing
        # more will come, so it stays sent.
        [ok] = await _notifications(pool, good)
        assert ok["state"] == "sent"
        # No complaint was made of the server's reports.
        async with pool.acquire() as conn:
            assert await conn.fetchval("SELECT count(*) FROM complaints") == 3

        # An unknown mailbox or a refusal does not heal by waiting: straight to the phone.
        assert await _run_jobs(services, sinks) == 2
        assert [(n["channel"], n["state"]) for n in await _notifications(pool, refused)] == [
            ("email", "failed"),
            ("sms", "sent"),
        ]
        chain = await _notifications(pool, bad)
        assert [(n["channel"], n["state"]) for n in chain] == [("email", "failed"), ("sms", "sent")]
        again = chain[1]
        assert again["retry_of"] == failed["id"] and again["body"] is None  # kept sealed
        assert "1916452" in (open_body(services.crypto, again) or "")
        gammu = await asyncpg.connect(gammu_dsn)
        try:
            outbox = await gammu.fetch(
                'SELECT "DestinationNumber", "TextDecoded" FROM outbox WHERE "CreatorID" = $1',
                str(again["id"]),
            )
        finally:
            await gammu.close()
        assert [r["DestinationNumber"] for r in outbox] == [PHONE]
        assert "1916452" in outbox[0]["TextDecoded"]
        async with pool.acquire() as conn:
            kinds = [
                r["kind"]
                for r in await conn.fetch(
                    "SELECT kind FROM events WHERE complaint_id = $1 ORDER BY id", bad
                )
            ]
        assert kinds == [
            "notification_sent",
            "notification_redelivery_planned",
            "notification_sent",
        ]
        # The DSN read again (a re-pull after a crash) changes nothing.
        await mail.close()
        mail2 = build_source(mail_cfg.model_copy(update={"name": "email-kota"}), services)
        try:
            await drain(services, mail2)
        finally:
            await mail2.close()
        assert [(n["channel"], n["state"]) for n in await _notifications(pool, bad)] == [
            ("email", "failed"),
            ("sms", "sent"),
        ]
    finally:
        await mail.close()
        await sms.close()


async def test_sigkill_between_smtp_send_and_record_never_sends_twice(
    pool: asyncpg.Pool, db_dsn: str, dovecot: Dovecot, postfix: Postfix, mailbox: str
) -> None:
    citizen = dovecot.fresh_mailbox()
    mail_cfg = imap_config(
        dovecot, mailbox, "email-kota", smtp=_smtp(postfix, mailbox) | {"request_dsn": False}
    )
    clock = Clock(dt.datetime.now(dt.UTC))
    services = make_services(
        pool, clock, sources=[mail_cfg], notify={"merge_window_s": 0}, queue={"lease_s": 1.0}
    )
    cid = await add_complaint(
        services, source="email-kota", tracking_id="1916460", reporter=Reporter(email=citizen)
    )
    await _ack(services, cid)
    cfg = json.loads(mail_cfg.model_dump_json())
    cfg["options"]["password"] = mail_cfg.options["password"]
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.email.notify_kill_child",
        db_dsn,
        json.dumps(cfg),
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    _out, err = await asyncio.wait_for(proc.communicate(), 90)
    assert proc.returncode == -signal.SIGKILL, err.decode()[-2000:]
    await wait_delivered(dovecot, citizen, 1)
    [n] = await _notifications(pool, cid)
    assert n["state"] == "queued"  # the process died before the record

    await asyncio.sleep(1.2)  # the dead worker's lease runs out
    clock.now = dt.datetime.now(dt.UTC)
    mail = build_source(mail_cfg, services)
    try:
        assert await _run_jobs(services, sinks_of({mail.name: mail})) == 1
    finally:
        await mail.close()
    [n] = await _notifications(pool, cid)
    assert n["state"] == "sent" and n["detail"] == IN_DOUBT
    await asyncio.sleep(1.0)  # anything sent again would be in the mailbox by now
    messages = await imap_fetch_all(dovecot, citizen)
    assert len(messages) == 1
    got = email.message_from_bytes(messages[0])
    assert got["Message-ID"] == f"<notif-{n['id']}@satukanal.kota.test>"
    assert "1916460" in got["Subject"]
