"""Personal data in free text: find it, and replace it with a placeholder.

One set of patterns serves the log redactor (nothing personal may reach a log line, UU
27/2022) and the intake's masking of what an anonymous reporter typed into a complaint. The
patterns know the forms Indonesians write: mobiles as ``0812-3456-7890``, ``(0812) 3456 7890``,
``+62 812 3456 7890`` or ``62812…``, landlines with an area code (``(021) 555 1234``,
``0274-512345``), NIKs as 16 digits, also grouped by spaces, dots or dashes.

What they must never touch: UUIDs (job and complaint ids, whose digit groups look like phone
numbers), Tracking IDs (7 digits), dates, times, amounts. UUIDs are cut out of the text before
the patterns run, and a candidate is only personal data when its digit count fits.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

_UUID = re.compile(r"\b[0-9a-f]{8}-(?:[0-9a-f]{4}-){3}[0-9a-f]{12}\b", re.IGNORECASE)
# A domain ending in letters: ``postgres@127.0.0.1`` or ``user@db:5432`` are not addresses.
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)*\.[A-Za-z]{2,}(?![\w-])")
# 16 digits, optionally grouped ("3174 0123 4567 0001", "32.01.23.456789.0001"); the first
# digit is a province code's (11–94), never 0.
_NIK = re.compile(r"(?<![\w.,-])[1-9](?:[ .-]?\d){15}(?![\w]|[.,-]\d)")
# Between digit groups: nothing, a space, or a dot or dash with a space either side or not
# ("0812 - 3456 - 7890" as typed on a phone keyboard).
_SEP = r"(?:\s?[.-]\s?|\s)?"
# Mobiles: +62 / 62 / 0, then 8 and 8–11 more digits; also "+62 (0)812…", the trunk zero
# in brackets as business cards write it.
_MOBILE = re.compile(
    r"(?<![\w+.,-])(?:\(\s*(?:\+?62|0)\s*8\d{1,3}\s*\)\s?|\+?62\s?\(0\)\s?8\d{1,3}"
    r"|(?:\+62|62|0)" + _SEP + r"8\d{1,3})"
    r"(?:" + _SEP + r"\d){5,9}(?![\w]|[.,-]\d)"
)
# Landlines: an area code of two or three digits after 0 (021, 0274) or +62, then 5–8 digits.
_LANDLINE = re.compile(
    r"(?<![\w+.,-])(?:\(\s*(?:\+?62\s?|0)[2-79]\d{1,2}\s*\)\s?|(?:\+62\s?|0)[2-79]\d{1,2}[ .-])"
    r"\d(?:" + _SEP + r"\d){4,7}(?![\w]|[.,-]\d)"
)


@dataclass(frozen=True)
class Finding:
    kind: str  # email, nik, phone
    start: int
    end: int
    text: str


def _digits(s: str) -> int:
    return sum(c.isdigit() for c in s)


_RULES: list[tuple[str, re.Pattern[str], Callable[[str], bool]]] = [
    ("email", _EMAIL, lambda s: True),
    ("nik", _NIK, lambda s: _digits(s) == 16),
    ("phone", _MOBILE, lambda s: 10 <= _digits(s) <= 15),
    ("phone", _LANDLINE, lambda s: 8 <= _digits(s) <= 13),
]


def _spans_outside_uuids(text: str) -> list[tuple[int, int]]:
    spans, at = [], 0
    for m in _UUID.finditer(text):
        spans.append((at, m.start()))
        at = m.end()
    spans.append((at, len(text)))
    return spans


def find_personal_data(text: str) -> list[Finding]:
    """Every e-mail address, NIK and phone number in ``text``, in order, not overlapping."""
    found: list[Finding] = []
    taken: list[tuple[int, int]] = []
    for lo, hi in _spans_outside_uuids(text):
        part = text[lo:hi]
        for kind, rx, fits in _RULES:
            for m in rx.finditer(part):
                s, e = m.start() + lo, m.end() + lo
                if not fits(m.group()) or any(s < te and ts < e for ts, te in taken):
                    continue
                if kind == "email" and text[max(0, s - 3) : s] == "://":
                    continue  # the user of a connection URL (postgresql://user@host/db)
                taken.append((s, e))
                found.append(Finding(kind, s, e, m.group()))
    return sorted(found, key=lambda f: f.start)


def redact_text(text: str, placeholder: Callable[[str], str] = lambda kind: f"[{kind}]") -> str:
    """``text`` with each piece of personal data replaced by ``[email]``, ``[nik]``, ``[phone]``
    (or what ``placeholder(kind)`` returns)."""
    if not text or not any(c.isdigit() or c == "@" for c in text):
        return text
    out, at = [], 0
    for f in find_personal_data(text):
        out.append(text[at : f.start])
        out.append(placeholder(f.kind))
        at = f.end
    out.append(text[at:])
    return "".join(out)
