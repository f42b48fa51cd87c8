"""Phone numbers and NIKs found in a complaint's text (pure).

NIKs are structure-checked and flagged, never used to reject a complaint: citizens mistype
them and old systems hold junk. Province codes are the BPS codes in use since 2022.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import phonenumbers

from connectors.base.text import check_nik

_NIK = re.compile(r"(?<![\d])(\d{16})(?![\d])")
_NIK_SPACED = re.compile(r"(?<![\d])(\d{4}[ .-]\d{4}[ .-]\d{4}[ .-]\d{4})(?![\d])")
_MOBILE_TYPES = {
    phonenumbers.PhoneNumberType.MOBILE,
    phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
}


@dataclass(frozen=True)
class FoundPhone:
    e164: str
    raw: str


nik_is_valid = check_nik  # one NIK rule for every channel


def find_nik(text: str) -> tuple[str, bool, tuple[int, int]] | None:
    """The first 16-digit number that looks like a NIK (a valid one wins over an invalid one)."""
    candidates: list[tuple[str, tuple[int, int]]] = []
    for m in _NIK.finditer(text):
        candidates.append((m.group(1), m.span()))
    for m in _NIK_SPACED.finditer(text):
        candidates.append((re.sub(r"\D", "", m.group(1)), m.span()))
    if not candidates:
        return None
    for nik, span in candidates:
        if nik_is_valid(nik):
            return nik, True, span
    nik, span = candidates[0]
    return nik, False, span


_PHONE_CANDIDATE = re.compile(r"(?<![\w+(])(\(?\+?\d[\d \t().-]{6,18}\d)(?![\w])")


def find_phone(
    text: str, *, region: str = "ID", skip: tuple[int, int] | None = None
) -> FoundPhone | None:
    """The first plausible phone number; mobiles are preferred (they can receive SMS).

    Candidates come from a cheap regex and are checked by ``phonenumbers`` one by one:
    its ``PhoneNumberMatcher`` is ten times slower on mail-sized texts and finds the same.
    """
    first: FoundPhone | None = None
    for m in _PHONE_CANDIDATE.finditer(text):
        if skip and m.start() < skip[1] and m.end() > skip[0]:
            continue
        raw = m.group(1).strip()
        digits = re.sub(r"\D", "", raw)
        if not 8 <= len(digits) <= 15:
            continue  # too short for a phone; 16 digits is a NIK or an account number
        try:
            number = phonenumbers.parse(raw, region)
        except phonenumbers.NumberParseException:
            continue
        kind = phonenumbers.number_type(number)  # UNKNOWN for an invalid number
        if kind == phonenumbers.PhoneNumberType.UNKNOWN:
            continue
        found = FoundPhone(
            phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164), raw
        )
        if kind in _MOBILE_TYPES:
            return found
        first = first or found
    return first
