"""The IMAP source against a real Dovecot, mail arriving through a real Postfix."""

from __future__ import annotations

import asyncio
import re
import time
from typing import Any

import asyncpg
import pytest
import structlog

from aggregator.crypto import Crypto
from aggregator.errors import ConfigError
from aggregator.intake.loop import IngestLoop
from aggregator.intake.sealing import open_payload
from schemas.config import CryptoConfig
from tests.email.corpus import corpus, expectations
from tests.email.helpers import drain, imap_search, wait_delivered
from tests.email.servers import Dovecot, Postfix

pytestmark = pytest.mark.timeout(240)


def _name_of(payload: bytes, originals: dict[str, bytes]) -> str:
    """Which corpus file a stored payload is: the original bytes are its tail (the MTA and
    Dovecot only prepend trace headers)."""
    hits = [n for n, raw in originals.items() if payload.endswith(raw)]
    if not hits:  # Postfix puts a blank line after what it takes for the header block
        hits = [n for n, raw in originals.items() if payload.endswith(raw[-60:])]
    if not hits:  # an anonymous reporter's mail is re-serialised without photo metadata
        ids = {
            n: m.group()
            for n, raw in originals.items()
            if (m := re.search(rb"(?im)^Message-ID:[^\r\n]+", raw))
        }
        hits = [n for n, mid in ids.items() if mid in payload]
    assert len(hits) == 1, f"payload matches {hits}: {payload[:300]!r}"
    return hits[0]


CRYPTO = Crypto.from_config(CryptoConfig(), demo=True)  # what the tests' services use


async def _raw_by_name(
    pool: asyncpg.Pool, source: str, originals: dict[str, bytes]
) -> dict[str, asyncpg.Record]:
    rows = await pool.fetch("SELECT * FROM raw_items WHERE source = $1", source)
    out: dict[str, asyncpg.Record] = {}
    for r in rows:
        name = _name_of(open_payload(CRYPTO, r["payload"], r["payload_key"]), originals)
        assert name not in out, f"{name} stored twice"
        out[name] = r
    return out


async def test_corpus_through_postfix_and_dovecot(
    pool, dovecot: Dovecot, postfix: Postfix, mailbox: str, make_imap: Any
) -> None:
    msgs = corpus()
    exp = expectations()
    replies = sorted(n for n, e in exp.items() if e["kind"] == "reply")
    first = [n for n in msgs if n not in replies]
    for name in first:
        await asyncio.to_thread(postfix.send, "envelope@warga.test", [mailbox], msgs[name])
    await wait_delivered(dovecot, mailbox, len(first))

    src, services = make_imap(mailbox, max_per_poll=500)
    handled = await drain(services, src)
    assert handled == len(first)
    stored = await _raw_by_name(pool, src.name, msgs)
    assert sorted(stored) == sorted(first)
    for name in first:
        row, e = stored[name], exp[name]
        if e["kind"] == "complaint":
            assert row["state"] == "accepted", (name, row["state"], row["reason"])
            assert row["complaint_id"] is not None
        elif e["kind"] == "ignored":
            assert (row["state"], row["reason"]) == ("ignored", e["reason"]), name
        else:
            assert row["state"] == "quarantined", name
            assert e["reason_contains"] in row["reason"], (name, row["reason"])

    # What the complaints say, as stored.
    def cid(name: str) -> Any:
        return stored[name]["complaint_id"]

    fwd = await pool.fetchrow(
        "SELECT r.email_enc, c.thread_keys, c.title FROM complaints c "
        "JOIN reporters r ON r.id = c.reporter_id WHERE c.id = $1",
        cid("10_staff_forward_rfc822.eml"),
    )
    assert services.crypto.decrypt("email", fwd["email_enc"]) == "hendra.g@warga.test"
    assert "<orig-10@warga.test>" in fwd["thread_keys"]
    flags = await pool.fetchrow(
        "SELECT anonymous, confidential FROM complaints WHERE id = $1", cid("16_anonim_exif.eml")
    )
    assert (flags["anonymous"], flags["confidential"]) == (True, False)
    big = await pool.fetch(
        "SELECT filename, a.size FROM complaint_attachments ca "
        "JOIN attachments a USING (sha256) WHERE complaint_id = $1",
        cid("30_big_attachment.eml"),
    )
    assert [r["filename"] for r in big] == ["lokasi.jpg"]
    jobs = await pool.fetchval("SELECT count(*) FROM jobs WHERE kind = 'push'")
    assert jobs == sum(1 for n in first if exp[n]["kind"] == "complaint")

    # Everything taken is acknowledged on the server, and a second poll finds nothing new.
    assert await imap_search(dovecot, mailbox, "UNSEEN") == []
    assert await drain(services, src) == 0

    # The citizens answer: one replies to our notification, one by the subject tag, one by
    # References only. None of them becomes a new complaint.
    await pool.execute(
        "UPDATE complaints SET lapor_tracking_id = '1916449' WHERE id = $1", cid("03_html_only.eml")
    )
    complaints_before = await pool.fetchval("SELECT count(*) FROM complaints")
    for name in replies:
        await asyncio.to_thread(postfix.send, "envelope@warga.test", [mailbox], msgs[name])
    await wait_delivered(dovecot, mailbox, len(first) + len(replies))
    assert await drain(services, src) == len(replies)
    stored = await _raw_by_name(pool, src.name, msgs)
    targets = {
        "25_reply_to_notification.eml": ("01_plain_indonesian.eml", True),
        "26_reply_tag_subject.eml": ("03_html_only.eml", False),
        "36_reply_references_only.eml": ("10_staff_forward_rfc822.eml", False),
    }
    for reply, (complaint, resolved) in targets.items():
        assert stored[reply]["state"] == "reply", (reply, stored[reply]["reason"])
        row = await pool.fetchrow(
            "SELECT complaint_id, resolved FROM reporter_replies WHERE raw_item_id = $1",
            stored[reply]["id"],
        )
        assert row["complaint_id"] == stored[complaint]["complaint_id"]
        assert row["resolved"] is resolved
    assert await pool.fetchval("SELECT count(*) FROM complaints") == complaints_before

    # The same message delivered twice (a citizen who pressed send again, an alias) is one item.
    await asyncio.to_thread(
        postfix.send, "envelope@warga.test", [mailbox], msgs["01_plain_indonesian.eml"]
    )
    await wait_delivered(dovecot, mailbox, len(first) + len(replies) + 1)
    assert await drain(services, src) == 1
    assert await pool.fetchval("SELECT count(*) FROM raw_items WHERE source = $1", src.name) == len(
        first
    ) + len(replies)
    assert await pool.fetchval("SELECT count(*) FROM complaints") == complaints_before


