"""SMTP sink: answers the citizen in their own thread, with a Message-ID a retry reuses."""

from __future__ import annotations

import datetime as dt
import html
import re
import ssl
from collections.abc import Callable
from email.message import EmailMessage
from email.utils import format_datetime, formataddr

import aiosmtplib
import structlog

from connectors.base import Origin, OutboundMessage, SendResult
from connectors.base.errors import (
    AuthError,
    ConfigError,
    InDoubtError,
    PermanentError,
    TransientError,
)
from connectors.email.dsn import mask_addresses
from connectors.email.options import SenderOptions, SmtpOptions

log = structlog.get_logger(__name__)

_REPLY_PREFIX = re.compile(r"^\s*(?:(?:re|aw|fw|fwd|bls|balas)\s*:\s*)+", re.IGNORECASE)
_TAG = re.compile(r"\[\s*LAPOR!?\s*#\s*\d+\s*\]\s*", re.IGNORECASE)
_MSGID = re.compile(r"<[^<>\s]+>")
_URL = re.compile(r"(https?://[^\s<>\"]+)")


def notification_message_id(notification_id: str, domain: str) -> str:
    """Stable per notification: a retried send carries the same Message-ID, so the citizen's
    client (and our own reply matching) recognises it as one message."""
    safe = re.sub(r"[^A-Za-z0-9._-]", "", notification_id) or "x"
    return f"<notif-{safe}@satukanal.{domain}>"


def reply_subject(original: str | None, fallback: str | None, tracking_id: str | None) -> str:
    base = _TAG.sub("", _REPLY_PREFIX.sub("", original or "")).strip()
    if not base:
        base = (fallback or "Pengaduan Anda").strip()
        base = _TAG.sub("", base).strip()
    tag = f"[LAPOR! #{tracking_id}] " if tracking_id else ""
    prefix = "Re: " if original else ""
    return f"{prefix}{tag}{base}"[:250]


def simple_html(text: str) -> str:
    paragraphs = [p for p in re.split(r"\n\s*\n", text.strip()) if p.strip()]
    body = "".join(
        "<p>"
        + _URL.sub(r'<a href="\1">\1</a>', html.escape(p, quote=False)).replace("\n", "<br>")
        + "</p>"
        for p in paragraphs
    )
    return (
        '<!DOCTYPE html><html><head><meta charset="utf-8"></head>'
        f'<body style="font-family:sans-serif;line-height:1.4">{body}</body></html>'
    )


def build_message(
    opts: SenderOptions, origin: Origin, message: OutboundMessage, now: dt.datetime
) -> EmailMessage:
    if not origin.address or "@" not in origin.address:
        raise PermanentError("the citizen left no e-mail address to answer")
    thread = origin.thread or {}
    msg = EmailMessage()
    msg["From"] = formataddr((opts.from_name, opts.from_address))
    msg["To"] = origin.address
    msg["Subject"] = reply_subject(thread.get("subject"), message.subject, message.tracking_id)
    msg["Date"] = format_datetime(now.astimezone(dt.UTC))
    own_id = notification_message_id(message.notification_id, opts.message_id_domain or "")
    msg["Message-ID"] = own_id
    parent = thread.get("message_id")
    refs = [r for r in thread.get("references") or [] if isinstance(r, str) and _MSGID.fullmatch(r)]
    if isinstance(parent, str) and _MSGID.fullmatch(parent):
        msg["In-Reply-To"] = parent
        refs = [*refs, parent]
    if refs:
        msg["References"] = " ".join(list(dict.fromkeys(refs))[-10:])
    # RFC 3834: vacation responders must not answer us, and Exchange honours the second.
    msg["Auto-Submitted"] = "auto-generated"
    msg["X-Auto-Response-Suppress"] = "OOF, AutoReply"
    if message.tracking_id:
        msg["X-LAPOR-Tracking-ID"] = message.tracking_id
    msg.set_content(message.text)
    msg.add_alternative(message.html or simple_html(message.text), subtype="html")
    return msg


