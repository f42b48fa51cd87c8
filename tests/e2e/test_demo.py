"""`satukanal demo --until-idle`: the whole story, as a visitor sees it. Every demo complaint
reaches a final state in LAPOR! and every message is delivered before the demo exits; the
simulated citizens get their answers on every channel that can carry one (SMS to the
stand-in Kannel's log, with delivery reports; e-mail into the Maildir outbox) and the e-mail
citizens answer in the thread; the agencies' answers fit the complaints; the closing summary
says what happened."""

from __future__ import annotations

import asyncio
import email
import json
import subprocess
import sys
from email.policy import default
from pathlib import Path

import asyncpg
import pytest

from aggregator.demo.citizens import SCRIPT
from tests.support.ports import free_port

pytestmark = pytest.mark.timeout(400)
ROOT = Path(__file__).resolve().parents[2]

RUN = """
import asyncio, sys
from pathlib import Path
from aggregator.wiring.supervisor import run_daemon
from aggregator.demo.setup import demo_settings
from pydantic import SecretStr
settings = demo_settings(Path(sys.argv[1]), port=int(sys.argv[2]))
settings.database.url = SecretStr(sys.argv[3])  # the test server, not an embedded one
sys.exit(asyncio.run(run_daemon(settings, until_idle=True, citizens=True)))
"""


async def test_demo_answers_sms_and_email_citizens(tmp_path: Path, db_dsn: str) -> None:
    data = tmp_path / "demo"
    out = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-c", RUN, str(data), str(free_port()), db_dsn],
        capture_output=True,
        text=True,
        timeout=360,
        cwd=ROOT,
    )
    assert out.returncode == 0, out.stderr[-3000:] + out.stdout[-3000:]
    assert "stopped waiting" not in out.stderr
    banner = out.stdout + out.stderr
    outbox = data / "maildir" / "terkirim"
    assert f"e-mail answers to citizens are written to {outbox / 'new'}" in banner

    sms = [json.loads(line) for line in (data / "sms-ke-warga.jsonl").read_text().splitlines()]
    assert any("LAPOR" in m["text"] for m in sms)

    assert list((outbox / "tmp").iterdir()) == []
    answers = [
        email.message_from_bytes(p.read_bytes(), policy=default)
        for p in sorted((outbox / "new").iterdir())
    ]
    assert {str(a["To"]) for a in answers} == {"budi.santoso@contoh.id", "rina.w@contoh.id"}
    # Headers too long for one line are folded (RFC 5322); the stdlib keeps the space the
    # unfolding leaves in front, as mail clients do not.
    for a in answers:
        assert str(a["Subject"]).strip().startswith("Re: [LAPOR! #")
        assert str(a["In-Reply-To"]).strip().endswith("@contoh.id>")
        assert str(a["Message-ID"]).strip().endswith("@satukanal.palangkaraya.example>")
        assert "Yth. Bapak/Ibu" in a.get_body(("plain",)).get_content()
    # Each e-mail citizen answered once in the thread; intake took all four messages.
    inbox = sorted((data / "maildir" / "pengaduan" / "cur").iterdir())
    assert len(inbox) == 4 and list((data / "maildir" / "pengaduan" / "new").iterdir()) == []
    replies = [email.message_from_bytes(p.read_bytes(), policy=default) for p in inbox]
    threaded = [r for r in replies if r["In-Reply-To"]]
    assert len(threaded) == 2
    assert all(str(r["In-Reply-To"]).strip().startswith("<notif-") for r in threaded)

    conn = await asyncpg.connect(db_dsn)
    try:
        complaints = await conn.fetch(
            "SELECT id, channel, status::text AS status, lapor_tracking_id, agency_id, content "
            "FROM complaints ORDER BY received_at"
        )
        responses = await conn.fetch(
            "SELECT f.label::text AS label, f.text, f.attachments, c.agency_id, c.content "
            "FROM followups f JOIN complaints c ON c.id = f.complaint_id"
        )
        messages = await conn.fetch(
            "SELECT channel, state::text AS state FROM notifications "
            "WHERE (merged_into IS NULL OR merged_into = id) AND state <> 'skipped'"
        )
        open_jobs = await conn.fetchval(
            "SELECT count(*) FROM jobs WHERE state IN ('queued', 'running', 'in_doubt')"
        )
    finally:
        await conn.close()

    # Every report was played to its end, and nothing is left to send.
    assert len(complaints) == len(SCRIPT)
    assert {c["status"] for c in complaints} <= {"selesai", "arsip", "bukan_wewenang", "dihapus"}
    assert sum(c["status"] == "selesai" for c in complaints) >= 4
    assert all(c["lapor_tracking_id"] for c in complaints) and open_jobs == 0
    assert messages and all(m["state"] != "queued" for m in messages)
    assert all(m["state"] == "delivered" for m in messages if m["channel"] in ("sms", "whatsapp"))
    assert any(m["channel"] == "whatsapp" for m in messages)

    # Boilerplate and real follow-ups with photos both came, and each fits its complaint.
    labels = {r["label"] for r in responses}
    assert {"acknowledgement", "substantive_with_evidence", "forwarded"} <= labels
    for r in responses:
        if r["label"].startswith("substantive"):
            topic = r["content"].lower()
            assert not ("sampah" in r["text"].lower() and "sampah" not in topic), r["text"]
            if "pungutan" in topic:
                assert "dibebastugaskan" in r["text"], r["text"]

    # The closing summary a visitor reads.
    summary = out.stdout[out.stdout.index("What happened in this demo") :]
    assert "Complaints: 10 (2 by e-mail, 3 by SMS, 3 by web form, 2 by WhatsApp)" in summary
    for c in complaints:
        assert f"#{c['lapor_tracking_id']}" in summary
    assert "real follow-ups with photos" in summary and "boilerplate acknowledgements" in summary
    sms_sent = sum(m["channel"] == "sms" for m in messages)
    emails = sum(m["channel"] == "email" for m in messages)
    assert f"{sms_sent} SMS ({sms_sent} confirmed delivered" in summary
    assert f"{emails} e-mails" in summary
    shown = summary.split("complaints show ")[1].split()[0]
    assert shown in {str(c["id"]) for c in complaints}


async def test_demo_that_cannot_finish_in_time_says_what_is_outstanding(
    tmp_path: Path, db_dsn: str
) -> None:
    """A story takes about half a minute; given three seconds, the demo stops, names what it
    was still waiting for, and exits 1 (no summary pretends it is over)."""
    run = RUN.replace("citizens=True)", "citizens=True, outstanding_timeout_s=3.0)")
    out = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-c", run, str(tmp_path / "demo"), str(free_port()), db_dsn],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert out.returncode == 1, out.stderr[-3000:]
    assert "satukanal: stopped waiting after 3 s; still outstanding: " in out.stderr
    assert "not yet closed in LAPOR!" in out.stderr
    assert "What happened in this demo" not in out.stdout
