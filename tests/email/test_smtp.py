"""The SMTP sink through a real Postfix, read back from the citizen's mailbox over IMAP;
then the citizen answers and the answer lands on the same complaint."""

from __future__ import annotations

import asyncio
import email
import uuid
from email.message import EmailMessage
from email.policy import default
from typing import Any

import pytest

from aggregator.errors import PermanentError, TransientError
from connectors.base import Origin, OutboundMessage
from tests.email.corpus import corpus
from tests.email.helpers import drain, imap_fetch_all, wait_delivered
from tests.email.servers import Dovecot, Postfix, free_port

pytestmark = pytest.mark.timeout(180)
CITIZEN = "budi.santoso@warga.test"


def smtp_options(postfix: Postfix, **kw: Any) -> dict[str, Any]:
    return {
        "host": "127.0.0.1",
        "port": postfix.smtp_port,
        "tls": "none",
        "from_address": "pengaduan@kota.test",
        "from_name": "Pengaduan Kota Palangka Raya",
        "message_id_domain": "kota.test",
        "timeout_s": 20,
        **kw,
    }


async def test_answer_threads_in_the_citizens_mailbox_and_the_reply_comes_back(
    pool, dovecot: Dovecot, postfix: Postfix, mailbox: str, make_imap: Any
) -> None:
    original = corpus()["01_plain_indonesian.eml"]
    await asyncio.to_thread(postfix.send, CITIZEN, [mailbox], original)
    await wait_delivered(dovecot, mailbox, 1)
    src, services = make_imap(mailbox, smtp=smtp_options(postfix))
    assert await drain(services, src) == 1
    row = await pool.fetchrow(
        "SELECT c.id, c.origin, r.email_enc FROM complaints c JOIN reporters r "
        "ON r.id = c.reporter_id"
    )
    address = services.crypto.decrypt("email", row["email_enc"])
    origin = Origin(source=src.name, channel="email", address=address, thread=row["origin"])

    sink = src.sink()
    assert sink is not None
    notification_id = str(uuid.uuid4())
    message = OutboundMessage(
        notification_id=notification_id,
        kind="ack",
        tracking_id="1916449",
        subject="Pengaduan Anda sudah diteruskan ke LAPOR!",
        text="Yth. Bapak/Ibu,\n\nPengaduan Anda sudah kami teruskan ke SP4N-LAPOR! dengan "
        "Tracking ID #1916449.\nPantau di https://status.kota.test/1916449",
    )
    before = len(await imap_fetch_all(dovecot, CITIZEN))
    result = await sink.send(origin, message)
    expected_id = f"<notif-{notification_id}@satukanal.kota.test>"
    assert result.external_id == expected_id
    await wait_delivered(dovecot, CITIZEN, before + 1)
    await pool.execute(
        "INSERT INTO notifications (id, complaint_id, kind, channel, source, state, external_id) "
        "VALUES ($1, $2, 'ack', 'email', $3, 'sent', $4)",
        uuid.UUID(notification_id),
        row["id"],
        src.name,
        result.external_id,
    )

    received = email.message_from_bytes(
        (await imap_fetch_all(dovecot, CITIZEN))[-1], policy=default
    )
    assert received["Message-ID"] == expected_id
    assert received["In-Reply-To"] == "<CAFx01-budi@mail.warga.test>"
    assert received["References"] == "<CAFx01-budi@mail.warga.test>"
    assert received["Subject"] == "Re: [LAPOR! #1916449] Jalan rusak di Jl. Tjilik Riwut km 5"
    assert received["From"] == "Pengaduan Kota Palangka Raya <pengaduan@kota.test>"
    assert received["Auto-Submitted"] == "auto-generated"
    parts = {p.get_content_type(): p.get_content() for p in received.walk() if not p.is_multipart()}
    assert "Tracking ID #1916449" in parts["text/plain"]
    assert '<a href="https://status.kota.test/1916449">' in parts["text/html"]

    # A retried send (the job ran twice) carries the same Message-ID: clients show one thread
    # and anyone can tell it is the same notification.
    await sink.send(origin, message)
    await wait_delivered(dovecot, CITIZEN, before + 2)
    again = email.message_from_bytes((await imap_fetch_all(dovecot, CITIZEN))[-1], policy=default)
    assert again["Message-ID"] == expected_id

    # The citizen presses "reply" in their mail client.
    reply = EmailMessage()
    reply["From"] = f"Budi Santoso <{CITIZEN}>"
    reply["To"] = mailbox
    reply["Subject"] = "Re: " + received["Subject"]
    reply["Message-ID"] = "<reply-budi-1@mail.warga.test>"
    reply["In-Reply-To"] = received["Message-ID"]
    reply["References"] = f"{received['References']} {received['Message-ID']}"
    reply.set_content(
        "Sudah diperbaiki kemarin, terima kasih.\n\n"
        "Pada Sen, 3 Mar 2025, Pengaduan Kota menulis:\n> Yth. Bapak/Ibu,\n"
    )
    await asyncio.to_thread(postfix.send, CITIZEN, [mailbox], bytes(reply))
    await wait_delivered(dovecot, mailbox, 2)
    assert await drain(services, src) == 1
    answer = await pool.fetchrow("SELECT complaint_id, text, resolved FROM reporter_replies")
    assert answer["complaint_id"] == row["id"]
    assert answer["resolved"] is True
    assert answer["text"] == "Sudah diperbaiki kemarin, terima kasih."
    assert await pool.fetchval("SELECT count(*) FROM complaints") == 1
    job = await pool.fetchval("SELECT count(*) FROM jobs WHERE kind = 'reply_up'")
    assert job == 1


