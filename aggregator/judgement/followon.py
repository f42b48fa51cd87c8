"""Reply or new complaint: what a message from a reporter with an open complaint is.

Intake finds the reporter's open complaint (by phone for SMS, by address for e-mail
outside any thread, by receipt code on the status page); :func:`judge` then reads the
message. It is a **reply** only when it is about the same matter:

1. it refers to the report (its tracking number, "laporan saya", "nomor aduan"…);
2. it answers the question we asked the reporter;
3. it names the same category (the router's reading of the message, when confident) or
   the same place (street, RT/RW, landmark) as the complaint, or shares most of its words;
4. it asks about the report or thanks for it ("kapan diperbaiki?", "sudah pak, makasih"),
   or says too little to be a problem of its own.

It is a **new complaint** when it says so ("ada lagi", "satu lagi", "laporan baru", "mau
lapor juga") — unless it is about the same place — or when the router reads a problem of
another category in it, however short ("lampu jalan dpn masjid mati" after a parking
complaint): only a status word ("masih", "belum ada", "kapan", "terima kasih") with no other
place keeps such a message a reply — and, while the open complaint is still gathering its
sender's SMS burst (not pushed, inside the quiet window), a short message is one more part
of it. A category that follows from the open one (the
health effects of the smoke complained about, a robbery in the unlit street) is the same
matter. The decision and its reasons go on both
complaints' timelines; an operator can move the message the other way.

Pure functions, no I/O; intake calls :func:`judge` at its threading point.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from aggregator.judgement.normalize import _PLACE, normalize

# "ada lagi", "satu lagi": another matter. Matched on normalised text ("lg" → "lagi").
_NEW_MARKERS = re.compile(
    r"\b(?:ada (?:lagi|juga)|satu lagi|1 lagi|laporan baru|aduan baru|pengaduan baru"
    r"|lapor(?:kan)? (?:lagi|juga)|melaporkan (?:lagi|juga)|mau (?:melapor|lapor)\w*"
    r"|ingin (?:melapor|lapor)\w*|masalah (?:lain|baru)|hal lain|selain itu|sekalian"
    r"|keluhan lain|keluhan baru|soal lain|beda lagi|another (?:problem|issue|complaint)"
    r"|new (?:problem|issue|complaint)|one more)\b"
)
# A reference to the report itself.
_REFERENCE = re.compile(
    r"\b(?:laporan|aduan|pengaduan|keluhan|tiket|nomor|no) (?:saya|kami|kemarin|sebelumnya|"
    r"tadi|yang kemarin|yang lalu|tersebut|itu|nomor|no)\b|\bmy (?:report|complaint)\b"
    r"|\b(?:re|balas)\b|\btersebut\b|\b\w+ itu (?:bapak|ibu)\b"
)
# Asking after the report, thanking for it, confirming it.
_ABOUT_REPORT = re.compile(
    r"\b(?:kapan|bagaimana|sampai sekarang|sampai kapan|progres|perkembangan|kabar"
    r"|tindaklanjut\w*|ditindaklanjuti|belum ada|masih belum|masih sama|sudah (?:di\w+|normal)"
    r"|belum (?:di\w+|normal)|sudah saya \w+|terima kasih|oke|ok|siap|iya|betul|benar|alhamdulillah"
    r"|any update|when|still|thank\w*)\b"
)
# The part of those that only makes sense about a report already made (status, thanks),
# unlike a bare "bagaimana", "ok" or "iya" that a new question can carry as well.
_STATUS = re.compile(
    r"\b(?:kapan|sampai sekarang|sampai kapan|progres|perkembangan|kabar|tindaklanjut\w*"
    r"|ditindaklanjuti|belum ada|masih|sudah (?:di\w+|normal)|belum (?:di\w+|normal)"
    r"|sudah saya \w+|terima kasih|alhamdulillah|any update|still|thank\w*)\b"
)
_SURE = 0.75  # the router's confidence above which a bare question word does not make a reply
_WORD = re.compile(r"[a-z0-9_]+")
# Categories where one is what the other does to people or places: a message about the
# consequence ("anak saya dirawat karena sesak" after a smoke complaint, "ada yang dibegal
# karena gelap" after a street-light one) is about the same matter.
RELATED = frozenset(
    frozenset(pair)
    for pair in (
        ("lingkungan_asap", "kesehatan"),
        ("banjir_drainase", "infrastruktur_jalan"),
        ("sarang_walet", "lingkungan_asap"),
        ("penerangan_jalan", "ketertiban_umum"),
        ("pungli_pelayanan", "adminduk"),
        ("pungli_pelayanan", "bansos"),
    )
)
# Words that say nothing of the matter (shared by any two messages).
_STOP = frozenset(
    "yang dan di ke dari ini itu sudah belum tidak ada saya kami bapak ibu tolong mohon "
    "pada untuk dengan lagi juga karena sangat banget sekali hari minggu bulan lokasi jalan "
    "depan dekat sini sana terima kasih pak bu lebih masih kapan bagaimana apa akan bisa "
    "satu dua tiga kok sih nya dong ya iya".split()
)


@dataclass(frozen=True)
class OpenComplaint:
    """What intake knows of the reporter's open complaint."""

    id: str
    text: str  # title and content
    category: str | None = None  # the router's category (route_category)
    tracking_id: str | None = None
    asked: bool = False  # we asked the reporter something (waiting_on_reporter)
    # Not pushed yet and still gathering its sender's burst (issue 14, item 3): a short
    # message now is more of the same complaint unless it says it is another one.
    gathering: bool = False


