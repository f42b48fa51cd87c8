"""Pure text helpers connectors share with the core: citizen-text hygiene, phone numbers,
NIK checks and SMS segment counting (the same rules the notification templates obey)."""

from aggregator.intake.normalize import check_nik, clean_text, normalize_phone
from aggregator.notify.segments import (
    ELLIPSIS,
    Encoding,
    count_parts,
    sms_encoding,
    split_sms,
    text_units,
)

__all__ = [
    "ELLIPSIS",
    "Encoding",
    "check_nik",
    "clean_text",
    "count_parts",
    "normalize_phone",
    "sms_encoding",
    "split_sms",
    "text_units",
]
