"""Write the routing corpora from bank.py (fixed seed; re-run after editing the bank).

    python tests/data/routing/generate.py

Training corpus: aggregator/judgement/corpus/routing_train.jsonl (shipped with the package,
the router trains on it at first use). Held-out corpus: tests/data/routing/holdout.jsonl,
built from the bank's ``B`` phrases, its own places and its own wrappers (template set B),
never used for training or tuning. Hand-written items live beside them
(``routing_handwritten.jsonl`` in the package, ``holdout_handwritten.jsonl`` here).
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from bank import BANK  # noqa: E402

ROOT = HERE.parent.parent.parent
TRAIN = ROOT / "aggregator" / "judgement" / "corpus" / "routing_train.jsonl"
HOLDOUT = HERE / "holdout.jsonl"

PLACES = {
    "A": [
        "Jl. Tjilik Riwut km 5",
        "Jl. G. Obos IX",
        "Gg. Sepakat RT 03",
        "Jl. RTA Milono",
        "Jl. Yos Sudarso",
        "Perumahan Bumi Palangka",
        "Jl. Kinibalu",
        "Kel. Langkai RT 02/RW 05",
        "Jl. Temanggung Tilung",
        "Jl. Beliang",
        "Jl. Mahir Mahar",
        "dekat pasar Kahayan",
        "Jl. Lampu Satu",
    ],
    "B": [
        "Jl. Seth Adji",
        "Jl. Diponegoro gang Mawar",
        "Komplek Amaco",
        "Jl. Rajawali km 3",
        "Kelurahan Panarung RT 7",
        "Jl. Pangeran Samudera",
        "sekitar bundaran besar",
        "Jl. Banteng",
        "Jl. Murjani",
        "Jl. Sisingamangaraja",
        "Jl. Jalan Raya Dua",
        "depan SDN 4 Menteng",
    ],
}
SINCE = {
    "A": [
        "sejak seminggu",
        "sudah 2 minggu",
        "dari bulan lalu",
        "sejak kemarin",
        "udah lama",
    ],
    "B": ["kurang lebih sebulan", "tiga hari ini", "semenjak lebaran", "dari awal tahun"],
}
ASK = {
    "A": [
        "Mohon segera ditindaklanjuti.",
        "Tolong diperhatikan pak.",
        "Mohon bantuannya.",
        "Terima kasih.",
    ],
    "B": [
        "Harap instansi terkait turun tangan.",
        "Kami tunggu responnya.",
        "Semoga cepat ditangani.",
        "Matur nuwun.",
    ],
}
NAMES = ["Budi", "Siti Aminah", "Rahmat", "Dewi", "Yohanes", "Agus S.", "Nur Aini", "Hendra"]

WRAP = {
    "A": {
        "sms": [
            "{p} di {place} {since}. {ask}",
            "{p} {place}, {ask}",
            "lapor: {p} di {place}. {ask}",
            "pak/bu {p}, {since} tdk ada perbaikan",
            "{place} {p}",
            "assalamualaikum pak, {p} di {place} {since} 🙏",
            "{p} {place} tlg dicek",
            "info min: {p}, {since}, {place}",
            "pagi pak lurah. {p}. lokasinya {place}. {ask}",
        ],
        "web": [
            "Dengan hormat, saya ingin melaporkan bahwa {p} di {place}. Kondisi ini terjadi {since}. {ask}",
            "Kepada Yth. Pemerintah Kota, {p} di wilayah {place} {since}. {ask}",
            "Nama: {name}\nAlamat: {place}\nJudul: Keluhan warga\nIsi laporan: {p}, {since}. {ask}",
            "Kami warga sekitar {place} mengeluhkan {p}. Sudah pernah disampaikan ke RT namun belum ada hasil. {ask}",
            "Judul: {p}\nLokasi kejadian: {place}\nUraian: {p}. Sudah dilaporkan lisan {since} tetapi belum ada tindak lanjut. {ask}",
            "Saya mau mengadu. {p}. Ini terjadi di {place} dan {since} warga sudah resah. {ask}",
        ],
        "email": [
            "Selamat pagi Bapak/Ibu,\n\nSaya warga {place}. Ingin menyampaikan keluhan: {p}. "
            "Masalah ini {since}.\n\n{ask}\n\nSalam,\n{name}\nDikirim dari iPhone saya",
            "Kepada Yth. Bapak Wali Kota\nc.q. Admin Pengaduan\n\nPerihal: pengaduan\n\nDengan hormat, {p}. Lokasi {place}. "
            "{ask}\n\nHormat kami,\n{name}",
        ],
        "en": [
            "Hello, {p} at {place}. {en_ask}",
            "Dear sir, {p} near {place} for weeks. Please help.",
            "Good morning, {p} in {place}. Nobody has come yet, {en_ask}",
            "pls help, {p} {place}",
        ],
    },
    "B": {
        "sms": [
            "{place}: {p}!! {ask}",
            "min {p}, lokasi {place} {since}",
            "{p}... {since} blm ada tindakan",
        ],
        "web": [
            "Laporan warga. Lokasi: {place}. Isi: {p}. Sudah {since}. {ask}",
            "Saya sebagai warga merasa dirugikan karena {p}. Tempatnya di {place}. {ask}",
        ],
        "email": [
            "Assalamualaikum wr. wb.\nYth. Admin Pengaduan\n\nBersama email ini kami sampaikan bahwa {p} "
            "({place}), {since}.\n{ask}\n\nWassalam\n{name}\n--\nSent from my Samsung Galaxy"
        ],
        "en": [
            "Good afternoon. I want to report that {p}, location {place}. Thank you.",
            "Hi admin, {p} around {place}, {en_ask}",
        ],
    },
}
EN_ASK = ["please fix it soon.", "kindly follow up, thanks.", "hope you can act quickly."]

ABBREV = {
    "yang": "yg",
    "tidak": "tdk",
    "sudah": "sdh",
    "belum": "blm",
    "jalan": "jln",
    "depan": "dpn",
    "banget": "bgt",
    "karena": "krn",
    "tolong": "tlg",
    "mohon": "mhn",
    "bapak": "bpk",
    "saya": "sy",
    "kemarin": "kmrn",
    "dengan": "dgn",
    "untuk": "utk",
    "sekarang": "skrg",
    "rumah": "rmh",
    "bagaimana": "gmn",
}
REGIONAL = {
    "tidak": ["ora", "teu", "kagak", "kada"],
    "sudah": ["wis", "udeh", "atos"],
    "rumah": ["omah", "imah"],
    "saluran": ["got", "solokan"],
    "sampah": ["runtah"],
    "berlubang": ["bolong"],
    "tersumbat": ["mampet"],
}
MIX_EN = {
    "tolong": "please",
    "jalan": "road",
    "mohon": "please",
    "sampah": "trash",
    "lampu": "light",
}


def sms_style(rng: random.Random, text: str) -> str:
    words = text.split(" ")
    out = []
    for w in words:
        low = w.lower().strip(".,!")
        if low in ABBREV and rng.random() < 0.7:
            w = w.lower().replace(low, ABBREV[low])
        elif low in REGIONAL and rng.random() < 0.25:
            w = rng.choice(REGIONAL[low])
        elif low in MIX_EN and rng.random() < 0.1:
            w = MIX_EN[low]
        out.append(w)
    text = " ".join(out)
    if rng.random() < 0.3:
        text = text.upper()
    elif rng.random() < 0.7:
        text = text.lower()
    return text


def noise(rng: random.Random, text: str) -> str:
    chars = list(text)
    for _ in range(rng.randint(0, 2)):  # typos: swap or drop a letter
        i = rng.randrange(1, max(2, len(chars) - 1))
        if chars[i].isalpha() and chars[i - 1].isalpha():
            if rng.random() < 0.5:
                chars[i], chars[i - 1] = chars[i - 1], chars[i]
            else:
                del chars[i]
    text = "".join(chars)
    if rng.random() < 0.25:  # a repeated letter for emphasis
        for w in ("parah", "banget", "bgt", "lama", "bau", "gelap", "tolong", "mohon"):
            if w in text:
                text = text.replace(w, w[:-1] + w[-1] * rng.randint(3, 6), 1)
                break
    return text


def one(rng: random.Random, split: str, route: str, channel: str, phrase: str) -> dict:
    category, agency = route.split("/")
    wrappers = WRAP[split]["en" if channel == "en" else channel]
    tpl = rng.choice(wrappers)
    text = tpl.format(
        p=phrase,
        place=rng.choice(PLACES[split]),
        since=rng.choice(SINCE[split]),
        ask=rng.choice(ASK[split]),
        name=rng.choice(NAMES),
        en_ask=rng.choice(EN_ASK),
    )
    if channel == "sms":
        text = sms_style(rng, text)
    if channel != "en":
        text = noise(rng, text)
    return {
        "text": text,
        "channel": "sms"
        if channel in ("sms", "en") and rng.random() < 0.5
        else ("web" if channel == "en" else channel),
        "category": category,
        "agency": agency,
        "wrapper": f"{channel}{wrappers.index(tpl)}",
    }


PRIORITY = {
    "A": ["tapi yang utama tolong {q} dulu", "yang paling penting {q} dulu diurus"],
    "B": ["prioritaskan dulu {q}", "yang mendesak: {q}, tolong itu dulu"],
}


def mixed(rng: random.Random, split: str, routes: list[str]) -> dict:
    """Two topics: either one dominates the text, or the writer says which to fix first."""
    main, other = rng.sample(routes, 2)
    key = "A" if split == "A" else "B"
    p_main = rng.sample(BANK[main][key], min(2, len(BANK[main][key])))
    p_other = rng.choice(BANK[other][key])
    place = rng.choice(PLACES[split])
    if rng.random() < 0.5:
        text = (
            f"Di {place} {p_main[0]}, {rng.choice(SINCE[split])}. "
            + (f"Selain itu {p_main[-1]}. " if len(p_main) > 1 else "")
            + f"Oh ya, {p_other} juga. {rng.choice(ASK[split])}"
        )
        winner = main
    else:
        text = (
            f"Di {place} {p_main[0]}. Lalu {p_other}. "
            f"{rng.choice(PRIORITY[split]).format(q=p_other)}. {rng.choice(ASK[split])}"
        )
        winner = other
    category, agency = winner.split("/")
    return {
        "text": noise(rng, text),
        "channel": rng.choice(["web", "email", "sms"]),
        "category": category,
        "agency": agency,
        "mixed": True,
    }


def grouped(split: str, row: dict, group: str) -> dict:
    """Training rows name the bank phrase and the wrapper they are made of, so a dev split
    can leave whole phrases and wrappers out (bench/route_dev.py), as the held-out corpus
    does."""
    if split != "A":
        return {k: v for k, v in row.items() if k != "wrapper"}
    return {**row, "group": group}


def build(split: str, per_phrase: int, n_mixed: int, seed: int) -> list[dict]:
    rng = random.Random(seed)
    rows: list[dict] = []
    routes = sorted(BANK)
    for route in routes:
        for i, phrase in enumerate(BANK[route][split]):
            for _ in range(per_phrase):
                row = one(rng, split, route, rng.choice(["sms", "sms", "web", "email"]), phrase)
                rows.append(grouped(split, row, f"{route}#{i}"))
        for i, phrase in enumerate(BANK[route]["en" + split]):
            for _ in range(2):
                rows.append(grouped(split, one(rng, split, route, "en", phrase), f"{route}#en{i}"))
    # routes with few phrases (the exceptions) get their share, so no class is starved
    single = [r for r in routes if "/" in r]
    for i in range(n_mixed):
        rows.append(
            grouped(split, mixed(rng, split, [r for r in single if BANK[r][split]]), f"mixed#{i}")
        )
    rng.shuffle(rows)
    seen: set[str] = set()
    return [r for r in rows if not (r["text"] in seen or seen.add(r["text"]))]


def write(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8"
    )


if __name__ == "__main__":
    train = build("A", 4, 120, seed=14)
    holdout = build("B", 4, 50, seed=1414)
    write(TRAIN, train)
    write(HOLDOUT, holdout)
    print(f"train {len(train)}, holdout {len(holdout)}")
