"""Indonesian citizen and agency text, folded to one spelling before a model reads it.

Pure functions, no I/O. ``normalize`` lowercases, strips HTML, squeezes repeated letters
("bangeeet" → "banget"), expands SMS abbreviations and slang (``yg``, ``tdk``, ``sdh``,
``jln``, ``dpn``, ``bgt``, ``gmn``, ``krn``, ``tlg``…) and regional words (Jawa, Sunda,
Betawi) to standard Indonesian, and maps the English words complaints and replies use to
their Indonesian counterparts, so one model reads "street light is dead" and "lampu jalan
mati" alike. With ``places=True`` (the router) street names, RT/RW and kelurahan become one
``lokasi`` token: a place is evidence of where, not of what ("Jl. Lampu Satu" is no street
light).
"""

from __future__ import annotations

import html
import re

from aggregator.judgement.slang import SLANG

# English → Indonesian, for complaints and replies written (partly) in English.
ENGLISH: dict[str, str] = {
    "road": "jalan",
    "roads": "jalan",
    "street": "jalan",
    # more of a complaint's English vocabulary (issue 14: English complaints are understood)
    "asphalt": "aspal",
    "gravel": "kerikil",
    "cracked": "retak",
    "crack": "retak",
    "collapsed": "ambruk",
    "landslide": "longsor",
    "mud": "lumpur",
    "muddy": "becek",
    "sewer": "saluran",
    "sewage": "limbah",
    "puddle": "genangan",
    "inundated": "terendam",
    "submerged": "terendam",
    "drowning": "tenggelam",
    "peat": "gambut",
    "firefighters": "pemadam",
    "wildfire": "kebakaran lahan",
    "fumes": "asap",
    "odor": "bau",
    "odour": "bau",
    "liquor": "miras",
    "drunk": "mabuk",
    "banner": "spanduk",
    "banners": "spanduk",
    "posters": "poster",
    "levy": "pungutan",
    "levies": "pungutan",
    "diploma": "ijazah",
    "registry": "dukcapil",
    "subsidy": "bantuan",
    "pension": "pensiun",
    "lamppost": "tiang lampu",
    "faucet": "keran",
    "pressure": "tekanan",
    "vaccinations": "imunisasi",
    "pharmacy": "apotek",
    "littering": "buang sampah sembarangan",
    "pothole": "lubang",
    "potholes": "lubang",
    "hole": "lubang",
    "holes": "lubang",
    "damaged": "rusak",
    "broken": "rusak",
    "bridge": "jembatan",
    "sidewalk": "trotoar",
    "pavement": "trotoar",
    "flood": "banjir",
    "flooded": "banjir",
    "flooding": "banjir",
    "floods": "banjir",
    "drain": "saluran",
    "drains": "saluran",
    "drainage": "drainase",
    "gutter": "saluran",
    "clogged": "tersumbat",
    "blocked": "tersumbat",
    "culvert": "gorong",
    "river": "sungai",
    "trapped": "terjebak",
    "evacuation": "evakuasi",
    "evacuate": "evakuasi",
    "boat": "perahu",
    "boats": "perahu",
    "rescue": "evakuasi",
    "shelter": "pengungsian",
    "tents": "tenda",
    "parking": "parkir",
    "parked": "parkir",
    "attendant": "juru",
    "attendants": "juru",
    "fee": "tarif",
    "fees": "tarif",
    "ticket": "karcis",
    "threatened": "mengancam",
    "threaten": "mengancam",
    "thugs": "preman",
    "thug": "preman",
    "hit": "memukul",
    "swiftlet": "walet",
    "swallow": "walet",
    "nest": "sarang",
    "nests": "sarang",
    "permit": "izin",
    "permits": "izin",
    "license": "izin",
    "licence": "izin",
    "illegal": "ilegal",
    "noise": "bising",
    "noisy": "bising",
    "loud": "bising",
    "smell": "bau",
    "smells": "bau",
    "stink": "bau",
    "stinks": "bau",
    "droppings": "kotoran",
    "seal": "segel",
    "sealed": "disegel",
    "close": "tutup",
    "closed": "ditutup",
    "demolish": "bongkar",
    "garbage": "sampah",
    "trash": "sampah",
    "rubbish": "sampah",
    "waste": "sampah",
    "bin": "tong",
    "bins": "tong",
    "dumping": "buang",
    "dumped": "dibuang",
    "collected": "diangkut",
    "collection": "pengangkutan",
    "light": "lampu",
    "lights": "lampu",
    "lamp": "lampu",
    "streetlight": "lampu jalan",
    "streetlights": "lampu jalan",
    "dark": "gelap",
    "dead": "mati",
    "off": "mati",
    "flickering": "berkedip",
    "pole": "tiang",
    "cable": "kabel",
    "stolen": "dicuri",
    "water": "air",
    "tap": "keran",
    "bill": "tagihan",
    "meter": "meteran",
    "leak": "bocor",
    "leaking": "bocor",
    "pipe": "pipa",
    "dirty": "keruh",
    "murky": "keruh",
    "id": "ktp",
    "card": "kartu",
    "family": "keluarga",
    "birth": "lahir",
    "certificate": "akta",
    "queue": "antrean",
    "clinic": "puskesmas",
    "hospital": "rumah sakit",
    "medicine": "obat",
    "medicines": "obat",
    "doctor": "dokter",
    "nurse": "perawat",
    "ambulance": "ambulans",
    "dengue": "demam berdarah",
    "mosquito": "nyamuk",
    "vaccine": "vaksin",
    "vaccination": "vaksinasi",
    "school": "sekolah",
    "schools": "sekolah",
    "teacher": "guru",
    "teachers": "guru",
    "student": "siswa",
    "students": "siswa",
    "uniform": "seragam",
    "uniforms": "seragam",
    "enrolment": "ppdb",
    "enrollment": "ppdb",
    "zoning": "zonasi",
    "aid": "bantuan",
    "welfare": "bansos",
    "assistance": "bantuan",
    "poor": "miskin",
    "disabled": "disabilitas",
    "disability": "disabilitas",
    "building": "bangunan",
    "tower": "menara",
    "billboard": "reklame",
    "vendors": "pedagang",
    "vendor": "pedagang",
    "hawkers": "pedagang",
    "karaoke": "karaoke",
    "gambling": "judi",
    "beggars": "pengemis",
    "beggar": "pengemis",
    "alcohol": "miras",
    "smoke": "asap",
    "burning": "pembakaran",
    "burn": "bakar",
    "fire": "kebakaran",
    "fires": "kebakaran",
    "factory": "pabrik",
    "pollution": "pencemaran",
    "polluted": "tercemar",
    "haze": "asap",
    "bribe": "suap",
    "bribes": "suap",
    "extortion": "pungli",
    "broker": "calo",
    "brokers": "calo",
    "officer": "petugas",
    "officers": "petugas",
    "official": "pegawai",
    "officials": "pegawai",
    "dog": "anjing",
    "dogs": "anjing",
    "stray": "liar",
    "neighbour": "tetangga",
    "neighbor": "tetangga",
    "please": "mohon",
    "help": "tolong",
    "fixed": "diperbaiki",
    "repaired": "diperbaiki",
    "repair": "perbaiki",
    "cleaned": "dibersihkan",
    "replaced": "diganti",
    "installed": "dipasang",
    "patched": "ditambal",
    "removed": "dibongkar",
    "done": "selesai",
    "completed": "selesai",
    "forwarded": "diteruskan",
    "forward": "teruskan",
    "referred": "diteruskan",
    "thank": "terima",
    "thanks": "terima kasih",
    "received": "diterima",
    "report": "laporan",
    "complaint": "pengaduan",
    "photo": "foto",
    "photos": "foto",
    "address": "alamat",
    "location": "lokasi",
    "number": "nomor",
    "team": "tim",
    "yesterday": "kemarin",
    "today": "hari ini",
    "tomorrow": "besok",
    "week": "minggu",
    "weeks": "minggu",
    "month": "bulan",
    "months": "bulan",
    "since": "sejak",
    "near": "dekat",
    "front": "depan",
    "behind": "belakang",
    "our": "kami",
    "my": "saya",
}

