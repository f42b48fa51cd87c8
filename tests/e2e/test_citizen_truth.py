"""Issue 12, end to end, with the real daemon (`satukanal run`, embedded LAPOR! sandbox),
real Postfix + Dovecot and real gammu-smsd: what the citizen is told is true, once, and
only the reporter speaks for the report.

- a backlog burst (assign → not our authority → reassign → response) reaches LAPOR!'s feed
  at once: every sentence the SMS citizen receives names the agency of its own event;
- the same citizen re-sends the complaint (``BARU …``): linked once, and every later event
  still reaches that phone once;
- a stranger answers the SMS report by Tracking ID (``LAPOR <id> SUDAH …``) and another
  forges an e-mail reply (``[LAPOR! #id] SUDAH``): both are held unverified, nothing reaches
  LAPOR!, nothing resolves; the reporters' own replies on both channels do reach it.
"""

from __future__ import annotations

import asyncio
import json
import re
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg

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
ANSWER = (
    "Petugas UPT PJU telah mengganti 6 lampu di Jl. Rajawali km 4 pada 2 Desember "
    "2026, kini menyala kembali."
)


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
    postfix: Postfix,
    smsd: Smsd,
) -> None:
    intake_box = dovecot.fresh_mailbox()
    citizen, mallory = dovecot.fresh_mailbox(), dovecot.fresh_mailbox()
    log_path = tmp_path / "daemon.log"
    cfg, _base, daemon = await launch(
        log_path,
        lambda port: write_config(tmp_path, db_dsn, port, dovecot, postfix, intake_box, smsd),
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


async def _n(coro: Any, n: int) -> Any:
    items = await coro
    assert len(items) <= n, ("more messages than expected", items)
    return items if len(items) == n else None
