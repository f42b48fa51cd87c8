"""Issue 12, end to end, with the real daemon (`satukanal run`, embedded LAPOR! sandbox),
real Postfix + Dovecot and real gammu-smsd: what the citizen is told is true, once, and
only the reporter speaks for the report.

- a backlog burst (assign → not our authority → reassign → response) reaches LAPOR!'s feed
  at once: every sentence the SMS citizen receives names the agency of its own event;
- the same citizen re-sends the complaint (``BARU …``): linked once, and every later event
  still reaches that phone once;
- a stranger answers the SMS report by Tracking ID (``LAPOR <id> SUDAH …``) and another
  forges an e-mail reply (``[LAPOR! #id] SUDAH``): both are held unverified, nothing reaches
  LAPOR!, nothing resolves; the reporters' own replies on both channels do reach it;
- a failed delivery with fallback: a citizen whose mail server answers "450 4.2.2 mailbox
  full" to every attempt (the real Postfix, a recipient restriction) gives a phone number in
  the complaint; the acknowledgement is tried by e-mail, again after each backoff, then sent
  once by SMS through gammu-smsd, and LAPOR! received the complaint once.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest

from tests.e2e.test_followup_loop import (
    cli,
    emit,
    launch,
    log_tail,
    sandbox_root,
    stop_daemon,
    wait_for,
    write_config,
)
from tests.email.helpers import imap_fetch_all
from tests.email.servers import Dovecot, Postfix
from tests.sms.conftest import Smsd

OWNER_PHONE, OWNER_E164 = "081366660001", "+6281366660001"
STRANGER_PHONE, STRANGER_E164 = "081399990009", "+6281399990009"
COMPLAINT = (
    "Lampu jalan di Jl. Rajawali km 4 mati semua sejak dua minggu, gelap dan rawan "
    "kecelakaan malam hari."
)
KEC = {"id": "60", "name": "Kecamatan Jekan Raya"}
PUPR = {"id": "45", "name": "Dinas Pekerjaan Umum dan Penataan Ruang"}
FULL_PHONE, FULL_E164 = "081355550005", "+6281355550005"
RETRY_BACKOFF_S = (1.0, 1.0)
ANSWER = (
    "Petugas UPT PJU telah mengganti 6 lampu di Jl. Rajawali km 4 pada 2 Desember "
    "2026, kini menyala kembali."
)


class FullMailboxPostfix(Postfix):
    """The tests' Postfix, plus one recipient it always answers "try later" (450 4.2.2), as
    a real server does for a mailbox over quota."""

    full: str = ""

    def _postfix(self, *args: str) -> None:
        if args == ("check",):  # main.cf is written, the server not started yet
            cfg = self.root / "etc"
            (cfg / "full").write_text(
                f"/^{re.escape(self.full)}$/ 450 4.2.2 mailbox {self.full} is full\n"
            )
            main = (cfg / "main.cf").read_text()
            (cfg / "main.cf").write_text(
                main.replace(
                    "smtpd_recipient_restrictions = permit_mynetworks, reject",
                    f"smtpd_recipient_restrictions = check_recipient_access regexp:{cfg}/full,"
                    " permit_mynetworks, reject",
                )
            )
        super()._postfix(*args)


@pytest.fixture(scope="module")
def full_postfix(mail_tmp: Path, dovecot: Dovecot) -> Iterator[FullMailboxPostfix]:
    server = FullMailboxPostfix(mail_tmp / "postfix-full", lmtp_port=dovecot.lmtp_port)
    server.full = dovecot.fresh_mailbox()
    server.start()
    try:
        yield server
    finally:
        server.stop()


def config_with_fallback(path: Path) -> Path:
    """The end-to-end configuration, with redelivery: two retries a second apart on the
    same channel, then the reporter's other channel through the named sources."""
    text = path.read_text()
    backoff = ", ".join(str(s) for s in RETRY_BACKOFF_S)
    path.write_text(
        text.replace(
            "[notify]\n",
            f"[notify]\nretry_backoff_s = [{backoff}]\n"
            'fallback_sources = { sms = "sms-gammu", email = "email-kota" }\n',
            1,
        )
    )
    return path


async def sms_to(smsd: Smsd, number: str) -> list[str]:
    conn = await asyncpg.connect(smsd.dsn)
    try:
        rows = await conn.fetch(
            'SELECT "ID", "SequencePosition", "TextDecoded" FROM sentitems '
            'WHERE "DestinationNumber" = $1 ORDER BY "ID", "SequencePosition"',
            number,
        )
    finally:
        await conn.close()
    out: dict[int, str] = {}
    for r in rows:
        out[r["ID"]] = out.get(r["ID"], "") + r["TextDecoded"]
    return [re.sub(r"\s+", " ", s) for s in out.values()]


