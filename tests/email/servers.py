"""Real Dovecot (IMAP + LMTP) and Postfix (SMTP) on loopback, from config folders in a temp dir.

Both run as root without systemd, from Debian's packages. Dovecot runs in the foreground
(``-F``); Postfix's master daemonises and is stopped with ``postfix -c DIR stop``. Postfix
delivers every recipient in our test domains to Dovecot over LMTP, and a regexp virtual
alias map catches every other address, so nothing can leave the machine.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import shutil
import smtplib
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.support.ports import free_port, wait_port

DOMAINS = ("kota.test", "warga.test")
PASSWORD = "rahasia-uji"
# Dovecot re-reads the passwd file only when its timestamp moves, so every login the tests
# need exists from the start: a pool of fresh mailboxes handed out one per test.
USERS = (
    "catchall@kota.test",
    "bench@kota.test",
    "budi.santoso@warga.test",
    *(f"box{i:02d}@kota.test" for i in range(60)),
)


def self_signed(dirpath: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(
            x509.SubjectAlternativeName(
                [
                    x509.DNSName("localhost"),
                    x509.IPAddress(__import__("ipaddress").ip_address("127.0.0.1")),
                ]
            ),
            False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = dirpath / "cert.pem", dirpath / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    key_path.chmod(0o600)
    return cert_path, key_path


@dataclass
class Dovecot:
    root: Path
    imap_port: int = field(default_factory=free_port)
    imaps_port: int = field(default_factory=free_port)
    lmtp_port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None
    cert: Path | None = None

    @property
    def mail_root(self) -> Path:
        return self.root / "mail"

    def maildir(self, user: str) -> Path:
        return self.mail_root / user / "Maildir"

    def start(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        os.chmod(self.root, 0o755)
        for sub in ("run", "state", "mail"):
            (self.root / sub).mkdir(exist_ok=True)
        shutil.chown(self.mail_root, "mail", "mail")
        self.cert, key = self_signed(self.root)
        users = "\n".join(f"{u}:{{PLAIN}}{PASSWORD}::::::" for u in USERS)
        (self.root / "users").write_text(users + "\n")
        conf = f"""
base_dir = {self.root}/run
state_dir = {self.root}/state
log_path = {self.root}/dovecot.log
instance_name = satukanal-test-{self.imap_port}
protocols = imap lmtp
listen = 127.0.0.1
ssl = yes
ssl_cert = <{self.cert}
ssl_key = <{key}
ssl_min_protocol = TLSv1.2
disable_plaintext_auth = no
auth_mechanisms = plain login
first_valid_uid = 8
mail_location = maildir:{self.mail_root}/%u/Maildir
mail_uid = mail
mail_gid = mail
mail_fsync = never
lmtp_save_to_detail_mailbox = no
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {self.root}/users
}}
userdb {{
  driver = static
  args = uid=mail gid=mail home={self.mail_root}/%u allow_all_users=yes
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {self.imap_port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {self.imaps_port}
    ssl = yes
  }}
}}
service lmtp {{
  inet_listener lmtp {{
    address = 127.0.0.1
    port = {self.lmtp_port}
  }}
}}
service anvil {{
  chroot =
}}
service imap-login {{
  chroot =
}}
protocol imap {{
  mail_max_userip_connections = 100
}}
namespace inbox {{
  inbox = yes
  mailbox Diproses {{
    auto = create
  }}
}}
"""
        (self.root / "dovecot.conf").write_text(conf)
        out = open(self.root / "stdout.log", "wb")
        self.proc = subprocess.Popen(
            ["dovecot", "-F", "-c", str(self.root / "dovecot.conf")],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        out.close()
        for port in (self.imap_port, self.imaps_port, self.lmtp_port):
            wait_port(port, proc=self.proc, log=self.root / "dovecot.log")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None

    def fresh_mailbox(self) -> str:
        """A login nobody has used in this session."""
        self._next_box = getattr(self, "_next_box", 0) + 1
        if self._next_box >= 60:
            raise RuntimeError("out of test mailboxes; raise the pool in USERS")
        return f"box{self._next_box:02d}@kota.test"

    def deliver(self, recipient: str, messages: list[bytes]) -> None:
        """Put messages into a mailbox over LMTP, byte for byte (Dovecot adds trace headers)."""
        with smtplib.LMTP("127.0.0.1", self.lmtp_port, timeout=60) as lmtp:
            for raw in messages:
                lmtp.sendmail("sender@warga.test", [recipient], raw)

    def clear(self, user: str) -> None:
        """Empty a user's mailbox (between tests)."""
        subprocess.run(
            [
                "doveadm",
                "-c",
                str(self.root / "dovecot.conf"),
                "expunge",
                "-u",
                user,
                "mailbox",
                "*",
                "all",
            ],
            check=False,
            capture_output=True,
        )