_SQUEEZE = re.compile(r"([a-z])\1{2,}")
_TAG = re.compile(r"<[^>]+>")
_BR = re.compile(r"<\s*(?:br|/p|/div|/li)\s*/?>", re.I)
_TOKEN = re.compile(r"[a-z0-9]+(?:['-][a-z0-9]+)*|[^\sa-z0-9]")
# Street, alley, neighbourhood names: "Jl. G. Obos IX", "Gg. Sepakat", "RT 03/RW 02".
_PLACE = (
    re.compile(
        r"\b(?i:jl|jln|jalan)\.\s*[A-Za-z0-9][\w.'-]*(?:\s+(?:[A-Z0-9][\w.'-]*|no\.?\s*\d+))*"
    ),
    re.compile(r"\b(?:Jl|Jln|JL|JLN)\s+[A-Za-z][\w.'-]*(?:\s+[A-Z0-9][\w.'-]*)*"),
    re.compile(r"\bJalan\s+[A-Z][\w.'-]*(?:\s+[A-Z0-9][\w.'-]*)*"),
    # an alley: after "Gg." one word of any case, else a capitalised name or a number —
    # case-insensitive names would take the rest of the sentence ("di gang kami lampu mati")
    re.compile(
        r"\b(?i:gg|gang)(?:\.\s*[A-Za-z0-9][\w'-]*|\s+[A-Z0-9][\w'-]*)(?:\s+[A-Z0-9][\w.'-]*)*"
    ),
    re.compile(r"\b(?:rt|rw)\.?\s*\d+(?:\s*/\s*(?:rw\.?\s*)?\d+)?", re.I),
    re.compile(
        r"\b(?i:kelurahan|kecamatan|kel|kec|desa|komplek|kompleks|perumahan|perum)\.?\s+"
        r"[A-Z][\w.'-]*(?:\s+[A-Z0-9][\w.'-]*)*"
    ),
    re.compile(r"\bno\.?\s*\d+[a-z]?\b", re.I),
)
_WORD_FIX = {
    # joined forms that carry one meaning
    "lampu jalan": "lampu_jalan",
    "tindak lanjut": "tindaklanjut",
    "tindak lanjuti": "tindaklanjuti",
    "kerja bakti": "kerjabakti",
    "rumah sakit": "rumah_sakit",
    "kartu keluarga": "kk",
    "pungutan liar": "pungli",
    "uang rokok": "uang_rokok",
    "uang pelicin": "uang_pelicin",
}


