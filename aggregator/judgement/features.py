"""Meaning-carrying features of an agency reply, as numbers a linear model can weigh.

Each feature is something the label policy talks about: a concrete action, a place, a
date or hour, a responsible unit, a quantity or measurement, a document number, an amount
of money, a budget year, a contractor, an attachment, a question or request, a forwarding,
boilerplate. The rule reading (:mod:`aggregator.judgement.rules`) supplies most of them;
the rest are patterns for what it does not look for (measurements, budgets, English).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from aggregator.judgement.normalize import normalize, strip_html

MEASUREMENT = re.compile(
    r"\b\d+(?:[.,]\d+)?\s*(?:dba|db|ntu|ppm|mg/l|mg|cm|mm|meter|m2|m3|m|km|ha|%|persen|"
    r"liter|kg|ton|derajat|°c|lpm|l/detik|bar|psi|ug/m3|µg/m3)\b",
    re.I,
)
MONEY = re.compile(r"\bRp\.?\s*\d|\b\d+(?:[.,]\d+)?\s*(?:juta|ribu|miliar|rb|jt|million)\b", re.I)
BUDGET = re.compile(
    r"\b(?:apbd|apbn|dak|dau|anggaran|dianggarkan|budget|pagu|kontrak|tender|"
    r"lelang|cv\.?\s+\w+|pt\.?\s+[A-Z]\w+|kontraktor|contractor)\b",
    re.I,
)
YEAR = re.compile(r"\b20[2-3]\d\b")
HOUR = re.compile(
    r"\b(?:jam|pukul|pkl|at)\s*\d{1,2}(?:[.:]\d{2})?\b|\b\d{1,2}[.:]\d{2}\s*(?:wib|wita)?\b", re.I
)
DOCUMENT = re.compile(
    r"\b(?:no(?:mor)?\.?|surat|sk|nota|ba|berita acara|spk|tiket)\s*[:.]?\s*"
    r"\d+[\w./-]*|\b\d{2,}/[\w.-]+/[\w./-]+\b",
    re.I,
)
PLACE_WORD = re.compile(
    r"\b(?:jl|jln|jalan|gg|gang|rt|rw|kel|kec|kelurahan|kecamatan|komplek|"
    r"perumahan|simpang|km|depan|samping|street|road|st)\b\.?\s*\S",
    re.I,
)
TEAM = re.compile(
    r"\b(?:tim|regu|upt|uptd|satgas|petugas|team|crew|seksi|bidang)\s+[A-Za-z0-9]", re.I
)
ENGLISH_ACTION = re.compile(
    r"\b(?:has|have|had|was|were|been)\s+(?:been\s+)?(?:fixed|repaired|patched|cleaned|"
    r"cleared|replaced|installed|removed|collected|sealed|closed|towed|paid|issued|printed|"
    r"dredged|sprayed|fogged|restored|reconnected)\b|\bwe\s+(?:fixed|repaired|patched|cleaned|"
    r"replaced|installed|removed|collected|sealed)\b",
    re.I,
)
ENGLISH_REQUEST = re.compile(
    r"\b(?:please|kindly|could you|can you|we need you to|we require)\b[^.?!]{0,40}\b(?:send|"
    r"provide|share|attach|tell|give|confirm|specify|upload|resend)\b",
    re.I,
)
ENGLISH_FORWARD = re.compile(
    r"\b(?:forwarded|referred|passed on|redirected|transferred)\s+"
    r"(?:it\s+|your report\s+|the report\s+)?(?:to|for)\b",
    re.I,
)
PHOTO = re.compile(r"\b(?:foto|photo|dokumentasi|gambar|terlampir|attached|picture)\b", re.I)

REASON_KINDS = (
    "action",
    "vague",
    "not_an_action",
    "date",
    "place",
    "unit",
    "amount",
    "question",
    "info_request",
    "forwarded",
    "phrase",
    "link",
    "evidence_mentioned",
)


@dataclass(frozen=True)
class Reading:
    """A reply read once: the rules' label and reasons, and the feature vector."""

    rule_label: str
    reasons: list[str]
    vector: list[float]
    particulars: int  # how many concrete particulars (place, date, unit, amount, …)
    text: str  # normalised, for the model's n-grams


RULE_LABELS = (
    "acknowledgement",
    "substantive",
    "substantive_with_evidence",
    "forwarded",
    "info_request",
)


def read(text: str, attachments: int, rule_label: str, reasons: Sequence[str]) -> Reading:
    plain = strip_html(text)
    kinds = [r.split(":", 1)[0] for r in reasons]
    counts = [min(kinds.count(k), 3) / 3 for k in REASON_KINDS]
    extra = {
        "measurement": bool(MEASUREMENT.search(plain)),
        "money": bool(MONEY.search(plain)),
        "budget": bool(BUDGET.search(plain)),
        "year": bool(YEAR.search(plain)),
        "hour": bool(HOUR.search(plain)),
        "document": bool(DOCUMENT.search(plain)),
        "place_word": bool(PLACE_WORD.search(plain)),
        "team": bool(TEAM.search(plain)),
        "en_action": bool(ENGLISH_ACTION.search(plain)),
        "en_request": bool(ENGLISH_REQUEST.search(plain)),
        "en_forward": bool(ENGLISH_FORWARD.search(plain)),
        "photo_word": bool(PHOTO.search(plain)),
    }
    particulars = sum(kinds.count(k) for k in ("date", "place", "unit", "amount")) + sum(
        extra[k] for k in ("measurement", "money", "year", "hour", "document", "team")
    )
    words = len(plain.split())
    vector = [
        *counts,
        *(1.0 if rule_label == lab else 0.0 for lab in RULE_LABELS),
        *(float(v) for v in extra.values()),
        1.0 if attachments else 0.0,
        min(particulars, 4) / 4,
        min(words, 60) / 60,
        1.0 if words <= 4 else 0.0,
    ]
    return Reading(rule_label, list(reasons), vector, particulars, normalize(plain))
