"""The Maildir outbox sink: the answer is a complete threaded message, written in tmp/ and
renamed into new/; the citizen answers in that thread and the answer finds its complaint."""

from __future__ import annotations

import email
import os
import uuid
from email.message import EmailMessage
from email.policy import default
from pathlib import Path
from typing import Any

import pytest

from aggregator.errors import ConfigError, PermanentError
from aggregator.wiring.sources import build_source
from connectors.base import Origin, OutboundMessage
from connectors.email.maildir import MaildirSource
from connectors.email.outbox import MaildirOutbox, outbox_file_name
from schemas.config import SourceConfig
from tests.email.conftest import make_services
from tests.email.corpus import corpus
from tests.email.helpers import drain

CITIZEN = "budi.santoso@warga.test"


def _maildir(root: Path) -> Path:
    for sub in ("new", "cur", "tmp"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    return root


def _source(pool: Any, tmp_path: Path, **outbox: Any) -> tuple[MaildirSource, Any]:
    cfg = SourceConfig(
        name="email-kota",
        kind="maildir",
        options={
            "path": str(_maildir(tmp_path / "Maildir")),
            "outbox": {
                "path": str(tmp_path / "terkirim"),
                "from_address": "pengaduan@kota.test",
                "from_name": "Pengaduan Kota Palangka Raya",
                **outbox,
            },
        },
    )
    services = make_services(pool, [cfg])
    return build_source(cfg, services), services


async def test_answer_lands_threaded_in_the_outbox_and_the_reply_comes_back(
    pool, tmp_path: Path
) -> None:
    (tmp_path / "Maildir" / "new").mkdir(parents=True)
    (tmp_path / "Maildir" / "new" / "1700000000.M1P1.test").write_bytes(
        corpus()["01_plain_indonesian.eml"]
    )
    (tmp_path / "terkirim").mkdir()  # the subfolders are made on the first send
    src, services = _source(pool, tmp_path)
    assert await drain(services, src) == 1
    row = await pool.fetchrow(
        "SELECT c.id, c.origin, r.email_enc FROM complaints c JOIN reporters r "
        "ON r.id = c.reporter_id"
    )
    address = services.crypto.decrypt("email", row["email_enc"])
    origin = Origin(source=src.name, channel="email", address=address, thread=row["origin"])
    sink = src.sink()
    assert isinstance(sink, MaildirOutbox)
    notification_id = str(uuid.uuid4())
    message = OutboundMessage(
        notification_id=notification_id,
        kind="ack",
        tracking_id="1916449",
        subject="Pengaduan Anda sudah diteruskan ke LAPOR!",
        text="Yth. Bapak/Ibu,\n\nPengaduan Anda sudah kami teruskan ke SP4N-LAPOR! dengan "
        "Tracking ID #1916449.\nPantau di https://status.kota.test/1916449",
    )
    result = await sink.send(origin, message)
    expected_id = f"<notif-{notification_id}@satukanal.kota.test>"
    assert result.external_id == expected_id

    outbox = tmp_path / "terkirim"
    assert list((outbox / "tmp").iterdir()) == []
    files = list((outbox / "new").iterdir())
    assert [f.name for f in files] == [outbox_file_name(notification_id)]
    assert ":" not in files[0].name and "/" not in files[0].name
    received = email.message_from_bytes(files[0].read_bytes(), policy=default)
    assert received["Message-ID"] == expected_id
    assert received["To"] == address
    assert received["From"] == "Pengaduan Kota Palangka Raya <pengaduan@kota.test>"
    assert received["In-Reply-To"] == "<CAFx01-budi@mail.warga.test>"
    assert received["References"] == "<CAFx01-budi@mail.warga.test>"
    assert received["Subject"] == "Re: [LAPOR! #1916449] Jalan rusak di Jl. Tjilik Riwut km 5"
    assert received["Date"].datetime is not None
    assert received["Auto-Submitted"] == "auto-generated"
    parts = {p.get_content_type(): p.get_content() for p in received.walk() if not p.is_multipart()}
    assert "Tracking ID #1916449" in parts["text/plain"]
    assert '<a href="https://status.kota.test/1916449">' in parts["text/html"]

    # A retried send (the job ran twice) writes nothing twice, even once the mail server's
    # reader has moved it into cur/.
    os.rename(files[0], outbox / "cur" / f"{files[0].name}:2,S")
    again = await sink.send(origin, message)
    assert again.external_id == expected_id
    assert list((outbox / "new").iterdir()) == [] and list((outbox / "tmp").iterdir()) == []

    # The citizen presses "reply" in their mail client; the answer reaches the same complaint.
    reply = EmailMessage()
    reply["From"] = f"Budi Santoso <{CITIZEN}>"
    reply["To"] = "pengaduan@kota.test"
    reply["Subject"] = received["Subject"]
    reply["Message-ID"] = "<reply-budi-1@mail.warga.test>"
    reply["In-Reply-To"] = received["Message-ID"]
    reply["References"] = f"{received['References']} {received['Message-ID']}"
    reply.set_content("Sudah diperbaiki kemarin, terima kasih.\n")
    (tmp_path / "Maildir" / "new" / "1700000001.M2P1.test").write_bytes(bytes(reply))
    assert await drain(services, src) == 1
    answer = await pool.fetchrow("SELECT complaint_id, text FROM reporter_replies")
    assert answer["complaint_id"] == row["id"]
    assert answer["text"] == "Sudah diperbaiki kemarin, terima kasih."
    assert await pool.fetchval("SELECT count(*) FROM complaints") == 1


async def test_outbox_errors_name_the_key(pool, tmp_path: Path) -> None:
    msg = OutboundMessage(notification_id="n-err", kind="status", text="Status berubah.")
    src, _ = _source(pool, tmp_path)  # the outbox folder does not exist
    with pytest.raises(ConfigError, match=r"sources\.email-kota\.options\.outbox\.path"):
        await src.sink().send(Origin(source=src.name, channel="email", address=CITIZEN), msg)
    with pytest.raises(PermanentError):
        await src.sink().send(Origin(source=src.name, channel="email", address=None), msg)
    assert not (tmp_path / "terkirim").exists()

    cfg = SourceConfig(
        name="email-kota",
        kind="maildir",
        options={
            "path": str(tmp_path / "Maildir"),
            "outbox": {"path": str(tmp_path), "from_address": "pengaduan@kota.test"},
            "smtp": {"host": "127.0.0.1", "from_address": "pengaduan@kota.test"},
        },
    )
    with pytest.raises(ConfigError, match="smtp and outbox are both set"):
        build_source(cfg, make_services(pool, [cfg]))
    cfg = SourceConfig(
        name="email-kota",
        kind="maildir",
        options={"path": str(tmp_path / "Maildir"), "outbox": {"path": str(tmp_path)}},
    )
    with pytest.raises(ConfigError, match=r"sources\.email-kota\.options\.outbox\.from_address"):
        build_source(cfg, make_services(pool, [cfg]))
