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

from connectors.base.conventions import ChatConventions, classify_chat
from schemas.complaint import Channel, Ignored, Parsed

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

# The keywords are the phone channels' shared conventions (connectors.base.conventions).
SmsConventions = ChatConventions


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
    phone = None if sender.kind == "invalid" else sender.e164
    parsed = classify_chat(
        text,
        phone,
        sent_at,
        conv,
        channel=Channel.SMS,
        phone_raw=sender.raw,
        origin=origin,
        flags=flags,
        notes=notes,
    )
    if isinstance(parsed, Ignored) and parsed.reason == "empty sms message":
        return Ignored(reason="empty SMS", answer=parsed.answer)
    return parsed
