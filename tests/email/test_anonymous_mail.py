"""An anonymous reporter's e-mail through the real Maildir source and intake: a whole
message attached to it (the citizen forwarding, as an attachment, the mail in which the
official asked for money) is quarantined, not passed on, since it carries names and
addresses; it and the original are shown to an administrator masked."""

from __future__ import annotations

from email.message import EmailMessage
from pathlib import Path

from aggregator.intake.anonymity import mask_original
from aggregator.intake.sealing import open_payload
from aggregator.storage.web import raw_original
from aggregator.wiring.sources import build_source
from schemas.config import SourceConfig
from tests.email.conftest import make_services
from tests.email.helpers import drain

NAMES = ("Rina Kartika", "rina.k@warga.test", "0813-5566-7788", "Bambang Sutrisno")


def _anonymous_mail_with_attached_message() -> bytes:
    inner = EmailMessage()
    inner["From"] = "Bambang Sutrisno <bambang.s@kelurahan.test>"
    inner["To"] = "Rina Kartika <rina.k@warga.test>"
    inner["Subject"] = "Biaya pengurusan"
    inner.set_content("Bu Rina, biaya pengurusan sertifikat Rp 2.000.000, transfer ke saya.")
    msg = EmailMessage()
    msg["From"] = "Rina Kartika <rina.k@warga.test>"
    msg["To"] = "pengaduan@kota.test"
    msg["Subject"] = "[ANONIM] Pungutan pengurusan sertifikat"
    msg["Message-ID"] = "<anon-att@warga.test>"
    msg["Date"] = "Mon, 30 Nov 2026 09:00:00 +0700"
    msg.set_content(
        "Saya Rina Kartika diminta membayar Rp 2.000.000 untuk sertifikat tanah, buktinya "
        "terlampir. Hubungi 0813-5566-7788.",
        cte="quoted-printable",
    )
    msg.add_attachment(inner, filename="Biaya pengurusan - Bambang Sutrisno.eml")
    return msg.as_bytes()


async def test_an_anonymous_mails_attached_message_is_quarantined_and_shown_masked(
    pool, tmp_path: Path
) -> None:
    box = tmp_path / "Maildir"
    for sub in ("new", "cur", "tmp"):
        (box / sub).mkdir(parents=True)
    (box / "new" / "1700000000.M1P1.demo").write_bytes(_anonymous_mail_with_attached_message())
    cfg = SourceConfig(name="email-demo", kind="maildir", options={"path": str(box)})
    services = make_services(pool, [cfg])
    assert await drain(services, build_source(cfg, services)) == 1

    async with pool.acquire() as conn:
        c = await conn.fetchrow("SELECT id, content, title, anonymous, flags FROM complaints")
        attached = await conn.fetchval("SELECT count(*) FROM complaint_attachments")
        raws = await conn.fetch("SELECT id, state::text AS state FROM raw_items ORDER BY id")
        originals = [await raw_original(conn, r["id"]) for r in raws]
    assert c["anonymous"] and "attachment_quarantined" in c["flags"]
    assert attached == 0  # the attached message reaches neither LAPOR! nor the agency
    for n in ("Rina", "Kartika", "0813-5566-7788"):
        assert n not in c["content"], c["content"]
    assert "[nama]" in c["content"] and "[telepon]" in c["content"]
    assert [r["state"] for r in raws] == ["accepted", "quarantined"]
    for item in originals:
        assert item is not None and item.anonymous, item  # the attachment's row too
        plain = open_payload(services.crypto, item.payload, item.payload_key)
        shown = mask_original(plain, item.content_type).decode()
        for n in (*NAMES, "Rina", "Bambang", "bambang.s@kelurahan.test"):
            assert n not in shown, (n, shown)
        assert "2.000.000" in shown  # what happened stays readable


async def test_forget_erases_the_attachment_quarantined_apart_and_the_notes(
    pool, tmp_path: Path
) -> None:
    """The attached message quarantined apart belongs to its complaint: `forget` empties it
    with the complaint's own original (it used to wait, unlinked, for the quarantine purge)."""
    from aggregator.storage.privacy import forget

    box = tmp_path / "Maildir"
    for sub in ("new", "cur", "tmp"):
        (box / sub).mkdir(parents=True)
    (box / "new" / "1700000000.M1P1.demo").write_bytes(_anonymous_mail_with_attached_message())
    cfg = SourceConfig(name="email-demo", kind="maildir", options={"path": str(box)})
    services = make_services(pool, [cfg])
    assert await drain(services, build_source(cfg, services)) == 1
    async with pool.acquire() as conn:
        cid = await conn.fetchval("SELECT id FROM complaints")
        linked = await conn.fetch(
            "SELECT state::text AS state FROM raw_items WHERE complaint_id = $1", cid
        )
        assert sorted(r["state"] for r in linked) == ["accepted", "quarantined"]
        counts = await forget(conn, services.crypto, actor="test", complaint=cid)
        left = await conn.fetch("SELECT length(payload) AS n FROM raw_items")
        origin = await conn.fetchval("SELECT origin FROM complaints")
    assert counts["raw_items"] == 2, counts
    assert [r["n"] for r in left] == [0, 0]
    assert "subject" not in origin and "intake_notes" not in origin, origin
