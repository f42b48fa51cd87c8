"""Why an item is in quarantine, for the dashboard: a stable code, Indonesian, and a hint.

Connectors and the pipeline state the reason in English (it is also logged); this maps each
known reason to a code that stays the same across versions (exports and runbooks name it),
an Indonesian sentence and what the operator can do. An unknown reason keeps its original
text under the code ``lainnya``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Reason:
    code: str
    text: str
    hint: str
    original: str


_RULES: tuple[tuple[str, re.Pattern[str], str, str], ...] = tuple(
    (code, re.compile(pattern, re.IGNORECASE), text, hint)
    for code, pattern, text, hint in (
        (
            "teks_kosong",
            r"^empty complaint text|without complaint text|without text|"
            r"has no text and no usable attachment|response text is empty",
            "Isi pengaduan kosong.",
            "Periksa item aslinya; bila memang kosong, biarkan. Bila teksnya ada di lampiran atau "
            "di kolom lain, perbaiki pemetaan kanal lalu proses ulang.",
        ),
        (
            "bukan_email",
            r"^empty message|no e-mail headers|unparseable message",
            "Pesan ini bukan e-mail yang dapat dibaca.",
            "Biasanya surat rusak atau spam. Unduh aslinya untuk memeriksa; bila bukan pengaduan, "
            "biarkan di karantina.",
        ),
        (
            "balasan_tanpa_pengaduan",
            r"reply matches no known complaint",
            "Balasan warga yang tidak cocok dengan pengaduan mana pun.",
            "Cari pengaduannya dengan nomor telepon atau Tracking ID warga, lalu hubungkan atau "
            "catat balasannya secara manual.",
        ),
        (
            "format_sms",
            r"not an SMS intake record|Gammu inbox item",
            "Data SMS dari gateway tidak sesuai format.",
            "Periksa konfigurasi gateway SMS (versi Gammu atau format HTTP) lalu proses ulang.",
        ),
        (
            "format_formulir",
            r"not a form row|payload is not a form row|not a status-page reply",
            "Baris formulir lama tidak sesuai format yang diharapkan.",
            "Periksa pemetaan kolom formulir lama di konfigurasi lalu proses ulang.",
        ),
        (
            "formulir_belum_diimpor",
            r"baris formulir lama .* belum pernah diimpor",
            "Perubahan baris formulir lama yang belum pernah diimpor.",
            "Jalankan impor ulang (backfill) formulir tersebut, lalu proses ulang item ini.",
        ),
        (
            "parser_gagal",
            r"^parser failed",
            "Pembaca kanal gagal memproses item ini (galat program).",
            "Laporkan ke pengelola sistem dengan ID item; setelah diperbaiki, proses ulang.",
        ),
        (
            "json_salah",
            r"send a JSON object|not JSON",
            "Data bukan objek JSON yang sah.",
            "Periksa pengirim data (integrasi) lalu kirim ulang.",
        ),
        (
            "waktu_salah",
            r"^at: ",
            "Waktu tidak sesuai format (RFC 3339 dengan zona waktu).",
            "Kirim ulang dengan waktu seperti 2026-11-28T09:30:00+07:00.",
        ),
    )
)


def explain(reason: str | None) -> Reason:
    original = (reason or "").strip()
    for code, pattern, text, hint in _RULES:
        if pattern.search(original):
            return Reason(code, text, hint, original)
    return Reason(
        "lainnya",
        original or "Tanpa alasan tercatat.",
        "Unduh item aslinya untuk memeriksa, perbaiki penyebabnya, lalu proses ulang.",
        original,
    )


CODES = (*(code for code, *_ in _RULES), "lainnya")