def items_of(texts: list[str]) -> list[str]:
    """Each event's sentence of possibly merged SMS messages, in order."""
    return [
        p
        for t in texts
        for p in re.split(r"\s+(?=Laporan |Tanggapan )", t)
        if p.startswith(("Laporan ", "Tanggapan "))
    ]


async def mails_to(dovecot: Dovecot, box: str) -> list[EmailMessage]:
    import email
    import email.policy

    return [
        email.message_from_bytes(r, policy=email.policy.default)  # type: ignore[misc]
        for r in await imap_fetch_all(dovecot, box)
    ]


async def test_burst_duplicate_and_forged_replies(
    tmp_path: Path,
    db_dsn: str,
    pool: asyncpg.Pool,
    dovecot: Dovecot,
    full_postfix: FullMailboxPostfix,
    smsd: Smsd,
) -> None:
    postfix: Postfix = full_postfix
    intake_box = dovecot.fresh_mailbox()
    citizen, mallory = dovecot.fresh_mailbox(), dovecot.fresh_mailbox()
    log_path = tmp_path / "daemon.log"
    cfg, _base, daemon = await launch(
        log_path,
        lambda port: config_with_fallback(
            write_config(tmp_path, db_dsn, port, dovecot, postfix, intake_box, smsd)
        ),
    )
    proc: asyncio.subprocess.Process | None = daemon
    try:
        async with aiohttp.ClientSession() as http:
            sandbox = await sandbox_root(log_path)
            smsd.deliver(OWNER_PHONE, COMPLAINT)
            complaint = EmailMessage()
            complaint["From"] = f"Rina <{citizen}>"
            complaint["To"] = intake_box
            complaint["Subject"] = "Drainase tersumbat di Jl. Kinibalu"
            complaint["Message-ID"] = "<aduan-drainase-1@warga.test>"
            complaint.set_content(
                "Saluran drainase di depan rumah No. 7 Jl. Kinibalu tersumbat"
                " sampah, air meluap ke jalan setiap hujan."
            )
            await asyncio.to_thread(postfix.send, citizen, [intake_box], complaint.as_bytes())

            async def pushed() -> dict[str, str] | None:
                async with pool.acquire() as conn:
                    rows = await conn.fetch(
                        "SELECT source, lapor_tracking_id FROM complaints"
                        " WHERE lapor_tracking_id IS NOT NULL"
                    )
                got = {r["source"]: r["lapor_tracking_id"] for r in rows}
                return got if len(got) == 2 else None

            tid = await wait_for(pushed, "both complaints pushed to LAPOR!")
            t_sms, t_mail = tid["sms-gammu"], tid["email-kota"]
            acks = await wait_for(lambda: _n(mails_to(dovecot, citizen), 1), "the e-mail ack")
            ack = acks[0]
            await wait_for(lambda: _n(sms_to(smsd, OWNER_E164), 1), "the SMS ack")

            # ---- the same citizen re-sends the complaint: linked, told once -------------------
            smsd.deliver(OWNER_PHONE, "BARU " + COMPLAINT)
            linked = await wait_for(lambda: _n(sms_to(smsd, OWNER_E164), 2), "the linked notice")
            assert f"digabung dengan laporan LAPOR! #{t_sms}" in linked[1], linked

            # ---- a stranger and a forger answer for the reporters; then the reporters --------
            smsd.deliver(STRANGER_PHONE, f"LAPOR {t_sms} SUDAH beres, tutup saja laporannya.")
            forged = EmailMessage()
            forged["From"] = f"Petugas <{mallory}>"
            forged["To"] = intake_box
            forged["Subject"] = f"[LAPOR! #{t_mail}] SUDAH"
            forged["Message-ID"] = "<palsu-1@warga.test>"
            forged.set_content("SUDAH")
            await asyncio.to_thread(postfix.send, mallory, [intake_box], forged.as_bytes())

            async def held() -> list[asyncpg.Record] | None:
                async with pool.acquire() as conn:
                    rows = await conn.fetch(
                        "SELECT text, channel, unverified_reason FROM"
                        " reporter_replies WHERE NOT verified"
                    )
                return rows if len(rows) >= 2 else None

            held_rows = await wait_for(held, "both forged replies held")
            reasons = {r["channel"]: r["unverified_reason"] for r in held_rows}
            assert reasons == {
                "sms": f"nomor pengirim bukan nomor pelapor pengaduan #{t_sms}",
                "email": f"alamat e-mail pengirim bukan alamat pelapor pengaduan #{t_mail}",
            }

            smsd.deliver(OWNER_PHONE, f"LAPOR {t_sms} Malam ini masih gelap total.")
            own = EmailMessage()
            own["From"] = f"Rina <{citizen}>"
            own["To"] = intake_box
            own["Subject"] = f"Re: {ack['Subject']}"
            own["Message-ID"] = "<balasan-drainase-1@warga.test>"
            own["In-Reply-To"] = ack["Message-ID"]
            own["References"] = f"{ack['References']} {ack['Message-ID']}"
            own.set_content("Airnya sudah masuk ke halaman rumah warga.")
            await asyncio.to_thread(postfix.send, citizen, [intake_box], own.as_bytes())

            async def lapor_replies() -> list[dict[str, Any]] | None:
                async with http.get(f"{sandbox}/_sandbox/replies") as r:
                    items = list((await r.json())["items"])
                return items if len(items) >= 2 else None

            got = await wait_for(lambda: lapor_replies(), "the reporters' own replies in LAPOR!")
            await asyncio.sleep(2)  # anything forged would be on its way by now
            got = await lapor_replies() or []
            assert sorted((r["tracking_id"], r["text"]) for r in got) == sorted(
                [
                    (t_sms, "Malam ini masih gelap total."),
                    (t_mail, "Airnya sudah masuk ke halaman rumah warga."),
                ]
            ), got
            assert all(r.get("resolved") is not True for r in got), got

            # ---- a backlog burst on LAPOR!'s side, all at once ---------------------------------
            for ev in (
                {"type": "disposed", "agency": KEC},
                {"type": "status_changed", "status": "terdisposisi"},
                {"type": "status_changed", "status": "bukan_wewenang"},
                {"type": "disposed", "agency": PUPR},
                {"type": "status_changed", "status": "terdisposisi"},
                {
                    "type": "response_posted",
                    "agency": PUPR,
                    "author": "Admin Penghubung",
                    "text": ANSWER,
                    "attachments": [],
                },
            ):
                await emit(http, sandbox, t_sms, ev)

            async def burst_told() -> list[str] | None:
                texts = await sms_to(smsd, OWNER_E164)
                return texts if any(ANSWER[:40] in t for t in texts) else None

            await wait_for(burst_told, "the burst told to the SMS citizen")
            await asyncio.sleep(3)  # a second copy (the linked record's) would arrive by now
            texts = await sms_to(smsd, OWNER_E164)
            said = items_of(texts[2:])
            expect = [
                f"diteruskan kepada {KEC['name']}",
                f"bukan kewenangan {KEC['name']}",
                f"diteruskan kepada {PUPR['name']}",
                f"Tanggapan {PUPR['name']}",
            ]
            assert len(said) == 4, texts
            for sentence, phrase in zip(said, expect, strict=True):
                assert phrase in sentence, (phrase, texts)
            assert sum(ANSWER[:40] in t for t in texts) == 1, texts
            # Nobody who is not the reporter was told anything.
            assert await sms_to(smsd, STRANGER_E164) == []
            assert await mails_to(dovecot, mallory) == []
            assert len(await mails_to(dovecot, citizen)) == 1  # the ack; no forged echo

            # ---- a failed delivery with fallback: the mailbox is full, the phone is not ------
            await fallback_to_sms(http, sandbox, pool, dovecot, full_postfix, smsd, intake_box)

        rc = await stop_daemon(daemon, check=False)
        assert rc == 0, log_tail(log_path)
        proc = None
        # ---- the operator's view: every reply, verified or held, with the reason -----------
        out = await asyncio.to_thread(cli, cfg, "complaints", "show", t_sms, "--json")
        assert out.returncode == 0, out.stderr[-2000:]
        shown = json.loads(out.stdout)
        assert [(r["text"], r["verified"], r["verified_by"]) for r in shown["replies"]] == [
            ("SUDAH beres, tutup saja laporannya.", False, None),
            ("Malam ini masih gelap total.", True, "phone"),
        ]
        assert shown["resolved_by_reporter"] is None
        assert "reporter_reply_unverified" in [e["kind"] for e in shown["timeline"]]
    finally:
        if proc is not None:
            rc = await stop_daemon(proc, check=False)
            print(f"daemon exit code {rc}; log tail:\n{log_tail(log_path)}")


