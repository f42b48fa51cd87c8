"""`satukanal config check --connect` against real servers: the database, the LAPOR! sandbox
(its OAuth token), Dovecot (IMAP login), Postfix (SMTP), a Gammu database, an old form's
MariaDB, Kannel's sendsms login; each reported ok, or failed with the reason."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from aggregator.crypto import generate_key
from aggregator.lapor.sandbox.embedded import CLIENT_ID, CLIENT_SECRET, embedded_sandbox
from tests.core.test_daemon import ENV
from tests.email.servers import PASSWORD
from tests.forms.legacy import create_legacy_db, drop_legacy_db
from tests.sms.kannel import FakeSmsc, Kannel


def write_config(tmp: Path, dsn: str, lapor_url: str, lapor_secret: str, **srv: str) -> Path:
    secrets = tmp / "secrets"
    secrets.mkdir(exist_ok=True)
    for name, value in {
        "lapor": lapor_secret,
        "imap": srv["imap_password"],
        "k1": generate_key(),
        "hmac": generate_key(),
    }.items():
        (secrets / name).write_text(value + "\n")
        (secrets / name).chmod(0o640)
    cfg = tmp / "satukanal.toml"
    cfg.write_text(f"""
data_dir = "{tmp / "data"}"
[database]
url = "{dsn}"
[http]
public_base_url = "https://pengaduan.kota.example"
[crypto]
hmac_key_file = "{secrets / "hmac"}"
[[crypto.keys]]
id = "k1"
secret_file = "{secrets / "k1"}"
[lapor]
base_url = "{lapor_url}"
client_id = "{CLIENT_ID}"
client_secret_file = "{secrets / "lapor"}"
[[sources]]
name = "email-kota"
kind = "imap"
[sources.options]
host = "127.0.0.1"
port = {srv["imap_port"]}
tls = "none"
user = "{srv["imap_user"]}"
password_file = "{secrets / "imap"}"
[sources.options.smtp]
host = "127.0.0.1"
port = {srv["smtp_port"]}
tls = "none"
from_address = "pengaduan@kota.test"
[[sources]]
name = "sms-gammu"
kind = "gammu"
[sources.options]
driver = "pgsql"
dsn = "{srv["gammu_dsn"]}"
[[sources]]
name = "form-lama"
kind = "sql_table"
[sources.options]
url = "{srv["form_url"]}"
[[sources]]
name = "sms-kannel"
kind = "sms_http"
[sources.options]
secret = "gateway-secret"
[sources.options.kannel]
sendsms_url = "{srv["kannel_url"]}"
username = "{srv["kannel_user"]}"
password = "{srv["kannel_password"]}"
[[sources]]
name = "web-kota"
kind = "form_http"
""")
    return cfg


async def connect_check(cfg: Path) -> subprocess.CompletedProcess[str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "aggregator",
        "--config",
        str(cfg),
        "config",
        "check",
        "--connect",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=ENV,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 180)
    return subprocess.CompletedProcess([], proc.returncode or 0, out.decode(), err.decode())


def line(report: str, name: str) -> str:
    found = [x for x in report.splitlines() if f"  {name}" in x]
    assert found, (name, report)
    return found[0]


async def test_every_connection_is_tried_and_reported(tmp_path, db_dsn, dovecot, postfix, gammu_pg):
    legacy = await create_legacy_db(seed=False)
    smsc = FakeSmsc()
    await smsc.start()
    root = Path(tempfile.mkdtemp(prefix="satukanal-kannel-"))
    kannel = Kannel(root, smsc, "http://127.0.0.1:9/unused")
    kannel.start()
    servers = dict(
        imap_port=str(dovecot.imap_port),
        imap_user=dovecot.fresh_mailbox(),
        imap_password=PASSWORD,
        smtp_port=str(postfix.smtp_port),
        gammu_dsn=gammu_pg,
        form_url=legacy.url,
        kannel_url=kannel.sendsms_url,
        kannel_user=kannel.username,
        kannel_password=kannel.password,
    )
    try:
        async with embedded_sandbox(tmp_path / "sandbox.json", life="none") as lapor_url:
            good = write_config(tmp_path, db_dsn, lapor_url, CLIENT_SECRET, **servers)
            out = await connect_check(good)
            assert out.returncode == 0, out.stderr
            report = out.stderr
            assert line(report, "database").lstrip().startswith("ok")
            assert "schema up to date" in line(report, "database")
            assert "token accepted" in line(report, "LAPOR!")
            for name in (
                "source email-kota (imap)",
                "source email-kota: replies (SmtpSink)",
                "source sms-gammu (gammu)",
                "source form-lama (sql_table)",
                "source sms-kannel: replies (KannelSink)",
            ):
                assert line(report, name).lstrip().startswith("ok"), report
            assert line(report, "source web-kota (form_http)").lstrip().startswith("--")
            assert "every connection answered" in report
            assert CLIENT_SECRET not in out.stdout + out.stderr

            # The same file with wrong credentials: each failure named, with its reason.
            bad_dir = tmp_path / "bad"
            bad_dir.mkdir()
            wrong = dict(
                servers,
                imap_password="salah",
                kannel_password="salah",
                form_url=legacy.url.replace(legacy.database, "tidak_ada"),
            )
            bad = write_config(
                bad_dir,
                db_dsn.rsplit("/", 1)[0] + "/tidak_ada",
                lapor_url,
                "bukan-rahasia",
                **wrong,
            )
            out = await connect_check(bad)
            assert out.returncode == 1, out.stderr
            report = out.stderr
            assert "FAILED" in line(report, "database") and "tidak_ada" in line(report, "database")
            assert "FAILED" in line(report, "LAPOR!") and "refused" in line(report, "LAPOR!")
            assert "FAILED" in line(report, "source email-kota (imap)")
            assert "FAILED" in line(report, "source form-lama (sql_table)")
            kannel_line = line(report, "source sms-kannel: replies (KannelSink)")
            assert "FAILED" in kannel_line and "refused the sendsms login" in kannel_line
            assert "of" in report and "connection(s) failed" in report
    finally:
        kannel.stop()
        await smsc.stop()
        shutil.rmtree(root, ignore_errors=True)
        await drop_legacy_db(legacy)
