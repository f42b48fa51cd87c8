"""Pure normalisation of what citizens write: phones, NIKs, titles, text hygiene."""

from __future__ import annotations

import datetime as dt
import functools
import re
import unicodedata
from typing import Any

import phonenumbers

_NIK = re.compile(r"(?<!\d)(\d{16})(?!\d)")
_WS = re.compile(r"[ \t\u00a0]+")
_BLANKS = re.compile(r"\n{3,}")
# Province codes in use (Dukcapil): 11-19, 21, 31-36, 51-53, 61-65, 71-76, 81-82, 91-96.
_PROVINCES = {
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


_NOT_DIAL = re.compile(r"[^\d+]")
# 08xx / 628xx / +628xx with 9 to 12 digits after the trunk prefix: operator mobile ranges.
_ID_MOBILE = re.compile(r"(?:\+62|62|0)(8[1-9]\d{7,10})")


@functools.lru_cache(maxsize=65536)  # pure, and phonenumbers costs ~0.3 ms a call
def normalize_phone(raw: str | None) -> str | None:
    """``0813…``, ``62813…``, ``+62 813-…`` → ``+62813…``; None if not a plausible number."""
    if not raw:
        return None
    text = raw.strip()
    digits = _NOT_DIAL.sub("", text)
    if not digits or not re.search(r"\d", digits):
        return None
    # Nearly every number citizens send is an Indonesian mobile in one of three spellings;
    # they need no full parse (phonenumbers costs ~0.3 ms, the hot spot of bulk backfill).
    if (mobile := _ID_MOBILE.fullmatch(digits)) is not None:
        return "+62" + mobile.group(1)
    if digits.startswith("62") and not digits.startswith("+"):
        digits = "+" + digits
    try:
        num = phonenumbers.parse(digits, "ID")
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(num):
        return None
    return phonenumbers.format_number(num, phonenumbers.PhoneNumberFormat.E164)


def find_phones(text: str) -> list[str]:
    """Indonesian phone numbers mentioned in free text, as E.164, in order, unique."""
    found: list[str] = []
    for match in phonenumbers.PhoneNumberMatcher(text, "ID"):
        e164 = phonenumbers.format_number(match.number, phonenumbers.PhoneNumberFormat.E164)
        if e164 not in found:
            found.append(e164)
    return found


def check_nik(nik: str | None) -> bool:
    """Structure check of a 16-digit NIK: province(2) kab/kota(2) kecamatan(2) DDMMYY (day
    +40 for women) serial(4).

    Only ever a flag: junk NIKs in old forms are common and never a reason to reject."""
    if not nik or len(nik) != 16 or not nik.isdigit():
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


def find_niks(text: str) -> list[str]:
    return list(dict.fromkeys(m.group(1) for m in _NIK.finditer(text)))


class _DropControls(dict[int, int | None]):
    """``str.translate`` table dropping category C characters except newline and tab; each
    code point is classified once (a per-character generator was the hot spot of bulk
    intake and backfill). Bounded: past the cap, lookups are computed and not kept."""

    def __missing__(self, cp: int) -> int | None:
        ch = chr(cp)
        keep = ch in "\n\t" or unicodedata.category(ch)[0] != "C"
        value = cp if keep else None
        if len(self) < 100_000:
            self[cp] = value
        return value


_DROP_CONTROLS = _DropControls()


def _tidy(text: str) -> bool:
    """Whether clean_text would leave ``text`` as it is (most text): NFC already, nothing but
    printable characters, spaces and newlines (``isprintable`` is false for every category C
    character, tab, CR and the other spaces), no space runs, no space at a line's edge, no
    three newlines in a row, nothing to strip at the ends."""
    return (
        text == text.strip()
        and "  " not in text
        and " \n" not in text
        and "\n " not in text
        and "\n\n\n" not in text
        and text.replace("\n", " ").isprintable()
        and (text.isascii() or unicodedata.is_normalized("NFC", text))
    )


def clean_text(text: str) -> str:
    """NFC, no NULs or control characters (PostgreSQL text refuses NUL), tidy whitespace."""
    return text if _tidy(text) else _clean(text)


def _clean(text: str) -> str:
    text = unicodedata.normalize("NFC", text.replace("\r\n", "\n").replace("\r", "\n"))
    text = text.translate(_DROP_CONTROLS)
    text = "\n".join(_WS.sub(" ", line).strip() for line in text.split("\n"))
    return _BLANKS.sub("\n\n", text).strip()


# Abbreviations that end in a full stop without ending a sentence (addresses, titles, money).
_ABBREVIATIONS = frozenset(
    {
        "jl",
        "jln",
        "gg",
        "no",
        "rt",
        "rw",
        "kel",
        "kec",
        "kab",
        "prov",
        "km",
        "rp",
        "dr",
        "drs",
        "ir",
        "h",
        "hj",
        "bpk",
        "ibu",
        "sdr",
        "yth",
        "tgl",
        "ds",
        "kp",
        "blk",
        "pt",
        "cv",
        "st",
    }
)
_SENTENCE_END = re.compile(r"([.!?])\s+")


def derive_title(content: str, limit: int = 150) -> str:
    """LAPOR! wants a 1..150 character title: the first sentence or line, without stopping
    at an abbreviation such as "Jl." or "RT."."""
    first = content.strip().split("\n", 1)[0].strip()
    for m in _SENTENCE_END.finditer(first):
        word = re.split(r"[\s(]", first[: m.start()])[-1].lower()
        if m.group(1) == "." and (word in _ABBREVIATIONS or len(word) <= 1):
            continue
        first = first[: m.start() + 1].strip()
        break
    if not first:
        first = "Pengaduan masyarakat"
    if len(first) > limit:
        cut = first[: limit - 1].rsplit(" ", 1)[0]
        first = (cut or first[: limit - 1]) + "…"
    return first


# A sender or reporter "name" that names a site, a form or a mailer, not a person: web forms
# relaying through a no-reply address ("Form Pengaduan Website", "Formulir Pengaduan",
# "Admin Website Pemkot", "noreply"). No citizen is called that.
_SITE_NAME = re.compile(
    r"(?i)\b(?:form(?:ulir)?|website|situs|portal|aplikasi|sistem|system|mailer|no-?reply|"
    r"do-?not-?reply|postmaster|daemon|notifikasi|notification|helpdesk|webmaster|admin(?:istrator)?|"
    r"pengaduan|laporan|layanan)\b"
)


def is_site_name(name: str | None) -> bool:
    """True when ``name`` names a site, form or mailer rather than a person."""
    return bool(name) and (
        _SITE_NAME.search(name or "") is not None or "@" in (name or "") or "://" in (name or "")
    )


def settle_draft(d: Any) -> Any:
    """What intake keeps of a draft beyond the connector's fields, for every channel:

    - a reporter name that is a site or form name is dropped (flag ``reporter_name_is_site``);
    - the connector's notes (missing SMS parts, a refused attachment, a staff forward's note)
      are kept on the complaint as ``origin.intake_notes`` beside its flags, for operators.
    """
    flags = list(d.flags)
    update: dict[str, Any] = {}
    if is_site_name(d.reporter.name):
        update["reporter"] = d.reporter.model_copy(update={"name": None})
        flags.append("reporter_name_is_site")
    if d.notes and "intake_notes" not in d.origin:
        update["origin"] = {**d.origin, "intake_notes": list(d.notes)}
    if not update:
        return d
    update["flags"] = tuple(dict.fromkeys(flags))
    return d.model_copy(update=update)