async def test_sink_errors_say_what_to_do_next(
    postfix: Postfix, dovecot: Dovecot, mailbox: str, make_imap: Any
) -> None:
    msg = OutboundMessage(notification_id="n-err", kind="status", text="Status berubah.")
    src, _ = make_imap(mailbox, smtp=smtp_options(postfix, port=free_port()))
    with pytest.raises(TransientError):
        await src.sink().send(Origin(source=src.name, channel="email", address=CITIZEN), msg)
    src, _ = make_imap(mailbox, smtp=smtp_options(postfix))
    with pytest.raises(PermanentError):
        await src.sink().send(Origin(source=src.name, channel="email", address=None), msg)


async def test_sink_tls_modes(
    postfix: Postfix, dovecot: Dovecot, mailbox: str, make_imap: Any
) -> None:
    from aggregator.errors import ConfigError

    assert postfix.cert is not None
    ca = str(postfix.cert)
    origin = Origin(
        source="email-kota",
        channel="email",
        address=CITIZEN,
        thread={"message_id": "<tls@warga.test>", "subject": "Uji TLS"},
    )
    before = len(await imap_fetch_all(dovecot, CITIZEN))
    sent = 0
    for opts in (
        {"tls": "starttls", "ca_file": ca},
        {"tls": "implicit", "port": postfix.smtps_port, "ca_file": ca},
        {"tls": "starttls", "verify": False},
    ):
        src, _ = make_imap(mailbox, smtp=smtp_options(postfix, **opts))
        msg = OutboundMessage(
            notification_id=f"tls-{opts['tls']}-{sent}", kind="status", text=f"Uji {opts['tls']}."
        )
        await src.sink().send(origin, msg)
        sent += 1
    await wait_delivered(dovecot, CITIZEN, before + sent)
    received = [
        email.message_from_bytes(m, policy=default)
        for m in (await imap_fetch_all(dovecot, CITIZEN))[-sent:]
    ]
    # Postfix's trace header says ESMTPS (RFC 3848) when the session was encrypted.
    assert all(any("with ESMTPS" in str(h) for h in m.get_all("Received")) for m in received)
    src, _ = make_imap(mailbox, smtp=smtp_options(postfix, tls="starttls"))
    with pytest.raises(ConfigError, match="not trusted"):
        await src.sink().send(origin, OutboundMessage(notification_id="x", kind="status", text="x"))
