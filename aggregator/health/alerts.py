"""Tell the admin contacts about an incident: e-mail over SMTP, and a webhook for chat tools
(Slack, Mattermost, Rocket.Chat and Google Chat all accept a JSON body with ``text``)."""

from __future__ import annotations

import email.message
from typing import Any

import aiohttp
import aiosmtplib

from aggregator.errors import TransientError
from aggregator.localtime import local_time
from schemas.config import Settings

KIND_LABELS = {
    "source_failing": "Sumber gagal",
    "source_silent": "Sumber sepi",
    "lapor_unreachable": "LAPOR! tidak terjangkau",
    "feed_stale": "Umpan pembaruan LAPOR! tertinggal",
    "sink_failing": "Pengiriman ke saluran gagal",
    "backlog": "Antrean menumpuk",
    "dead_jobs": "Pekerjaan mati",
    "delivery_failures": "Kegagalan pengiriman meningkat",
    "sla_breach": "Pelanggaran SLA",
}


def message_text(settings: Settings, incident: dict[str, Any], event: str) -> tuple[str, str]:
    """(subject, body) in Indonesian, times in the municipality's zone."""
    tz = settings.sla.timezone
    label = KIND_LABELS.get(incident["kind"], incident["kind"])
    head = "SELESAI" if event == "resolved" else "INSIDEN"
    subject = f"[satukanal {settings.municipality}] {head}: {label}"
    if incident["subject"]:
        subject += f" ({incident['subject']})"
    lines = [
        incident["summary"],
        "",
        f"Jenis: {label} [{incident['kind']}]",
        f"Pertama terlihat: {local_time(incident['first_seen_at'], tz)}",
        f"Dibuka: {local_time(incident['opened_at'], tz)}",
    ]
    if event == "resolved":
        lines.append(f"Selesai: {local_time(incident['resolved_at'], tz)}")
    lines += ["", "Lihat `satukanal status` atau dasbor (/dasbor) untuk rinciannya."]
    return subject, "\n".join(lines)


class AlertNotifier:
    """One send per contact; the incident loop records which contacts were told."""

    def __init__(self, settings: Settings, http: aiohttp.ClientSession | None) -> None:
        self.settings = settings
        self.cfg = settings.alerts
        self.http = http

    def contacts(self) -> list[str]:
        out = []
        if self.cfg.email_to:
            out.append("email")
        if self.cfg.webhook_url is not None:
            out.append("webhook")
        return out

    async def send(self, contact: str, incident: dict[str, Any], event: str) -> None:
        subject, body = message_text(self.settings, incident, event)
        if contact == "email":
            await self._email(subject, body)
        elif contact == "webhook":
            await self._webhook(subject, body, incident, event)

    async def _email(self, subject: str, body: str) -> None:
        cfg = self.cfg
        msg = email.message.EmailMessage()
        msg["From"] = cfg.email_from
        msg["To"] = ", ".join(cfg.email_to)
        msg["Subject"] = subject
        msg.set_content(body)
        assert cfg.smtp_host is not None  # checked by the configuration
        try:
            await aiosmtplib.send(
                msg,
                hostname=cfg.smtp_host,
                port=cfg.smtp_port,
                username=cfg.smtp_username,
                password=cfg.smtp_password.get_secret_value() if cfg.smtp_password else None,
                use_tls=cfg.smtp_tls == "tls",
                start_tls=cfg.smtp_tls == "starttls",
                timeout=30,
            )
        except (aiosmtplib.SMTPException, OSError) as exc:
            raise TransientError(f"alert e-mail not sent: {type(exc).__name__}: {exc}") from exc

    async def _webhook(self, subject: str, body: str, incident: dict[str, Any], event: str) -> None:
        assert self.http is not None and self.cfg.webhook_url is not None
        payload = {
            "text": f"{subject}\n{body}",
            "event": event,
            "incident": {k: incident[k] for k in ("id", "kind", "subject", "summary", "state")}
            | {
                k: incident[k].isoformat() if incident[k] else None
                for k in ("first_seen_at", "opened_at", "resolved_at")
            },
        }
        try:
            async with self.http.post(
                str(self.cfg.webhook_url), json=payload, timeout=aiohttp.ClientTimeout(total=15)
            ) as resp:
                if resp.status >= 300:
                    raise TransientError(f"alert webhook answered HTTP {resp.status}")
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise TransientError(f"alert webhook failed: {type(exc).__name__}") from exc
