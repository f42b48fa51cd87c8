"""`satukanal demo --until-idle`: the simulated citizens get their answers on every channel
that can carry one (SMS to the stand-in Kannel's log, e-mail into the Maildir outbox) and
the e-mail citizens answer in the thread."""

from __future__ import annotations

import asyncio
import email
import json
import subprocess
import sys
from email.policy import default
from pathlib import Path

import pytest

from aggregator.lapor.sandbox.embedded import free_port

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