@dataclass(frozen=True)
class Verdict:
    reply: bool
    reason: str  # one line, for the timeline
    signals: tuple[str, ...] = field(default=())

    @property
    def decision(self) -> str:
        return "reply" if self.reply else "new_complaint"

    def as_json(self) -> dict[str, object]:
        return {"decision": self.decision, "reason": self.reason, "signals": list(self.signals)}


_FOLD = re.compile(r"[^a-z0-9]+")
_STREET_WORDS = frozenset({"jl", "jln", "jalan", "gg", "gang", "no", "nomor"})
_LANDMARK_WORDS = (
    "masjid musholla mushola gereja pasar sekolah sdn smpn sman puskesmas kantor"
    " taman terminal stasiun perempatan pertigaan jembatan"
).split()
_LANDMARK = re.compile(
    r"\b(?:" + "|".join(_LANDMARK_WORDS) + r")\s+"
    # the landmark's name, not the next word of the sentence ("di puskesmas karena sesak")
    r"(?!(?:karena|krn|dan|yang|yg|di|ke|dari|sudah|sdh|belum|blm|tidak|tdk|itu|ini|juga|lagi"
    r"|pak|bu|mati|rusak|banjir|tutup)\b)[\w-]+(?:\s+\d+)?",
    re.I,
)
_PLACE_HINT = re.compile(r"\b(?:jl|jln|jalan|gg|gang|rt|rw)\b", re.I)


def _fold(name: str) -> str:
    return " ".join(w for w in _FOLD.sub(" ", name.lower()).split() if w not in _STREET_WORDS)


def places(text: str) -> set[str]:
    """Streets, alleys, RT/RW and landmarks named in a text, in one spelling ("Jl. G. Obos
    IX" → "g obos ix"); a kelurahan is too wide a place to tell two problems apart."""
    found: set[str] = set()
    if _PLACE_HINT.search(text):
        for pat in _PLACE[:5]:
            for m in pat.finditer(text):
                if folded := _fold(m.group(0)):
                    found.add(folded)
    # Intake reads every complaint's places (clusters): the case-blind scan runs only when
    # a landmark's word is in the text (in ASCII, lower() is exactly what re.I compares).
    if not text.isascii() or any(w in text.lower() for w in _LANDMARK_WORDS):
        for m in _LANDMARK.finditer(text):
            found.add(_fold(m.group(0)))
    return found


def _stem(word: str) -> str:
    """ "parkirnya" and "parkir", "jukirnya" and "jukir" are one word here."""
    for suffix in ("nya", "lah", "kah"):
        if word.endswith(suffix) and len(word) > len(suffix) + 3:
            return word[: -len(suffix)]
    return word


