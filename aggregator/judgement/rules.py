"""The rule reading of an agency's answer: actions, particulars, requests, forwarding.

The follow-up labeller (:mod:`aggregator.judgement.labeller`) uses this reading both as
meaning-carrying features for its model and as the precedence rules around it.

``classify(text, attachments)`` (the rules alone) returns a :class:`FollowupLabel` and the
reasons behind it: the phrases it matched and the concrete elements it found (a date, a
place, a unit, an amount, an action taken, attachments). The rules, in order:

1. **An action taken** makes a response *substantive* (*with evidence* when it carries
   attachments or a link). An action is a concrete verb (``ditambal``, ``telah ditertibkan``,
   ``sudah dilakukan penambalan``, ``lampu sudah menyala``) whose nearest marker looking back
   says it is done (``telah``/``sudah``/``setelah``), or that stands bare in a sentence that
   names a place, date or amount. A future, purpose, request or negation marker
   (``akan``, ``segera``, ``untuk``, ``mohon``, ``belum``, ``sedang``) in between means it is
   a promise, not an action. Weak steps (``sudah dicek``, ``sudah ditangani``) count only in
   a sentence with a place, a date or an amount. Nothing in a question counts.
2. Otherwise, **asking the reporter** for something is an *info_request*;
3. otherwise, **passing it on** to another body is *forwarded*;
4. otherwise it is an *acknowledgement* — whatever it says about "tindak lanjut".
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

from aggregator.followup import lexicon as lx
from schemas.config import FollowupConfig
from schemas.events import FollowupLabel

_ABBREV = re.compile(
    r"\b(Jl|Jln|Gg|Kel|Kec|No|Yth|Bpk|Dr|dr|Hj|Ir|St|Kab|Prov|Tgl|tgl|PT|Sdr|Sdri|Tn|Ny|"
    r"[A-Z])\.",
)
_SENTENCE_END = re.compile(r"(?<=[.!?;])\s+|\n+|(?<=[!?])(?=\S)")
_TOKEN = re.compile(r"[a-z0-9]+(?:[-'][a-z0-9]+)*")
_PLACEHOLDER = "\u2024"  # one-dot leader stands in for an abbreviation's dot while splitting

_MONTHS = (
    r"jan(?:uari)?|feb(?:ruari)?|mar(?:et)?|apr(?:il)?|mei|jun(?:i)?|jul(?:i)?|"
    r"agu(?:stus)?|agt|sep(?:t(?:ember)?)?|okt(?:ober)?|nov(?:ember)?|des(?:ember)?"
)
_DAYS = r"senin|selasa|rabu|kamis|jum'?at|sabtu|minggu"
DATE_PATTERNS = (
    re.compile(r"\b\d{1,2}[/-]\d{1,2}[/-]\d{2,4}\b"),
    re.compile(rf"\b\d{{1,2}}\s+(?:{_MONTHS})\b(?:\s+\d{{4}})?", re.I),
    re.compile(r"\b(?:tanggal|tgl\.?)\s+\d{1,2}\b", re.I),
    re.compile(
        rf"\b(?:hari\s+)?(?:{_DAYS})\b(?=[\s,]+(?:\d|lalu|kemarin|pagi|siang|sore|malam))"
        rf"|\bhari\s+(?:{_DAYS})\b",
        re.I,
    ),
    re.compile(r"\b(?:kemarin|kmrn|kemaren|tadi|td)\b(?:\s+(?:pagi|siang|sore|malam))?", re.I),
    re.compile(r"\bpukul\s+\d{1,2}[.:]\d{2}", re.I),
    re.compile(rf"\bbulan\s+(?:{_MONTHS})\b", re.I),
)
PLACE_PATTERNS = (
    re.compile(r"\b(?:Jl|Jln|jl|jln|JL|JLN)\.?\s+\w[\w.']*(?:\s+[A-Z0-9][\w.']*){0,3}"),
    re.compile(r"\bJalan\s+[A-Z0-9][\w.']*(?:\s+[A-Z0-9][\w.']*){0,3}"),
    re.compile(r"\b(?:RT|RW)\.?\s*\d+", re.I),
    re.compile(
        r"\b(?:kelurahan|kecamatan|kel\.|kec\.|desa|gang|gg\.|komplek|kompleks|perumahan|"
        r"perum)\s+(?!untuk|dan|yang|setempat|terkait|tersebut|utk|yg)[A-Za-z0-9]\w*",
        re.I,
    ),
    re.compile(
        r"\b(?:simpang|bundaran|perempatan|pertigaan|bantaran|sungai|pasar|terminal|"
        r"taman)\s+(?!yang|tersebut|ini|itu)[A-Za-z]\w*",
        re.I,
    ),
    re.compile(
        r"\b(?:depan|samping|belakang)\s+(?:SDN?|SMPN?|SMAN?|SMKN?|RSUD|masjid|gereja|"
        r"kantor|toko|pasar|rumah)\b[\w ]{0,20}",
        re.I,
    ),
    re.compile(r"\bkm\.?\s*\d+(?:[.,]\d+)?", re.I),
)
UNIT_PATTERNS = (
    re.compile(r"\bUPTD?\b(?:\s+[A-Z][\w]*){0,3}"),
    re.compile(r"\b(?:bidang|seksi|satgas|regu)\s+[A-Za-z]\w*", re.I),
    re.compile(r"\btim\s+(?!kami|teknis\b)[A-Za-z]\w*", re.I),
    re.compile(r"\bpetugas\b(?:\s+(?!yang|kami|telah|sudah|tidak)[A-Za-z]\w*)?", re.I),
    re.compile(
        r"\b(?:satpol\s*pp|damkar|bpbd|dlh|dishub|pupr|disdukcapil|dinsos|diskominfo|"
        r"pln|pdam|teknisi|puskesmas(?:\s+[A-Z]\w*)?|dinas\s+[A-Z]\w*)\b",
        re.I,
    ),
)
AMOUNT_PATTERNS = (
    re.compile(
        r"\b\d+(?:[.,]\d+)?\s*(?:meter|m2|m3|m|km|titik|unit|buah|ton|truk|rit|lubang|"
        r"tiang|lampu|batang|pohon|loket|kk|orang|karung|mobil)\b",
        re.I,
    ),
    re.compile(r"\b(?:sepanjang|sebanyak|seluas)\s+\d+", re.I),
    re.compile(r"\bRp\.?\s*\d[\d.,]*", re.I),
)
LINK = re.compile(r"https?://\S+", re.I)


@dataclass(frozen=True)
class _Library:
    verb_forms: dict[str, str]  # surface form → "strong" | "weak"
    bare_stems: dict[str, str]  # stem → strength, used after "kami"/"sudah"/…
    nouns: dict[str, str]
    non_action: frozenset[str]
    ack: tuple[re.Pattern[str], ...]
    forwarded: tuple[re.Pattern[str], ...]
    info_request: tuple[re.Pattern[str], ...]
    units: tuple[re.Pattern[str], ...]


def _men(stem: str) -> list[str]:
    """The active (meN-) forms of a stem, by Indonesian nasal assimilation."""
    if len(stem) <= 3:
        return ["menge" + stem, "me" + stem]
    first = stem[0]
    if stem.startswith("per"):
        return ["mem" + stem]
    if first == "p":
        return ["mem" + stem[1:]]
    if first == "t":
        return ["men" + stem[1:]]
    if first == "k":
        return ["meng" + stem[1:]]
    if first == "s":
        return ["meny" + stem[1:]]
    if first in "bfv":
        return ["mem" + stem]
    if first in "cdjz":
        return ["men" + stem]
    if first in "aeiouhg":
        return ["meng" + stem]
    return ["me" + stem]


def _forms(stem: str) -> set[str]:
    variants = {stem}
    if not stem.endswith(("kan", "i")):
        variants |= {stem + "kan", stem + "i"}
    out: set[str] = set()
    for v in variants:
        out |= {"di" + v, "ter" + v, *_men(v)}
    return out


def _phrase(p: str) -> re.Pattern[str]:
    if p.startswith("re:"):
        return re.compile(p[3:], re.I)
    return re.compile(r"\b" + re.escape(p.lower()) + r"\b", re.I)


def _library(config: FollowupConfig | None) -> _Library:
    return _build_library((config or FollowupConfig()).model_dump_json())


@lru_cache(maxsize=16)
def _build_library(config_json: str) -> _Library:
    cfg = FollowupConfig.model_validate_json(config_json)
    non_action = {w.lower() for w in (*lx.NON_ACTION_STEMS, *cfg.non_action_words)}
    non_action_forms: set[str] = set()
    for stem in non_action:
        non_action_forms |= _forms(stem.replace(" ", "")) | {stem.replace(" ", "")}
    verb_forms: dict[str, str] = {}
    bare: dict[str, str] = {}
    for strength, stems in (
        ("weak", (*lx.WEAK_STEMS, *cfg.weak_action_words)),
        ("strong", (*lx.STRONG_STEMS, *cfg.action_words)),
    ):
        for stem in stems:
            stem = stem.lower().strip()
            if " " in stem:
                continue
            for form in _forms(stem):
                verb_forms[form] = strength
            bare[stem] = strength
            if not stem.endswith(("kan", "i")):
                bare[stem + "kan"] = strength
                bare[stem + "i"] = strength
    for form in non_action_forms:
        verb_forms.pop(form, None)
        bare.pop(form, None)
    nouns = {n.replace(" ", ""): "strong" for n in lx.STRONG_NOUNS}
    nouns.update({n: "weak" for n in lx.WEAK_NOUNS})
    return _Library(
        verb_forms=verb_forms,
        bare_stems=bare,
        nouns=nouns,
        non_action=frozenset(non_action_forms),
        ack=tuple(_phrase(p) for p in (*lx.ACK_PHRASES, *cfg.acknowledgement_phrases)),
        forwarded=tuple(re.compile(p, re.I) for p in lx.FORWARD_PATTERNS)
        + tuple(_phrase(p) for p in cfg.forwarded_phrases),
        info_request=tuple(re.compile(p, re.I) for p in lx.INFO_REQUEST_PATTERNS)
        + tuple(_phrase(p) for p in cfg.info_request_phrases),
        units=UNIT_PATTERNS + tuple(_phrase(p) for p in cfg.unit_words),
    )


def normalize(text: str) -> str:
    """Lowercase, fold informal spellings, join multi-word terms the library treats as one."""
    words = []
    for raw in re.split(r"(\s+)", text.lower()):
        core = raw.strip(".,;:!?()\"'")
        if core in lx.SLANG:
            raw = raw.replace(core, lx.SLANG[core], 1)
        words.append(raw)
    out = "".join(words)
    out = re.sub(r"\bkerja\s+bakti\b", "kerjabakti", out)
    out = re.sub(r"\btindak\s+lanjuti\b", "tindaklanjuti", out)
    return out


def sentences(text: str) -> list[str]:
    protected = _ABBREV.sub(lambda m: m.group(1) + _PLACEHOLDER, text)
    parts = _SENTENCE_END.split(protected)
    return [p.replace(_PLACEHOLDER, ".").strip() for p in parts if p and p.strip()]


@dataclass
class _Found:
    label: FollowupLabel = FollowupLabel.ACKNOWLEDGEMENT
    reasons: list[str] = field(default_factory=list)

    def add(self, reason: str) -> None:
        if reason not in self.reasons:
            self.reasons.append(reason)


def _matches(patterns: tuple[re.Pattern[str], ...], text: str) -> list[str]:
    out = []
    for p in patterns:
        for m in p.finditer(text):
            out.append(m.group(0).strip(" ,.;:"))
    return out


def _concrete(sentence: str, lib: _Library) -> dict[str, list[str]]:
    return {
        "date": _matches(DATE_PATTERNS, sentence),
        "place": _matches(PLACE_PATTERNS, sentence),
        "unit": _matches(lib.units, sentence),
        "amount": _matches(AMOUNT_PATTERNS, sentence),
    }


_BARE_OK_AFTER = frozenset({"kami", "sudah", "telah", "kita", "petugas", "saya"})
_REPORT_WORDS = frozenset({"laporan", "aduan", "pengaduan", "keluhan", "masukan", "laporannya"})


def _actions(tokens: list[str], lib: _Library) -> list[tuple[int, str, str]]:
    """Action occurrences in one sentence: (index, strength, tense) where tense is
    ``past`` (marked done), ``bare`` (no marker) or ``blocked`` (promise, purpose, negation)."""
    occ: dict[int, tuple[str, str]] = {}
    consumed: set[int] = set()
    n = len(tokens)
    for i, tok in enumerate(tokens):
        if i in consumed:
            continue
        strength: str | None = None
        tense: str | None = None
        if tok in lx.CARRIER_VERBS:
            for j in range(i + 1, min(n, i + 4)):
                if tokens[j] in lib.nouns:
                    strength = lib.nouns[tokens[j]]
                    consumed.add(j)
                    break
        elif tok in lib.non_action:
            continue
        elif tok in lib.verb_forms:
            strength = lib.verb_forms[tok]
            if tok == "menurunkan" or (
                tok.startswith(("dikirim", "mengirim", "kirim"))
                and _REPORT_WORDS & set(tokens[max(0, i - 5) : i])
            ):
                strength = None
        elif tok in lib.bare_stems and i > 0 and tokens[i - 1] in _BARE_OK_AFTER:
            strength = lib.bare_stems[tok]
        elif tok in lib.nouns:
            strength = lib.nouns[tok]
            if {"setelah", "sesudah", "hasil"} & set(tokens[max(0, i - 2) : i]):
                tense = "past"
            else:
                tense = _noun_done(tokens, i)
                if tense is None:
                    strength = None
        elif tok in lx.RESULT_STATES:
            # "Dinas Lingkungan Hidup", "jalan normal": a state is an outcome only when
            # something says it was reached.
            strength = "strong"
            near = set(tokens[max(0, i - 2) : i]) & lx.PAST_MARKERS
            again = i + 1 < n and tokens[i + 1] in {"kembali", "lagi"}
            tense = "past" if near else _look_back(tokens, i, occ) if again else None
            if tense != "past":
                strength = None
        elif tok in lx.VAGUE_STATES:
            strength = "weak"
        if strength is None:
            continue
        if tense is None:
            tense = _look_back(tokens, i, occ)
        occ[i] = (strength, tense)
    return [(i, s, t) for i, (s, t) in sorted(occ.items())]


# Inside a noun phrase ("pencairan dana untuk rumah ibadah") purpose words are not a promise.
_NOUN_PHRASE_BLOCK = lx.BLOCK_MARKERS - {"untuk", "guna", "demi", "agar", "supaya", "dalam"}


def _noun_done(tokens: list[str], i: int) -> str | None:
    """``penambalan (jalan) telah selesai dikerjakan``: the noun is done if a past marker and
    a completion word follow it, with no blocking word first."""
    saw_past = False
    for j in range(i + 1, min(len(tokens), i + 11)):
        t = tokens[j]
        if t in _NOUN_PHRASE_BLOCK:
            return "blocked"
        if t in lx.PAST_MARKERS:
            saw_past = True
        elif t in lx.DONE_WORDS:
            return "past" if saw_past else "bare"
    return None


def _look_back(tokens: list[str], i: int, occ: dict[int, tuple[str, str]]) -> str:
    for j in range(i - 1, max(-1, i - 7), -1):
        t = tokens[j]
        if j in occ:
            return occ[j][1]
        if t in lx.PAST_MARKERS:
            return "past"
        if t in lx.BLOCK_MARKERS:
            return "blocked"
    return "bare"


def classify(
    text: str, attachments: int = 0, *, config: FollowupConfig | None = None
) -> tuple[FollowupLabel, list[str]]:
    """Label one agency response and say why."""
    lib = _library(config)
    found = _Found()
    norm = normalize(text)
    for m in _matches(lib.ack, norm):
        found.add(f"phrase: {m}")

    acted = False
    for sent in sentences(text):
        if sent.endswith("?"):
            found.add(f"question: {_clip(sent)}")
            continue
        sent_norm = normalize(sent)
        tokens = _TOKEN.findall(sent_norm)
        concrete = _concrete(sent, lib)
        anchored = bool(
            concrete["date"]
            or concrete["place"]
            or concrete["amount"]
            or lx.PAST_TIME & set(tokens)
        )
        for i, strength, tense in _actions(tokens, lib):
            phrase = " ".join(tokens[max(0, i - 2) : i + 2])
            if tense == "blocked":
                found.add(f"not_an_action: {phrase}")
                continue
            counts = (strength == "strong" and (tense == "past" or anchored)) or (
                strength == "weak" and anchored
            )
            if counts:
                acted = True
                found.add(f"action: {phrase}")
            else:
                found.add(f"vague: {phrase}")
        for kind, values in concrete.items():
            for v in values:
                found.add(f"{kind}: {v}")

    if attachments:
        found.add(f"attachments: {attachments}")
    links = LINK.findall(text)
    if links:
        found.add("link: " + links[0])
    for phrase in lx.EVIDENCE_PHRASES:
        if phrase in norm:
            found.add(f"evidence_mentioned: {phrase}")
            break

    info = _matches(lib.info_request, norm)
    forwarded = _matches(lib.forwarded, norm)
    for m in info:
        found.add(f"info_request: {m}")
    for m in forwarded:
        found.add(f"forwarded: {m}")

    if acted:
        label = (
            FollowupLabel.SUBSTANTIVE_WITH_EVIDENCE
            if attachments > 0 or links
            else FollowupLabel.SUBSTANTIVE
        )
    elif info or any(r.startswith("question: ") for r in found.reasons):
        label = FollowupLabel.INFO_REQUEST
    elif forwarded:
        label = FollowupLabel.FORWARDED
    else:
        label = FollowupLabel.ACKNOWLEDGEMENT
    return label, found.reasons


def _clip(s: str, n: int = 60) -> str:
    return s if len(s) <= n else s[: n - 1] + "…"