@dataclass
class Postfix:
    root: Path
    lmtp_port: int
    smtp_port: int = field(default_factory=free_port)
    smtps_port: int = field(default_factory=free_port)
    cert: Path | None = None
    started: bool = False

    def start(self) -> None:
        cfg, queue, data = self.root / "etc", self.root / "queue", self.root / "data"
        for d in (cfg, queue, data):
            d.mkdir(parents=True, exist_ok=True)
        os.chmod(self.root, 0o755)
        shutil.chown(data, "postfix")
        self.cert, key = self_signed(self.root)
        domains = ", ".join(DOMAINS)
        (cfg / "virtual").write_text(
            "if !/@(kota|warga)\\.test$/\n/^[^@]+@.+$/ catchall@kota.test\nendif\n"
        )
        (cfg / "main.cf").write_text(f"""
compatibility_level = 3.6
queue_directory = {queue}
data_directory = {data}
mail_owner = postfix
setgid_group = postdrop
myhostname = mx.kota.test
mydomain = kota.test
myorigin = kota.test
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtpd_relay_restrictions = permit_mynetworks, reject
smtpd_recipient_restrictions = permit_mynetworks, reject
virtual_mailbox_domains = {domains}
virtual_alias_domains =
virtual_alias_maps = regexp:{cfg}/virtual
virtual_transport = lmtp:inet:127.0.0.1:{self.lmtp_port}
default_transport = error:mail to the outside is disabled in tests
relay_transport = error:mail to the outside is disabled in tests
local_header_rewrite_clients =
message_size_limit = 60000000
smtp_dns_support_level = disabled
lmtp_host_lookup = native
smtpd_banner = $myhostname ESMTP
maillog_file_prefixes = {self.root}
maillog_file = {self.root}/maillog
alias_maps =
alias_database =
biff = no
smtputf8_enable = yes
smtpd_tls_cert_file = {self.cert}
smtpd_tls_key_file = {key}
smtpd_tls_security_level = may
""")
        services = [
            f"127.0.0.1:{self.smtp_port} inet n - n - - smtpd",
            f"127.0.0.1:{self.smtps_port} inet n - n - - smtpd -o smtpd_tls_wrappermode=yes",
            "pickup unix n - n 60 1 pickup",
            "cleanup unix n - n - 0 cleanup",
            "qmgr unix n - n 300 1 qmgr",
            "tlsmgr unix - - n 1000? 1 tlsmgr",
            "rewrite unix - - n - - trivial-rewrite",
            "bounce unix - - n - 0 bounce",
            "defer unix - - n - 0 bounce",
            "trace unix - - n - 0 bounce",
            "verify unix - - n - 1 verify",
            "flush unix n - n 1000? 0 flush",
            "proxymap unix - - n - - proxymap",
            "proxywrite unix - - n - 1 proxymap",
            "smtp unix - - n - - smtp",
            "relay unix - - n - - smtp",
            "showq unix n - n - - showq",
            "error unix - - n - - error",
            "retry unix - - n - - error",
            "discard unix - - n - - discard",
            "lmtp unix - - n - - lmtp",
            "anvil unix - - n - 1 anvil",
            "scache unix - - n - 1 scache",
            "postlog unix-dgram n - n - 1 postlogd",
        ]
        (cfg / "master.cf").write_text("\n".join(services) + "\n")
        self._postfix("check")
        self._postfix("start")
        self.started = True
        wait_port(self.smtp_port, log=self.root / "maillog")
        wait_port(self.smtps_port, log=self.root / "maillog")

    def _postfix(self, *args: str) -> None:
        proc = subprocess.run(
            ["postfix", "-c", str(self.root / "etc"), *args],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=60,
        )
        if proc.returncode != 0:
            log = self.root / "maillog"
            raise RuntimeError(
                f"postfix {args}: {proc.stdout!r} {proc.stderr!r} "
                f"{log.read_text()[-2000:] if log.exists() else ''}"
            )

    def stop(self) -> None:
        if self.started:
            with contextlib.suppress(Exception):
                self._postfix("stop")
            self.started = False

    def send(self, sender: str, recipients: list[str], raw: bytes) -> None:
        with smtplib.SMTP("127.0.0.1", self.smtp_port, timeout=60) as smtp:
            smtp.sendmail(sender, recipients, raw)
