"""Configured follow-up phrases reach the running daemon (issue 11 item 1).

The daemon is built as ``satukanal run`` builds it (``open_services`` then ``assemble``, the
embedded LAPOR! sandbox, a maildir source) and driven in the supervisor's own rounds. An agency
answer the shipped library reads as a mere acknowledgement is stored as an information request
once ``[followup] info_request_phrases`` names its phrase.
"""

from __future__ import annotations

import asyncio
from email.message import EmailMessage
from pathlib import Path

import aiohttp
import asyncpg

from aggregator.crypto import generate_key
from aggregator.demo.citizens import deliver_to_maildir
from aggregator.lapor.apply import default_classifier
from aggregator.wiring.assemble import assemble
from aggregator.wiring.runtime import open_services
from aggregator.wiring.settings import load_settings
from aggregator.wiring.supervisor import RunStats, _until_idle

ANSWER = "Silakan datang ke kantor kelurahan dengan membawa KTP."
PHRASE = "datang ke kantor kelurahan"


def write_config(tmp: Path, dsn: str, followup: str) -> Path:
    maildir = tmp / "Maildir"
    for sub in ("tmp", "new", "cur"):
        (maildir / sub).mkdir(parents=True, exist_ok=True)
    path = tmp / "satukanal.toml"
    path.write_text(f"""
data_dir = "{tmp / "data"}"
[database]
url = "{dsn}"
[crypto]
hmac_key = "{generate_key()}"
[[crypto.keys]]
id = "k1"
secret = "{generate_key()}"
[agencies]
DISKOMINFO = "55"
[lapor]
sandbox = true
[http]
port = 0
[[sources]]
name = "email-warga"
kind = "maildir"
agency = "DISKOMINFO"
[sources.options]
path = "{maildir}"
{followup}
""")
    return path


def mail() -> bytes:
    msg = EmailMessage()
    msg["From"] = "Warga <warga1@contoh.id>"
    msg["To"] = "pengaduan@kota.example"
    msg["Subject"] = "Akta kelahiran belum terbit"
    msg["Message-ID"] = "<akta-1@contoh.id>"
    msg["Date"] = "Sat, 28 Nov 2026 08:00:00 +0700"
    msg.set_content("Akta kelahiran anak saya belum terbit sejak dua bulan, mohon dibantu.")
    return msg.as_bytes()


async def label_in_daemon(tmp: Path, dsn: str, followup: str) -> str:
    settings = load_settings(write_config(tmp, dsn, followup), environ={})
    async with (
        open_services(settings, run_migrations=False) as opened,
        assemble(opened) as comp,
    ):
        services = comp.services
        deliver_to_maildir(tmp / "Maildir", mail())
        assert await _until_idle(services, comp, asyncio.Event(), RunStats())
        async with services.pool.acquire() as conn:
            tracking_id = await conn.fetchval("SELECT lapor_tracking_id FROM complaints")
        assert tracking_id, "the complaint was not pushed to the sandbox"
        assert services.lapor_base_url is not None
        root = services.lapor_base_url.rsplit("/api/v1", 1)[0]
        async with aiohttp.ClientSession() as http:
            event = {
                "type": "response_posted",
                "author": "Admin Disdukcapil",
                "text": ANSWER,
                "attachments": [],
            }
            async with http.post(
                f"{root}/_sandbox/reports/{tracking_id}/events", json=event
            ) as resp:
                assert resp.status == 200, await resp.text()
        assert await _until_idle(services, comp, asyncio.Event(), RunStats())
    conn = await asyncpg.connect(dsn)
    try:
        labels = [r["label"] for r in await conn.fetch("SELECT label::text FROM followups")]
    finally:
        await conn.close()
    assert len(labels) == 1, labels
    return str(labels[0])


async def test_a_configured_phrase_changes_the_label_the_daemon_stores(
    tmp_path: Path, pg_server_dsn: str, template_dsn: str
) -> None:
    from tests.conftest import drop_database, make_database

    assert default_classifier()(ANSWER, 0)[0] == "acknowledgement"  # the shipped library alone
    labels = {}
    for case, followup in (
        ("shipped", ""),
        ("configured", f'[followup]\ninfo_request_phrases = ["{PHRASE}"]'),
    ):
        dsn = await make_database(pg_server_dsn)
        try:
            (tmp_path / case).mkdir()
            labels[case] = await label_in_daemon(tmp_path / case, dsn, followup)
        finally:
            await drop_database(pg_server_dsn, dsn)
    assert labels == {"shipped": "acknowledgement", "configured": "info_request"}
