"""Junk kept out of LAPOR!: operator promotions, auto-replies, empty or one-word messages,
obvious spam.

``JunkFilter(config).check(text)`` returns why a message is held, or None. Signals are
counted, not matched once: an operator's promotion needs several of its marks (a package,
a price, a USSD code, "info/berlaku"), spam several of its own (online loans, gambling, a
link and a number to contact), so a citizen's complaint *about* a pulsa scam or a loan shark
("saya ditipu pinjol, tolong ditindak") is not held: it names a problem and asks for help,
which counts against. Thresholds and phrases are configuration (``[junk]``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from aggregator.judgement.normalize import normalize
from schemas.config import JunkConfig

_PROMOTION = (
    "paket",
    "kuota",
    "pulsa",
    "promo",
    "bonus",
    "hadiah",
    "undian",
    "poin",
    "telkomsel",
    "indosat",
    "im3",
    "xl",
    "axis",
    "smartfren",
    "tri",
    "by.u",
    "mytelkomsel",
    "myim3",
    "berlaku",
    "aktifkan",
    "aktivasi",
    "tarif",
    "nelpon",
    "internet",
    "gb",
    "mb",
    "unlimited",
    "info",
    "cs",
    "pelanggan yth",
    "plgn yth",
    "sisa",
    "masa aktif",
    "isi ulang",
    "hemat",
    "diskon",
    "cashback",
    "ketik",
    "kirim ke",
    "reg",
    "unreg",
    "stop",
    "sms ke",
)
_SPAM = (
    "pinjaman",
    "pinjol",
    "dana cepat",
    "cair",
    "tanpa jaminan",
    "bunga rendah",
    "slot",
    "judi",
    "togel",
    "gacor",
    "maxwin",
    "deposit",
    "jackpot",
    "investasi",
    "profit",
    "keuntungan",
    "bitcoin",
    "crypto",
    "trading",
    "obat kuat",
    "pelangsing",
    "selamat anda",
    "anda terpilih",
    "pemenang",
    "klaim",
    "rekening",
    "transfer",
    "hubungi",
    "wa.me",
    "whatsapp",
    "follow",
    "link",
    "daftar sekarang",
    "gratis",
    "click",
    "win",
    "prize",
    "loan",
    "casino",
)
_AUTO_REPLY = (
    "out of office",
    "automatic reply",
    "auto reply",
    "autoreply",
    "balasan otomatis",
    "pesan otomatis",
    "sedang cuti",
    "sedang tidak berada di kantor",
    "tidak berada di kantor",
    "away from the office",
    "i am currently out",
    "delivery status notification",
    "undeliverable",
    "mail delivery failed",
    "returned mail",
    "pesan ini dikirim otomatis",
    "mohon tidak membalas",
    "do not reply",
    "noreply",
    "no-reply",
)
# A citizen asking for something: counts against promotion and spam.
_COMPLAINT = re.compile(
    r"\b(?:tolong|mohon|lapor\w*|aduan|pengaduan|keluhan|ditipu|penipuan|tertipu|rusak|mati"
    r"|banjir|sampah|lubang|bau|macet|bantu|ditindak\w*|resah|meresahkan|warga|kami|saya"
    r"|please|help)\b"
)
_USSD = re.compile(r"\*\d{2,4}(?:\*\d+)*#")
_URL = re.compile(r"https?://|www\.|\bbit\.ly\b|\bs\.id/|\.com\b|\.xyz\b|wa\.me", re.I)
# what str.isalnum() accepts: a word character other than the underscore
_ALNUM = re.compile(r"[^\W_]")
_MONEY = re.compile(r"\brp\.?\s?\d|\b\d+\s?(?:rb|ribu|k|jt|juta)\b|\b\d+(?:gb|mb)\b", re.I)


def _phrases(base: tuple[str, ...], extra: list[str]) -> re.Pattern[str]:
    words = [normalize(p) for p in (*base, *extra) if p.strip()]
    return re.compile(
        r"\b(?:"
        + "|".join(re.escape(w) for w in sorted(set(words), key=len, reverse=True))
        + r")\b"
    )


@dataclass
class JunkFilter:
    config: JunkConfig

    def __post_init__(self) -> None:
        c = self.config
        self._promo = _phrases(_PROMOTION, c.promotion_phrases)
        self._spam = _phrases(_SPAM, c.spam_phrases)
        self._auto = _phrases(_AUTO_REPLY, c.auto_reply_phrases)
        self._allow = _phrases((), c.allow_phrases) if c.allow_phrases else None

    def check(self, text: str, subject: str | None = None) -> str | None:
        """Why the message is held, or None to let it through."""
        return self.check_message(f"{subject or ''}\n{text}")

    def check_message(self, message: str) -> str | None:
        """``check`` of the subject and text joined by a newline (the text intake routes)."""
        c = self.config
        if not c.enabled:
            return None
        raw = message.strip()
        norm = normalize(raw)
        if self._allow is not None and self._allow.search(norm):
            return None
        words = _count_words(norm, c.min_words)
        if words < c.min_words:
            return "empty message" if not words else f"only {words} word(s)"
        polite = norm.replace("mohon maaf", "").replace("mohon tidak membalas", "")
        signals = set(_COMPLAINT.findall(polite))
        complaint = len(signals)
        auto = self._auto.search(norm)
        # "sedang cuti" is an auto-reply, unless a citizen asks for something with it
        if auto and not signals - {"saya", "kami", "warga"}:
            return f"auto-reply ('{auto.group(0)}')"
        # Intake checks every message: each signal below is sought only when it can still
        # change the outcome (a complaint's own words usually settle it first).
        money = _MONEY.search(raw) is not None
        promo = {m.group(0) for m in self._promo.finditer(norm)}
        promo_score = len(promo) + money - 2 * complaint
        if promo_score + 2 >= c.promotion_score and _USSD.search(raw):
            promo_score += 2
        if promo_score >= c.promotion_score:
            return f"operator promotion ({', '.join(sorted(promo)[:4])})"
        spam = {m.group(0) for m in self._spam.finditer(norm)}
        spam_score = len(spam) + money - 2 * complaint
        if spam_score + 1 >= c.spam_score and _URL.search(raw):
            spam_score += 1
        if spam_score >= c.spam_score:
            return f"spam ({', '.join(sorted(spam)[:4])})"
        return None


def _count_words(norm: str, enough: int) -> int:
    """Words with a letter or digit in them, counted up to ``enough``."""
    n = 0
    for w in norm.split():
        if n >= enough:
            break
        if _ALNUM.search(w):
            n += 1
    return n
