"""Options of the e-mail sources and sink (``sources[].options`` in the configuration)."""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator

from connectors.base import ConnectorOptions
from connectors.email.parser import MB, ParseOptions

TlsMode = Literal["implicit", "starttls", "none"]


class _Options(ConnectorOptions):
    """Secrets (``password``) may come from ``password_file`` (see ConnectorOptions)."""


class TlsOptions(_Options):
    tls: TlsMode = "starttls"
    ca_file: Path | None = None
    verify: bool = True

    def ssl_context(self) -> ssl.SSLContext | None:
        if self.tls == "none":
            return None
        ctx = ssl.create_default_context(cafile=str(self.ca_file) if self.ca_file else None)
        if not self.verify:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        return ctx


class SenderOptions(_Options):
    """Who our replies come from, and the domain of our Message-IDs (both sinks)."""

    from_address: str = Field(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    from_name: str = "Layanan Pengaduan"
    message_id_domain: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9.-]+$",
        description="our Message-IDs: <notif-…@satukanal.<this>>; default: from_address's domain",
    )

    @model_validator(mode="after")
    def _default_domain(self) -> SenderOptions:
        if not self.message_id_domain:
            self.message_id_domain = self.from_address.rsplit("@", 1)[1].lower()
        return self


class SmtpOptions(SenderOptions, TlsOptions):
    host: str
    port: int | None = Field(default=None, ge=1, le=65535)
    user: str | None = None
    password: SecretStr | None = None
    timeout_s: float = Field(default=30.0, gt=0)
    request_dsn: bool = Field(
        default=True,
        description="ask the server (when it offers DSN) to report delivery and failure to "
        "from_address; the e-mail source reading that mailbox records them on the notification",
    )

    @property
    def effective_port(self) -> int:
        return self.port or {"implicit": 465, "starttls": 587, "none": 25}[self.tls]


class OutboxOptions(SenderOptions):
    """A Maildir that replies are written into instead of being sent over SMTP: for a mail
    server that picks outgoing mail up from a spool folder (and for the demo)."""

    path: Path = Field(description="a Maildir: each reply is written in tmp/, renamed into new/")


class MailOptions(_Options):
    """What every e-mail source shares: parsing limits and an optional sink, either SMTP or a
    Maildir outbox."""

    staff_forwarders: list[str] = Field(default_factory=list)
    max_attachment_mb: float = Field(default=10.0, gt=0)
    max_attachments: int = Field(default=10, ge=0)
    max_per_poll: int = Field(default=200, ge=1)
    message_id_domain: str | None = None
    authserv_id: str | None = Field(
        default=None,
        description="the authserv-id your mail server writes in Authentication-Results "
        "(OpenDMARC, rspamd): then an e-mail reply counts as the reporter's only when that "
        "server says its From domain passed DMARC, or DKIM/SPF aligned with it",
    )
    smtp: SmtpOptions | None = None
    outbox: OutboxOptions | None = Field(
        default=None,
        description="instead of smtp: replies written as complete messages into a Maildir "
        "(a mail server's pickup folder); a retried reply is not written twice",
    )

    @model_validator(mode="after")
    def _one_sink(self) -> MailOptions:
        if self.smtp is not None and self.outbox is not None:
            raise ValueError("smtp and outbox are both set: replies go out one way, keep one")
        return self

    def parse_options(self) -> ParseOptions:
        sender = self.smtp or self.outbox
        domain = self.message_id_domain or (sender.message_id_domain if sender else None)
        return ParseOptions(
            staff_forwarders=frozenset(a.strip().lower() for a in self.staff_forwarders),
            message_id_domain=domain,
            max_attachment_bytes=int(self.max_attachment_mb * MB),
            max_attachments=self.max_attachments,
            authserv_id=self.authserv_id.strip() if self.authserv_id else None,
        )


class ImapOptions(MailOptions, TlsOptions):
    tls: TlsMode = "implicit"
    host: str
    port: int | None = Field(default=None, ge=1, le=65535)
    user: str
    password: SecretStr
    folder: str = "INBOX"
    after: Literal["seen", "move"] = "seen"
    move_to: str | None = None
    idle: bool = True
    timeout_s: float = Field(default=30.0, gt=0)
    reconnect_max_s: float = Field(default=300.0, gt=0)

    @model_validator(mode="after")
    def _move_needs_folder(self) -> ImapOptions:
        if self.after == "move" and not self.move_to:
            raise ValueError('after = "move" needs move_to (the folder to move mail into)')
        return self

    @property
    def effective_port(self) -> int:
        return self.port or (993 if self.tls == "implicit" else 143)


class MaildirOptions(MailOptions):
    path: Path
