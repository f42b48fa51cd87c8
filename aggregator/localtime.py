"""Times as people in the municipality read them: its own zone, labelled WIB/WITA/WIT."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

# Indonesia's three civil zones by the IANA names that fall in them.
_LABELS = {
    "Asia/Jakarta": "WIB",
    "Asia/Pontianak": "WIB",
    "Asia/Makassar": "WITA",
    "Asia/Ujung_Pandang": "WITA",
    "Asia/Jayapura": "WIT",
}


def zone_label(tz: str) -> str:
    """WIB, WITA or WIT; any other zone is shown by its UTC offset name."""
    if tz in _LABELS:
        return _LABELS[tz]
    return dt.datetime.now(ZoneInfo(tz)).strftime("%Z") or tz


def local_time(value: dt.datetime | None, tz: str, *, seconds: bool = True) -> str:
    """``2026-12-03 08:15:02 WIB``; ``-`` for no time."""
    if value is None:
        return "-"
    fmt = "%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M"
    return f"{value.astimezone(ZoneInfo(tz)).strftime(fmt)} {zone_label(tz)}"
