"""Phone numbers and NIKs found in a complaint's text (pure).

NIKs are structure-checked and flagged, never used to reject a complaint: citizens mistype
them and old systems hold junk. Province codes are the BPS codes in use since 2022.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

import phonenumbers

_PROVINCES = frozenset(
    {
        11,
        12,
        13,
        14,
        15,
        16,
        17,
        18,
        19,
        21,
        31,
        32,
        33,
        34,
        35,
        36,
        51,
        52,
        53,
        61,
        62,
        63,
        64,
        65,
        71,
        72,
        73,
        74,
        75,
        76,
        81,
        82,
        91,
        92,
        93,
        94,
        95,
        96,
        97,
    }
)
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


def nik_is_valid(nik: str) -> bool:
    """Province(2) kab/kota(2) kecamatan(2) DDMMYY (day+40 for women) serial(4)."""
    if len(nik) != 16 or not nik.isdigit():
        return False
    if int(nik[0:2]) not in _PROVINCES or nik[2:4] == "00" or nik[4:6] == "00":
        return False
    day, month, year = int(nik[6:8]), int(nik[8:10]), int(nik[10:12])
    if day > 40:
        day -= 40
    try:
        # Any century will do for the calendar check; 2000 is a leap year, so 29/02 passes.
        dt.date(2000 + year, month, day)
    except ValueError:
        return False
    return nik[12:16] != "0000"


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
