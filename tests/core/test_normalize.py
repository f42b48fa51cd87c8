from __future__ import annotations

import pytest

from aggregator.intake.normalize import check_nik, clean_text, derive_title, normalize_phone


@pytest.mark.parametrize(
    ("text", "title"),
    [
        (
            "Jembatan kayu di Jl. Mendawai ujung sudah lapuk. Anak-anak lewat situ.",
            "Jembatan kayu di Jl. Mendawai ujung sudah lapuk.",
        ),
        (
            "Pungli Rp. 50.000 di kantor Kel. Panarung! Mohon ditindak.",
            "Pungli Rp. 50.000 di kantor Kel. Panarung!",
        ),
        ("Banjir di RT 03 RW 02. Air setinggi lutut", "Banjir di RT 03 RW 02."),
        ("baris pertama\nbaris kedua", "baris pertama"),
        ("", "Pengaduan masyarakat"),
    ],
)
def test_titles_do_not_stop_at_abbreviations(text: str, title: str) -> None:
    assert derive_title(text) == title


def test_long_titles_are_cut_on_a_word_within_the_limit() -> None:
    title = derive_title("kata " * 100)
    assert len(title) <= 150 and title.endswith("…") and not title.endswith(" …")


@pytest.mark.parametrize(
    ("raw", "e164"),
    [
        ("081234567890", "+6281234567890"),
        ("0812-3456-7890", "+6281234567890"),
        ("+62 812 3456 7890", "+6281234567890"),
        ("6281234567890", "+6281234567890"),
        ("021-345678", "+6221345678"),
        ("TELKOMSEL", None),
        ("", None),
    ],
)
def test_phones_to_e164(raw: str, e164: str | None) -> None:
    assert normalize_phone(raw) == e164


def test_nik_structure_is_a_flag() -> None:
    assert check_nik("6271034509870001")  # Palangka Raya, a woman born 05-09-87
    assert not check_nik("1234567890123456")  # province 12, but month 90
    assert not check_nik("0808")


def test_clean_text_drops_nul_and_controls() -> None:
    assert clean_text("a\x00b\x07 c\r\n\r\n\r\n\r\nd") == "ab c\n\nd"