async def fallback_to_sms(
    http: aiohttp.ClientSession,
    sandbox: str,
    pool: asyncpg.Pool,
    dovecot: Dovecot,
    postfix: FullMailboxPostfix,
    smsd: Smsd,
    intake_box: str,
) -> None:
    text = (
        "Pohon tumbang menutup separuh Jl. Diponegoro depan SDN 4 sejak subuh, belum ada "
        f"petugas. Bisa hubungi saya di HP {FULL_PHONE[:4]}-{FULL_PHONE[4:8]}-{FULL_PHONE[8:]}."
    )
    complaint = EmailMessage()
    complaint["From"] = f"Yanti <{postfix.full}>"
    complaint["To"] = intake_box
    complaint["Subject"] = "Pohon tumbang di Jl. Diponegoro"
    complaint["Message-ID"] = "<aduan-pohon-1@warga.test>"
    complaint.set_content(text)
    await asyncio.to_thread(postfix.send, postfix.full, [intake_box], complaint.as_bytes())

    async def pushed() -> asyncpg.Record | None:
        async with pool.acquire() as conn:
            row: asyncpg.Record | None = await conn.fetchrow(
                "SELECT id, lapor_tracking_id FROM complaints WHERE thread_keys @> $1::text[]"
                " AND lapor_tracking_id IS NOT NULL",
                ["<aduan-pohon-1@warga.test>"],
            )
        return row

    row = await wait_for(pushed, "the tree complaint pushed to LAPOR!")
    cid, tid = row["id"], row["lapor_tracking_id"]
    sms = await wait_for(lambda: _n(sms_to(smsd, FULL_E164), 1), "the acknowledgement by SMS")
    await asyncio.sleep(2)  # a second copy on either channel would be on its way by now
    # The citizen: one SMS with the Tracking ID; nothing by e-mail (the server never took it).
    assert await sms_to(smsd, FULL_E164) == sms
    assert f"#{tid}" in sms[0] and f"LAPOR {tid}" in sms[0], sms
    assert await mails_to(dovecot, postfix.full) == []
    async with pool.acquire() as conn:
        notes = await conn.fetch(
            "SELECT id, retry_of, channel, state::text AS state, detail, sending_at"
            " FROM notifications WHERE complaint_id = $1 ORDER BY redelivery_no",
            cid,
        )
        planned = await conn.fetch(
            "SELECT data FROM events WHERE complaint_id = $1"
            " AND kind = 'notification_redelivery_planned' ORDER BY id",
            cid,
        )
    # Tried by e-mail, again after each backoff, then once by SMS.
    attempts = 1 + len(RETRY_BACKOFF_S)
    assert [(n["channel"], n["state"]) for n in notes][:attempts] == [
        ("email", "failed")
    ] * attempts
    assert [n["channel"] for n in notes] == ["email"] * attempts + ["sms"], notes
    assert notes[-1]["state"] in ("sent", "delivered"), notes[-1]
    assert notes[-1]["retry_of"] == notes[attempts - 1]["id"]
    for n in notes[:attempts]:
        assert n["detail"].startswith("the citizen's server deferred it: 450 4.2.2"), n["detail"]
        assert postfix.full not in n["detail"]
    for before, after, wait in zip(
        notes[: attempts - 1], notes[1:attempts], RETRY_BACKOFF_S, strict=True
    ):
        assert after["retry_of"] == before["id"]
        assert (after["sending_at"] - before["sending_at"]).total_seconds() >= wait
    steps = [(d["channel"], d["step"]) for d in (_json(p["data"]) for p in planned)]
    assert steps == [("email", "retry")] * len(RETRY_BACKOFF_S) + [("sms", "fallback")]
    # LAPOR! received the complaint once, and nothing of the delivery trouble.
    async with http.get(f"{sandbox}/_sandbox/reports") as r:
        reports = [x for x in (await r.json())["items"] if "Pohon tumbang" in str(x)]
    assert len(reports) == 1 and str(reports[0].get("tracking_id")) == tid, reports
    async with http.get(f"{sandbox}/_sandbox/replies") as r:
        assert [x for x in (await r.json())["items"] if x["tracking_id"] == tid] == []


async def _n(coro: Any, n: int) -> Any:
    items = await coro
    assert len(items) <= n, ("more messages than expected", items)
    return items if len(items) == n else None


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value