def _content_words(norm: str) -> set[str]:
    return {_stem(w) for w in _WORD.findall(norm) if len(w) > 2 and w not in _STOP}


def judge(
    message: str,
    open_complaint: OpenComplaint,
    *,
    category: str | None = None,
    confidence: float = 0.0,
    min_confidence: float = 0.55,
    short_words: int = 8,
) -> Verdict:
    """Reply or new complaint. ``category`` and ``confidence`` are the router's reading of
    the message (None when routing is off)."""
    norm = normalize(message)
    words = norm.split()
    signals: list[str] = []
    oc = open_complaint
    if oc.tracking_id and oc.tracking_id.lower() in message.lower():
        return Verdict(True, f"refers to report {oc.tracking_id}", ("tracking_id",))
    ref = _REFERENCE.search(norm)
    same_category = (
        category is not None
        and oc.category is not None
        and category == oc.category
        and confidence >= min_confidence / 2
    )
    related = (
        category is not None
        and oc.category is not None
        and frozenset((category, oc.category)) in RELATED
    )
    other_category = (
        category is not None
        and oc.category is not None
        and category != oc.category
        and not related
        and confidence >= min_confidence
    )
    mine, theirs = places(message), places(oc.text)
    shared_place = sorted(mine & theirs)
    new_marker = _NEW_MARKERS.search(norm)
    if same_category:
        signals.append(f"same category {category}")
    if shared_place:
        signals.append(f"same place {shared_place[0]}")
    if new_marker:
        signals.append(f"says '{new_marker.group(0)}'")
        if shared_place and not other_category:
            return Verdict(True, f"same matter despite '{new_marker.group(0)}'", tuple(signals))
        if other_category:
            signals.append(f"category {category}, not {oc.category}")
        return Verdict(False, f"another matter: '{new_marker.group(0)}'", tuple(signals))
    if ref:
        return Verdict(True, f"refers to the report: '{ref.group(0)}'", (*signals, "reference"))
    if oc.asked and len(words) <= 40:
        return Verdict(True, "answers our question to the reporter", (*signals, "asked"))
    if same_category:
        return Verdict(True, f"same category ({category})", tuple(signals))
    if shared_place:
        return Verdict(True, f"same place ({shared_place[0]})", tuple(signals))
    if related and confidence >= min_confidence:
        return Verdict(
            True, f"related matter: {category} follows from {oc.category}", tuple(signals)
        )
    about = _ABOUT_REPORT.search(norm)
    status = _STATUS.search(norm)
    if (
        other_category
        and not oc.gathering
        and ((mine - theirs) or (status is None and (about is None or confidence >= _SURE)))
    ):
        # A problem of another category is a complaint of its own however short it is
        # ("lampu jalan dpn masjid mati" after a parking complaint), unless it only asks
        # after or answers for the report and names no other place.
        signals.append(f"category {category}, not {oc.category}")
        if mine - theirs:
            signals.append(f"other place {sorted(mine - theirs)[0]}")
        return Verdict(
            False, f"another problem: {category} (open complaint: {oc.category})", tuple(signals)
        )
    mine_w, theirs_w = _content_words(norm), _content_words(normalize(oc.text))
    overlap = len(mine_w & theirs_w) / max(1, min(len(mine_w), len(theirs_w)))
    if mine_w and overlap >= 0.5:
        return Verdict(
            True, f"shares {overlap:.0%} of its words with the complaint", (*signals, "words")
        )
    if (
        other_category
        and len(words) > short_words
        and (about is None or len(words) > 2 * short_words)
    ):
        signals.append(f"category {category}, not {oc.category}")
        return Verdict(
            False, f"another problem: {category} (open complaint: {oc.category})", tuple(signals)
        )
    if about and len(words) <= 2 * short_words:
        return Verdict(
            True,
            f"asks about or answers for the report: '{about.group(0)}'",
            (*signals, "about_report"),
        )
    if len(words) <= short_words:
        return Verdict(True, "too short to be a problem of its own", tuple(signals))
    return Verdict(
        False, "describes a problem of its own, nothing ties it to the complaint", tuple(signals)
    )