class SmtpSink:
    def __init__(
        self, opts: SmtpOptions, *, source: str, clock: Callable[[], dt.datetime] | None = None
    ) -> None:
        self.opts = opts
        self.source = source
        self.clock = clock or (lambda: dt.datetime.now(dt.UTC))

    async def check(self) -> None:
        """Connect and log in, send nothing (``config check --connect``)."""
        client = await self._connect()
        try:
            await client.quit()
        except aiosmtplib.SMTPException:
            client.close()

    async def _connect(self) -> aiosmtplib.SMTP:
        o = self.opts
        ctx = o.ssl_context()
        client = aiosmtplib.SMTP(
            hostname=o.host,
            port=o.effective_port,
            timeout=o.timeout_s,
            use_tls=o.tls == "implicit",
            start_tls=o.tls == "starttls",
            tls_context=ctx,
            validate_certs=o.verify if ctx is not None else False,
            username=o.user,
            password=o.password.get_secret_value() if o.password else None,
        )
        try:
            await client.connect()
        except ssl.SSLCertVerificationError as exc:
            raise ConfigError(
                f"sources.{self.source}.options.smtp.ca_file: the SMTP server's certificate is "
                f"not trusted ({exc.verify_message}); name its CA in ca_file, or set "
                "verify = false on a trusted network"
            ) from exc
        except (aiosmtplib.SMTPConnectError, aiosmtplib.SMTPConnectTimeoutError, OSError) as exc:
            if isinstance(exc.__cause__ or exc.__context__, ssl.SSLCertVerificationError):
                cause = exc.__cause__ or exc.__context__
                raise ConfigError(
                    f"sources.{self.source}.options.smtp.ca_file: the SMTP server's certificate "
                    f"is not trusted ({getattr(cause, 'verify_message', cause)}); name its CA in "
                    "ca_file, or set verify = false on a trusted network"
                ) from exc
            raise TransientError(f"SMTP connection failed: {exc}") from exc
        except aiosmtplib.SMTPAuthenticationError as exc:
            raise AuthError(f"SMTP login refused: {exc.code}") from exc
        except aiosmtplib.SMTPException as exc:
            raise TransientError(f"SMTP session failed: {exc}") from exc
        return client

    async def send(self, origin: Origin, message: OutboundMessage) -> SendResult:
        msg = build_message(self.opts, origin, message, self.clock())
        client = await self._connect()
        mail_options: list[str] = []
        rcpt_options: list[str] = []
        if self.opts.request_dsn and not client.esmtp_extensions:
            try:
                await client.ehlo()  # connect() greets only for STARTTLS or a login
            except aiosmtplib.SMTPException as exc:
                client.close()
                raise TransientError(f"SMTP EHLO failed: {exc}") from exc
        if self.opts.request_dsn and client.supports_extension("dsn"):
            # The server's word on delivery comes back to from_address, where the e-mail
            # source reads it (connectors/email/dsn.py); ENVID names the notification.
            envid = re.sub(r"[^A-Za-z0-9._-]", "", message.notification_id)[:100] or "x"
            mail_options = ["RET=HDRS", f"ENVID={envid}"]
            rcpt_options = ["NOTIFY=SUCCESS,FAILURE,DELAY"]
        try:
            errors, _ = await client.send_message(
                msg, mail_options=mail_options, rcpt_options=rcpt_options
            )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            reasons = "; ".join(f"{r.code} {mask_addresses(r.message)}" for r in exc.recipients)
            if exc.recipients and all(400 <= r.code < 500 for r in exc.recipients):
                # "Try later" (a full mailbox, greylisting): this attempt failed, the message
                # was not taken; the notifier's redelivery policy waits and tries again, then
                # the reporter's other channel. Not a job retry: that would never fall back.
                log.info(
                    "email_deferred_by_server",
                    source=self.source,
                    notification_id=message.notification_id,
                    code=exc.recipients[0].code,
                )
                return SendResult(
                    external_id=None,
                    delivered=False,
                    detail=f"the citizen's server deferred it: {reasons}"[:400],
                )
            raise PermanentError(
                f"the citizen's address was refused: {reasons}"[:400],
                details=[str(r) for r in exc.recipients],
            ) from exc
        except aiosmtplib.SMTPResponseException as exc:
            if 500 <= exc.code < 600:
                raise PermanentError(
                    f"SMTP refused the message: {exc.code} {mask_addresses(exc.message)}"[:400],
                    details=exc.message,
                ) from exc
            raise TransientError(f"SMTP deferred the message: {exc.code}") from exc
        except (aiosmtplib.SMTPServerDisconnected, aiosmtplib.SMTPTimeoutError) as exc:
            # The DATA may have been accepted before the line dropped; a retry reuses the
            # Message-ID, so a duplicate is at least recognisable.
            raise InDoubtError(f"SMTP connection lost while sending: {exc}") from exc
        finally:
            try:
                await client.quit()
            except aiosmtplib.SMTPException:
                client.close()
        if errors:
            raise PermanentError("some recipients were refused", details=str(errors))
        log.info(
            "email_sent",
            source=self.source,
            kind=message.kind,
            notification_id=message.notification_id,
        )
        return SendResult(external_id=msg["Message-ID"], delivered=None, detail="accepted by relay")

    async def close(self) -> None:
        return None