async def test_uidvalidity_change_rescans_without_duplicates(
    pool, dovecot: Dovecot, mailbox: str, make_imap: Any
) -> None:
    msgs = corpus()
    names = [
        "01_plain_indonesian.eml",
        "02_encoded_words.eml",
        "29_no_date_no_msgid.eml",
        "33_not_an_email.eml",
        "18_out_of_office.eml",
    ]
    await asyncio.to_thread(dovecot.deliver, mailbox, [msgs[n] for n in names])
    src, services = make_imap(mailbox, after="seen")
    assert await drain(services, src) == 5
    cursor = await pool.fetchval("SELECT cursor FROM source_state WHERE source = $1", src.name)
    await src.close()

    # Rebuild the mailbox's UID list, as a restore or a server migration does.
    root = dovecot.maildir(mailbox)
    for f in list(root.glob("dovecot-uidlist")) + list(root.glob("dovecot.index*")):
        f.unlink()
    src2, services2 = make_imap(mailbox, after="seen")
    with structlog.testing.capture_logs() as logs:
        assert await drain(services2, src2) == 5  # everything re-pulled …
    assert any(e["event"] == "imap_uidvalidity_changed" for e in logs)
    new_cursor = await pool.fetchval("SELECT cursor FROM source_state WHERE source = $1", src.name)
    assert new_cursor["uidvalidity"] != cursor["uidvalidity"]
    # … and nothing stored twice.
    assert await pool.fetchval("SELECT count(*) FROM raw_items WHERE source = $1", src.name) == 5
    assert await pool.fetchval("SELECT count(*) FROM complaints") == 3


async def test_move_after_intake_and_at_most_n_per_poll(
    pool, dovecot: Dovecot, mailbox: str, make_imap: Any
) -> None:
    msgs = corpus()
    names = [n for n in msgs if expectations()[n]["kind"] == "complaint"][:7]
    await asyncio.to_thread(dovecot.deliver, mailbox, [msgs[n] for n in names])
    src, services = make_imap(
        mailbox, after="move", move_to="Diproses", max_per_poll=3, batch_size=2
    )
    loop = IngestLoop(services, src)
    assert await loop.run_once() == 3
    assert len(await imap_search(dovecot, mailbox)) == 4
    assert len(await imap_search(dovecot, mailbox, folder="Diproses")) == 3
    assert await loop.run_once() == 3
    assert await loop.run_once() == 1
    assert await loop.run_once() == 0
    assert await imap_search(dovecot, mailbox) == []
    assert len(await imap_search(dovecot, mailbox, folder="Diproses")) == 7
    assert await pool.fetchval("SELECT count(*) FROM complaints") == 7


async def test_wrong_password_degrades_the_source_and_logs_once(
    pool, dovecot: Dovecot, mailbox: str, make_imap: Any
) -> None:
    src, services = make_imap(mailbox, password="salah")
    loop = IngestLoop(services, src)
    with structlog.testing.capture_logs() as logs:
        for _ in range(3):
            assert await loop.run_once() == 0
    assert [e["event"] for e in logs if e["log_level"] in ("error", "warning")] == [
        "source_degraded"
    ]
    state = await pool.fetchrow(
        "SELECT degraded, last_error FROM source_state WHERE source = $1", src.name
    )
    assert state["degraded"] is True
    assert "login refused" in state["last_error"]