def squeeze(word: str) -> str:
    """Letters repeated three times or more become one: "bangeeet" → "banget"."""
    return _SQUEEZE.sub(r"\1", word)


def strip_html(text: str) -> str:
    if "<" not in text and "&" not in text:
        return text
    return html.unescape(_TAG.sub(" ", _BR.sub("\n", text)))


# In ALL-CAPS or Title Case text capitals mark nothing: a street keyword takes one name word
# (plus a km, number or roman numeral), or "JL. KINIBALU KORBAN BANJIR BUTUH TENDA" and
# "Jalan Berlubang Di Depan Rumah" would lose their matter.
_CAPS_PLACE = (
    re.compile(r"\b(?:RT|RW)\.?\s*\d+(?:\s*/\s*(?:RW\.?\s*)?\d+)?", re.I),
    re.compile(
        r"\b(?:JL|JLN|GG|KEL|KEC|PERUM)\b\.?\s*[A-Z0-9][\w'-]*(?:\.\s*[A-Z][\w'-]*)?"
        r"(?:\s+[A-Z][\w'-]*(?=\s+(?:KM|NO)\.?\s*\d))?(?:\s+(?:KM|NO)\.?\s*\d+|\s+[IVX]+\b)?",
        re.I,
    ),
    # spelled-out keywords are words of the sentence too ("jalan rusak"): only with a dot or
    # a number after them ("Jalan. Kenanga", "Gang 3") are they an address
    re.compile(
        r"\b(?:JALAN|GANG|KELURAHAN|KECAMATAN|DESA|KOMPLEK|KOMPLEKS|PERUMAHAN)\b"
        r"(?:\.\s*[A-Z0-9][\w'-]*|\s+\d+\b)",
        re.I,
    ),
    re.compile(r"\bNO\.?\s*\d+[A-Z]?\b", re.I),
)


def _mostly_caps(text: str) -> bool:
    """ALL CAPS, or Title Case (most words capitalised): capitals tell no names apart."""
    letters = list(filter(str.isalpha, text))  # map/filter: no Python frame per character
    if len(letters) >= 12 and sum(map(str.isupper, letters)) > 0.8 * len(letters):
        return True
    words = [w for w in text.split() if w[:1].isalpha()]
    return len(words) >= 5 and sum(w[0].isupper() for w in words) > 0.75 * len(words)


def mask_places(text: str) -> str:
    """Street names and neighbourhoods as ``lokasi`` (before lowercasing: capitals mark names)."""
    for pat in _CAPS_PLACE if _mostly_caps(text) else _PLACE:
        text = pat.sub(" lokasi ", text)
    return text


def tokens(text: str, *, places: bool = False) -> list[str]:
    text = strip_html(text)
    if places:
        text = mask_places(text)
    out: list[str] = []
    low = text.lower()
    repeats = _SQUEEZE.search(low) is not None
    for tok in _TOKEN.findall(low):
        if not tok[0].isalnum():
            if tok in "?!" and (not out or out[-1] != tok):
                out.append(tok)
            continue
        if repeats:
            tok = squeeze(tok)
        words = _WORDS.get(tok)
        if words is None:
            words = _word(tok)
        out.extend(words)
    return out


# What each token (repeated letters squeezed) stands for: a word is looked up once.
_WORDS: dict[str, list[str]] = {}


def _word(tok: str) -> list[str]:
    if len(_WORDS) > 200_000:
        _WORDS.clear()
    key = tok
    if tok.endswith("2") and tok[:-1].isalpha():
        tok = tok[:-1]  # "anak2" (reduplication written with a 2)
    expanded = SLANG.get(tok) or ENGLISH.get(tok) or tok
    words = _WORDS[key] = expanded.split()
    return words


def normalize(text: str, *, places: bool = False) -> str:
    """One spelling for a model: lowercase words separated by single spaces."""
    out = " ".join(tokens(text, places=places))
    for phrase, joined in _WORD_FIX.items():
        if phrase in out:
            out = out.replace(phrase, joined)
    return out
