"""Pure SMS parsing: UDH, hex text by coding, sender numbers and the SMS keyword conventions.

Nothing here does I/O; the sources call these from ``parse`` and the tests feed them real
samples. Keywords are configuration (``SmsConventions``) because municipalities already
advertise their own (``ADUAN``, ``LAPOR``, ``ANONIM`` …) on posters and radio.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal

import phonenumbers
from pydantic import BaseModel, ConfigDict, Field, field_validator

from schemas.complaint import Channel, ComplaintDraft, Ignored, Parsed, ReplyDraft, Reporter

USAGE_HINT = (
    "Ketik isi aduan Anda lalu kirim ke nomor ini. ANONIM <isi> agar identitas dirahasiakan. "
    "LAPOR <no. laporan> <pesan> untuk menanggapi laporan."
)


# --------------------------------------------------------------------------- UDH


@dataclass(frozen=True)
class Concat:
    """The concatenation element of a UDH: which long message a part belongs to."""

    ref: int
    total: int
    seq: int
    bits: Literal[8, 16]


def parse_udh(udh_hex: str | None) -> Concat | None:
    """Find the concatenation IE (00 = 8-bit reference, 08 = 16-bit) in a hex UDH.

    Other IEs (ports, national language shift) are skipped. A malformed UDH or a part
    number outside ``1..total`` is treated as no concatenation: the part is then a message
    of its own rather than a group that can never complete.
    """
    if not udh_hex:
        return None
    try:
        data = bytes.fromhex(udh_hex.strip())
    except ValueError:
        return None
    if len(data) < 2:
        return None
    end = min(len(data), 1 + data[0])
    i = 1
    while i + 2 <= end:
        iei, length = data[i], data[i + 1]
        body = data[i + 2 : i + 2 + length]
        if len(body) < length:
            return None
        if iei == 0x00 and length == 3:
            ref, total, seq = body
            return _concat(ref, total, seq, 8)
        if iei == 0x08 and length == 4:
            ref = (body[0] << 8) | body[1]
            return _concat(ref, body[2], body[3], 16)
        i += 2 + length
    return None


def _concat(ref: int, total: int, seq: int, bits: Literal[8, 16]) -> Concat | None:
    if total < 1 or not 1 <= seq <= total:
        return None
    return Concat(ref, total, seq, bits)


def make_udh(ref: int, total: int, seq: int) -> str:
    """The 8-bit-reference concatenation UDH Gammu's own tools write (``050003RRTTSS``)."""
    return f"050003{ref & 0xFF:02X}{total:02X}{seq:02X}"


# --------------------------------------------------------------------------- text


def decode_hex_text(text_hex: str | None, coding: str | None) -> str | None:
    """Decode Gammu's ``Text`` column: hex of UTF-16BE for the default and Unicode codings,
    hex of the raw bytes for ``8bit``. ``None`` when it is empty or not hex."""
    if not text_hex:
        return None
    try:
        raw = bytes.fromhex(text_hex.strip())
    except ValueError:
        return None
    if coding == "8bit":
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            return raw.decode("latin-1")
    if len(raw) % 2 == 0:
        try:
            return raw.decode("utf-16-be")
        except UnicodeDecodeError:
            pass
    return raw.decode("latin-1")


def decode_kannel_body(raw: bytes, coding: str | None, charset: str | None) -> str:
    """Kannel's ``%b`` is the message body as bytes: UTF-16BE for coding 2 (UCS-2), else
    in the charset Kannel names (``%C``), UTF-8 when it names none."""
    if coding == "2":
        return raw.decode("utf-16-be", errors="replace")
    name = (charset or "utf-8").strip().lower() or "utf-8"
    if name in {"ucs-2", "ucs2", "utf-16be", "utf-16-be"}:
        return raw.decode("utf-16-be", errors="replace")
    try:
        return raw.decode(name)
    except (LookupError, UnicodeDecodeError):
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            return raw.decode("latin-1")


# --------------------------------------------------------------------------- senders


_ID_MOBILE = re.compile(r"(?:62|0)8(\d{8,11})")  # 10-13 digits with the 0
SenderKind = Literal["phone", "alphanumeric", "short_code", "invalid"]


@dataclass(frozen=True)
class Sender:
    raw: str
    kind: SenderKind
    e164: str | None = None


