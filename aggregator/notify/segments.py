"""SMS length rules: which alphabet a text needs and how it splits into parts.

GSM 03.38 7-bit: 160 characters in one SMS, 153 per part of a concatenated one (the UDH
takes 7 septets); characters of the extension table (``{}[]~|^€\\``) are an escape plus a
character, so they count double and an escape pair never straddles two parts. Anything
outside GSM-7 forces UCS-2: 70 UTF-16 units alone, 67 per part; a character outside the
BMP (emoji) is a surrogate pair, 2 units, never split. The notification templates call
``split_sms`` so a message respects the configured maximum number of parts.
"""

from __future__ import annotations

from typing import Literal

Encoding = Literal["gsm7", "ucs2"]

GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENDED = frozenset("\f^{}\\[~]|€")

SINGLE = {"gsm7": 160, "ucs2": 70}
PER_PART = {"gsm7": 153, "ucs2": 67}
ELLIPSIS = "..."  # GSM-7 safe; "…" would force UCS-2


def sms_encoding(text: str) -> Encoding:
    """``gsm7`` when every character is in the GSM 03.38 default alphabet or its extension."""
    for ch in text:
        if ch not in GSM7_BASIC and ch not in GSM7_EXTENDED:
            return "ucs2"
    return "gsm7"


def char_units(ch: str, encoding: Encoding) -> int:
    if encoding == "gsm7":
        return 2 if ch in GSM7_EXTENDED else 1
    return 2 if ord(ch) > 0xFFFF else 1


def text_units(text: str, encoding: Encoding | None = None) -> int:
    enc = encoding or sms_encoding(text)
    return sum(char_units(ch, enc) for ch in text)


def count_parts(text: str) -> int:
    enc = sms_encoding(text)
    n = text_units(text, enc)
    if n <= SINGLE[enc]:
        return 1
    return len(_cut(text, enc, PER_PART[enc]))


def _cut(text: str, enc: Encoding, limit: int) -> list[str]:
    """Greedy cut into pieces of at most ``limit`` units, preferring a break after a space
    in the last fifth of a piece so words are not split when it costs little."""
    parts: list[str] = []
    start = 0
    while start < len(text):
        used = 0
        end = start
        while end < len(text):
            u = char_units(text[end], enc)
            if used + u > limit:
                break
            used += u
            end += 1
        if end < len(text):
            space = text.rfind(" ", start, end)
            if space >= 0 and (end - space) <= limit // 5:
                end = space + 1
        parts.append(text[start:end])
        start = end
    return parts


def split_sms(text: str, max_parts: int = 3) -> list[str]:
    """Split ``text`` into the parts of one (possibly concatenated) SMS.

    One part when it fits a single SMS (160 GSM-7 / 70 UCS-2 units); otherwise parts of at
    most 153 / 67 units. A text longer than ``max_parts`` parts is shortened and ends with
    ``...``. Returns at least one (possibly empty) part.
    """
    if max_parts < 1:
        raise ValueError("max_parts must be at least 1")
    enc = sms_encoding(text)
    if text_units(text, enc) <= SINGLE[enc]:
        return [text]
    parts = _cut(text, enc, PER_PART[enc])
    if len(parts) <= max_parts:
        return parts
    if max_parts == 1:
        budget = SINGLE[enc] - text_units(ELLIPSIS, enc)
        return [_truncate(text, enc, budget) + ELLIPSIS]
    keep = parts[: max_parts - 1]
    rest = "".join(parts[max_parts - 1 :])
    budget = PER_PART[enc] - text_units(ELLIPSIS, enc)
    keep.append(_truncate(rest, enc, budget) + ELLIPSIS)
    return keep


def _truncate(text: str, enc: Encoding, budget: int) -> str:
    used = 0
    for i, ch in enumerate(text):
        u = char_units(ch, enc)
        if used + u > budget:
            cut = text[:i]
            space = cut.rfind(" ")
            if space > 0 and len(cut) - space <= budget // 5:
                cut = cut[:space]
            return cut.rstrip()
        used += u
    return text
