"""The keyword conventions of the phone channels (SMS, WhatsApp): what a first word means.

Municipalities advertise their own keywords (``ADUAN``, ``LAPOR``, ``ANONIM`` …) on posters
and radio, so they are configuration (``ChatConventions``). ``classify_chat`` applies them to
one message from a phone number and is pure: the SMS and WhatsApp connectors call it from
their parsers, each after the checks of its own medium (an SMS short code, a WhatsApp button).
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from schemas.complaint import Channel, ComplaintDraft, Ignored, Parsed, ReplyDraft, Reporter

USAGE_HINT = (
    "Ketik isi aduan Anda lalu kirim ke nomor ini. ANONIM <isi> agar identitas dirahasiakan. "
    "LAPOR <no. laporan> <pesan> untuk menanggapi laporan."
)


def _upper_list(v: list[str]) -> list[str]:
    return [k.strip().upper() for k in v if k.strip()]


class ChatConventions(BaseModel):
    """Keywords a message may start with; matched case-insensitively on the first word."""

    model_config = ConfigDict(extra="forbid")

    anonymous: list[str] = Field(default_factory=lambda: ["ANONIM"])
    reply: list[str] = Field(default_factory=lambda: ["LAPOR", "BALAS"])
    new_complaint: list[str] = Field(default_factory=lambda: ["ADUAN", "BARU"])
    resolved_yes: list[str] = Field(default_factory=lambda: ["SUDAH"])
    resolved_no: list[str] = Field(default_factory=lambda: ["BELUM"])
    # A SUDAH/BELUM answer is short; "Sudah 3 bulan jalan ini rusak …" is a complaint.
    resolved_max_words: int = Field(default=8, ge=0)
    tracking_id_pattern: str = r"#?(\d{4,12})"
    usage_hint: str = USAGE_HINT
    region: str = "ID"
    # Passed to intake with "maybe_reply_by_phone"; None = the global notify.reply_window_days.
    reply_window_days: int | None = Field(default=None, ge=1)

    @field_validator("anonymous", "reply", "new_complaint", "resolved_yes", "resolved_no")
    @classmethod
    def _upper(cls, v: list[str]) -> list[str]:
        return _upper_list(v)


_WORD = re.compile(r"\s*([^\W\d_]+)(?=$|[\s:.,;!\-])[\s:.,;!\-]*", re.UNICODE)


def first_word(text: str) -> tuple[str, str]:
    """The first word, upper-cased, and the rest of the text."""
    m = _WORD.match(text)
    if not m:
        return "", text.strip()
    return m.group(1).upper(), text[m.end() :].strip()


def classify_chat(
    text: str,
    phone: str | None,
    sent_at: dt.datetime | None,
    conv: ChatConventions,
    *,
    channel: Channel,
    phone_raw: str | None = None,
    name: str | None = None,
    origin: dict[str, Any] | None = None,
    flags: tuple[str, ...] = (),
    notes: tuple[str, ...] = (),
    attachments: tuple[Any, ...] = (),
    location: Any = None,
) -> Parsed:
    """Apply the conventions to one (reassembled) message from ``phone`` (E.164, or ``None``
    when the number could not be read: the complaint is kept, nobody can be answered)."""
    body = (text or "").replace("\x00", "").strip()
    if not body and not attachments and location is None:
        return Ignored(reason=f"empty {channel.value} message", answer=conv.usage_hint)

    word, rest = first_word(body)
    if word in conv.reply:
        m = re.fullmatch(conv.tracking_id_pattern + r"(?:[\s:.,;\-]+(.*))?", rest, re.S)
        if m:
            reply_text = (m.group(2) or "").strip() if m.lastindex and m.lastindex >= 2 else ""
            if not reply_text and not attachments:
                return Ignored(reason="reply keyword without text", answer=conv.usage_hint)
            return ReplyDraft(
                channel=channel,
                text=reply_text,
                sent_at=sent_at,
                tracking_id=m.group(1),
                phone=phone,
                attachments=tuple(attachments),
            )
    if word in conv.resolved_yes or word in conv.resolved_no:
        yes = word in conv.resolved_yes
        if len(rest.split()) <= conv.resolved_max_words:
            return ReplyDraft(
                channel=channel, text=body, sent_at=sent_at, phone=phone, resolved=yes
            )

    anonymous = False
    explicit_new = False
    content = body
    for _ in range(3):  # "ANONIM ADUAN …", "BARU ANONIM …"
        word, rest = first_word(content)
        if word in conv.anonymous and not anonymous:
            anonymous, content = True, rest
        elif word in conv.new_complaint and not explicit_new:
            explicit_new, content = True, rest
        else:
            break
    if not content.strip() and not attachments and location is None:
        return Ignored(reason="keyword without complaint text", answer=conv.usage_hint)

    org: dict[str, Any] = dict(origin or {})
    if phone is None:
        # Keep the complaint (never lose a citizen's words) but nobody can be answered.
        flags = (*flags, "sender_unverified")
    elif not (anonymous or explicit_new):
        # Intake turns it into a reply when this number has an open complaint in the window.
        org["maybe_reply_by_phone"] = True
        if conv.reply_window_days is not None:
            org["reply_window_days"] = conv.reply_window_days
    return ComplaintDraft(
        channel=channel,
        content=content.strip(),
        submitted_at=sent_at,
        # An anonymous sender's profile name too: intake hides it wherever they typed it
        # ("saya Wati …") and then drops it (aggregator/intake/anonymity.py).
        reporter=Reporter(phone=phone, phone_raw=phone_raw, name=name),
        anonymous=anonymous,
        origin=org,
        flags=flags,
        notes=notes,
        attachments=tuple(attachments),
        location=location,
    )