async def test_tls_modes(dovecot: Dovecot, mailbox: str, make_imap: Any) -> None:
    assert dovecot.cert is not None
    ca = str(dovecot.cert)
    for opts in (
        {"tls": "starttls", "port": dovecot.imap_port, "ca_file": ca},
        {"tls": "implicit", "port": dovecot.imaps_port, "ca_file": ca},
        {"tls": "implicit", "port": dovecot.imaps_port, "verify": False},
    ):
        src, _ = make_imap(mailbox, **opts)
        await src.check()
        await src.close()
    src, _ = make_imap(mailbox, tls="implicit", port=dovecot.imaps_port)
    with pytest.raises(ConfigError, match="not trusted"):
        await src.check()


async def test_idle_wakes_up_when_mail_arrives(
    dovecot: Dovecot, mailbox: str, make_imap: Any
) -> None:
    src, _ = make_imap(mailbox)
    await src.check()
    started = time.monotonic()
    waiter = asyncio.create_task(src.wait_for_new(30))
    await asyncio.sleep(0.5)
    await asyncio.to_thread(dovecot.deliver, mailbox, [corpus()["01_plain_indonesian.eml"]])
    await asyncio.wait_for(waiter, 10)
    assert time.monotonic() - started < 10
    # The connection is usable after IDLE.
    batches = [b async for b in src.pull(None)]
    assert sum(len(b.items) for b in batches) == 1


async def test_server_down_is_transient_and_comes_back(
    pool, dovecot: Dovecot, mailbox: str, make_imap: Any
) -> None:
    from tests.email.servers import free_port

    src, services = make_imap(mailbox, port=free_port())
    loop = IngestLoop(services, src)
    assert await loop.run_once() == 0
    state = await pool.fetchrow(
        "SELECT degraded, last_error FROM source_state WHERE source = $1", src.name
    )
    assert state["degraded"] is False and "connection" in state["last_error"]


async def test_a_connection_the_server_dropped_is_replaced_and_cancelled_idle_recovers(
    pool, dovecot: Dovecot, mailbox: str, make_imap: Any
) -> None:
    import subprocess

    msgs = corpus()
    src, services = make_imap(mailbox)
    loop = IngestLoop(services, src)
    await asyncio.to_thread(dovecot.deliver, mailbox, [msgs["01_plain_indonesian.eml"]])
    assert await loop.run_once() == 1
    # The server throws our kept-open session out (restart, idle timeout, admin kick).
    await asyncio.to_thread(
        subprocess.run,
        ["doveadm", "-c", str(dovecot.root / "dovecot.conf"), "kick", mailbox],
        check=True,
        capture_output=True,
    )
    await asyncio.to_thread(dovecot.deliver, mailbox, [msgs["02_encoded_words.eml"]])
    assert await loop.run_once() == 1
    # The daemon stops while we are in IDLE: the half-open session is dropped, not reused.
    waiter = asyncio.create_task(src.wait_for_new(30))
    await asyncio.sleep(0.3)
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    await asyncio.to_thread(dovecot.deliver, mailbox, [msgs["04_alternative.eml"]])
    assert await loop.run_once() == 1
    state = await pool.fetchrow(
        "SELECT degraded, last_error FROM source_state WHERE source = $1", src.name
    )
    assert state["degraded"] is False and state["last_error"] is None


async def test_a_message_in_a_known_thread_is_a_reply_else_a_complaint(
    pool, dovecot: Dovecot, mailbox: str, make_imap: Any
) -> None:
    """The citizen answers a staff member's manual reply (not our Message-ID, no tag): the
    References still name their original complaint, so it lands there."""
    msgs = corpus()
    src, services = make_imap(mailbox)
    await asyncio.to_thread(dovecot.deliver, mailbox, [msgs["01_plain_indonesian.eml"]])
    assert await drain(services, src) == 1
    answer = (
        b"From: Budi Santoso <budi.santoso@warga.test>\r\nTo: pengaduan@kota.test\r\n"
        b"Subject: Re: Jalan rusak di Jl. Tjilik Riwut km 5\r\n"
        b"Message-ID: <budi-2@mail.warga.test>\r\nIn-Reply-To: <staf-manual-9@kota.test>\r\n"
        b"References: <CAFx01-budi@mail.warga.test> <staf-manual-9@kota.test>\r\n\r\n"
        b"Tambahan: lubangnya sekarang makin lebar.\r\n"
    )
    await asyncio.to_thread(dovecot.deliver, mailbox, [answer, msgs["09_quoted_and_signature.eml"]])
    assert await drain(services, src) == 2
    states = {
        r["source_ref"]: r["state"]
        for r in await pool.fetch("SELECT source_ref, state FROM raw_items")
    }
    assert states["<budi-2@mail.warga.test>"] == "reply"
    # Replying to a newsletter nobody filed a complaint about is a new complaint.
    assert states["<q-09@warga.test>"] == "accepted"
    assert await pool.fetchval("SELECT count(*) FROM complaints") == 2
    text = await pool.fetchval("SELECT text FROM reporter_replies")
    assert text == "Tambahan: lubangnya sekarang makin lebar."