@lru_cache(maxsize=4096)  # pull and parse both ask; phonenumbers.parse is not cheap
def normalize_sender(raw: str | None, region: str = "ID") -> Sender:
    """``0813…``, ``62813…``, ``+62813…`` → E.164. Alphanumeric senders (``TELKOMSEL``,
    promotions) and short codes cannot be a citizen: they are recorded and ignored."""
    s = (raw or "").strip()
    if not s:
        return Sender(s, "invalid")
    if re.search(r"[^\d+\s().\-]", s):
        return Sender(s, "alphanumeric")
    digits = re.sub(r"\D", "", s)
    if len(digits) < 7:
        return Sender(s, "short_code")
    if region == "ID" and (m := _ID_MOBILE.fullmatch(digits)) and not s.startswith("00"):
        # The usual case, 08…/628…/+628… mobile numbers: no need for phonenumbers' parser.
        return Sender(s, "phone", "+628" + m.group(1))
    if s.startswith("+") or s.startswith("00"):
        text, reg = "+" + (digits[2:] if s.startswith("00") else digits), None
    elif digits.startswith("0"):
        text, reg = digits, region  # national trunk prefix: 0813… in the home region
    else:
        text, reg = "+" + digits, None  # 62813…: country code without the plus
    try:
        num = phonenumbers.parse(text, reg)
    except phonenumbers.NumberParseException:
        return Sender(s, "invalid")
    # Possible (right length for the country) is enough: numbering plans move faster than
    # the metadata, and refusing a real citizen's number costs more than a wrong guess.
    if phonenumbers.is_possible_number(num):
        return Sender(
            s, "phone", phonenumbers.format_number(num, phonenumbers.PhoneNumberFormat.E164)
        )
    return Sender(s, "invalid")


# --------------------------------------------------------------------------- conventions


def _upper_list(v: list[str]) -> list[str]:
    return [k.strip().upper() for k in v if k.strip()]


class SmsConventions(BaseModel):
    """Keywords an SMS may start with; matched case-insensitively on the first word."""

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


def _first_word(text: str) -> tuple[str, str]:
    m = _WORD.match(text)
    if not m:
        return "", text.strip()
    return m.group(1).upper(), text[m.end() :].strip()


def classify_sms(
    text: str,
    sender: Sender,
    sent_at: dt.datetime | None,
    conv: SmsConventions,
    *,
    origin: dict[str, Any] | None = None,
    flags: tuple[str, ...] = (),
    notes: tuple[str, ...] = (),
) -> Parsed:
    """Apply the SMS conventions to one (reassembled) message."""
    if sender.kind == "alphanumeric":
        return Ignored(reason="alphanumeric sender (operator or promotion)")
    if sender.kind == "short_code":
        return Ignored(reason="short-code sender (operator service)")
    unverified = sender.kind == "invalid" or sender.e164 is None
    body = (text or "").replace("\x00", "").strip()
    if not body:
        return Ignored(reason="empty SMS", answer=conv.usage_hint)

    word, rest = _first_word(body)
    if word in conv.reply:
        m = re.fullmatch(conv.tracking_id_pattern + r"(?:[\s:.,;\-]+(.*))?", rest, re.S)
        if m:
            reply_text = (m.group(2) or "").strip() if m.lastindex and m.lastindex >= 2 else ""
            if not reply_text:
                return Ignored(reason="reply keyword without text", answer=conv.usage_hint)
            return ReplyDraft(
                channel=Channel.SMS,
                text=reply_text,
                sent_at=sent_at,
                tracking_id=m.group(1),
                phone=sender.e164,
            )
    if word in conv.resolved_yes or word in conv.resolved_no:
        yes = word in conv.resolved_yes
        if len(rest.split()) <= conv.resolved_max_words:
            return ReplyDraft(
                channel=Channel.SMS, text=body, sent_at=sent_at, phone=sender.e164, resolved=yes
            )

    anonymous = False
    explicit_new = False
    content = body
    for _ in range(3):  # "ANONIM ADUAN …", "BARU ANONIM …"
        word, rest = _first_word(content)
        if word in conv.anonymous and not anonymous:
            anonymous, content = True, rest
        elif word in conv.new_complaint and not explicit_new:
            explicit_new, content = True, rest
        else:
            break
    if not content.strip():
        return Ignored(reason="keyword without complaint text", answer=conv.usage_hint)

    org: dict[str, Any] = dict(origin or {})
    if unverified:
        # Keep the complaint (never lose a citizen's words) but nobody can be answered.
        flags = (*flags, "sender_unverified")
    elif not (anonymous or explicit_new):
        # Intake turns it into a reply when this number has an open complaint in the window.
        org["maybe_reply_by_phone"] = True
        if conv.reply_window_days is not None:
            org["reply_window_days"] = conv.reply_window_days
    return ComplaintDraft(
        channel=Channel.SMS,
        content=content.strip(),
        submitted_at=sent_at,
        reporter=Reporter(phone=sender.e164, phone_raw=sender.raw),
        anonymous=anonymous,
        origin=org,
        flags=flags,
        notes=notes,
    )
