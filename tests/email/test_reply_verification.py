"""Issue 12 item 3 by e-mail: a reply in the thread we started with the reporter's address
speaks for the report only when it comes from that address. Our acknowledgement goes out
through the real Postfix into the citizen's Dovecot mailbox; then three messages answer it
(In-Reply-To and References naming our Message-ID): a stranger's ``SUDAH``, a stranger's
``SUDAH`` with the reporter's address in ``Reply-To`` (anyone may write any Reply-To), and
the reporter's own answer. Only the last goes up; the others are held with their reason."""

from __future__ import annotations

import asyncio
import email
from email.message import EmailMessage
from email.policy import default
from typing import Any

import pytest

from aggregator.notify.handler import make_notify_handler
from aggregator.queue import Worker
from aggregator.storage import replies as replies_repo
from aggregator.wiring.sources import build_source
from schemas.config import Settings
from tests.email.conftest import imap_config
from tests.email.helpers import drain, imap_fetch_all, wait_delivered
from tests.email.servers import Dovecot, Postfix
from tests.email.test_smtp import smtp_options
from tests.support.runtime import make_services as runtime

pytestmark = pytest.mark.timeout(180)
MALLORY = "petugas.lain@warga.test"
TRACKING = "1916470"
PHONE = "0813-4444-0007"
ORIGINAL = "<aduan-selokan-1@warga.test>"


def _answer(sender: str, ack: EmailMessage, text: str, n: int, **headers: str) -> bytes:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = "pengaduan@kota.test"
    msg["Subject"] = f"Re: {ack['Subject']}"
    msg["Message-ID"] = f"<jawab-{n}@warga.test>"
    msg["In-Reply-To"] = ack["Message-ID"]
    msg["References"] = f"{ack['References']} {ack['Message-ID']}"
    for k, v in headers.items():
        msg[k] = v
    msg.set_content(text)
    return bytes(msg)


def _in_their_thread(sender: str, text: str, n: int, **headers: str) -> bytes:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = "pengaduan@kota.test"
    msg["Subject"] = "Re: Selokan mampet di Jl. Garuda"
    msg["Message-ID"] = f"<jawab-{n}@warga.test>"
    msg["In-Reply-To"] = ORIGINAL
    msg["References"] = ORIGINAL
    for k, v in headers.items():
        msg[k] = v
    msg.set_content(text)
    return bytes(msg)


async def test_only_the_address_we_wrote_to_answers_in_our_thread(
    pool: Any, dovecot: Dovecot, postfix: Postfix, mailbox: str
) -> None:
    citizen = dovecot.fresh_mailbox()
    complaint = EmailMessage()
    complaint["From"] = f"Rina Marlina <{citizen}>"
    complaint["To"] = mailbox
    complaint["Subject"] = "Selokan mampet di Jl. Garuda"
    complaint["Message-ID"] = ORIGINAL
    complaint.set_content(
        "Selokan di depan rumah No. 3 Jl. Garuda mampet sejak sepekan, airnya berbau."
        f" HP saya {PHONE}."
    )
    dovecot.deliver(mailbox, [bytes(complaint)])
    cfg = imap_config(dovecot, mailbox, smtp=smtp_options(postfix))
    services = runtime(
        pool, settings=Settings(demo=True, sources=[cfg], notify={"merge_window_s": 0})
    )
    src = build_source(cfg, services)
    try:
        assert await drain(services, src) == 1
        cid = await pool.fetchval("SELECT id FROM complaints")
        await pool.execute(
            "UPDATE complaints SET lapor_tracking_id = $2 WHERE id = $1", cid, TRACKING
        )
        async with pool.acquire() as conn:
            await services.queue.enqueue(
                conn, "notify", complaint_id=cid, payload={"event": "ack"}, dedup_key=f"ack:{cid}"
            )
        sink = src.sink()
        assert sink is not None
        worker = Worker(services.queue, {"notify": make_notify_handler(services, {src.name: sink})})
        assert await worker.run_once() == 1
        await wait_delivered(dovecot, citizen, 1)
        ack = email.message_from_bytes((await imap_fetch_all(dovecot, citizen))[-1], policy=default)
        assert isinstance(ack, EmailMessage) and TRACKING in ack["Subject"]

        dovecot.deliver(
            mailbox,
            [
                _answer(f"Petugas <{MALLORY}>", ack, "SUDAH", 1),
                _answer(
                    f"Petugas <{MALLORY}>", ack, "SUDAH, sudah beres.", 2, **{"Reply-To": citizen}
                ),
                # In the citizen's own thread (their original's Message-ID only): Reply-To
                # and a phone number in the text are anyone's to write.
                _in_their_thread(
                    f"Petugas <{MALLORY}>", "SUDAH ditangani.", 4, **{"Reply-To": citizen}
                ),
                _in_their_thread(f"Petugas <{MALLORY}>", f"SUDAH. Rina, HP {PHONE}", 5),
                # The reporter, from the address we wrote to (spelt with capitals by their client).
                _answer(
                    f"Rina <{citizen.capitalize()}>", ack, "BELUM, airnya masih menggenang.", 3
                ),
            ],
        )
        await asyncio.sleep(0)
        assert await drain(services, src) == 5
        async with pool.acquire() as conn:
            rows = await replies_repo.for_complaint(conn, cid)
            ups = await conn.fetchval(
                "SELECT count(*) FROM jobs WHERE kind = 'reply_up' AND complaint_id = $1", cid
            )
            resolved = await conn.fetchval(
                "SELECT resolved_by_reporter FROM complaints WHERE id = $1", cid
            )
            assert await conn.fetchval("SELECT count(*) FROM complaints") == 1
        reason = f"alamat e-mail pengirim bukan alamat pelapor pengaduan #{TRACKING}"
        assert sorted((r["text"], r["verified"], r["verified_by"]) for r in rows) == sorted(
            [
                ("BELUM, airnya masih menggenang.", True, "email"),
                ("SUDAH", False, None),
                ("SUDAH, sudah beres.", False, None),
                ("SUDAH ditangani.", False, None),
                (f"SUDAH. Rina, HP {PHONE}", False, None),
            ]
        )
        why = {r["text"]: r["unverified_reason"] for r in rows if not r["verified"]}
        assert why.pop("SUDAH ditangani.").startswith("balasan e-mail dengan alamat Reply-To")
        assert set(why.values()) == {reason}
        assert ups == 1  # only the reporter's answer goes up to LAPOR!
        assert resolved is False  # the reporter's BELUM; no stranger's SUDAH closed it
    finally:
        await src.close()
