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


def test_clean_text_fast_path_agrees_with_the_full_cleaning() -> None:
    """Text that is already tidy is returned as is without the full pass; on random strings
    of the characters that matter, both ways give the same result."""
    import random

    from aggregator.intake.normalize import _clean, _tidy

    alphabet = (
        "ab .",
        " ",
        "\n",
        "\t",
        "\r",
        "\x00",
        "\x0b",
        "\x1f",
        "\x7f",
        "\x0c",
        "\x1c",
        "\u00a0",
        "\u2028",
        "\u200b",
        "\u00e9",
        "e\u0301",
        "\u2014",
        "\u3000",
        "\ufeff",
        "\U0001f600",
        "\ud800",
    )
    rnd = random.Random(7)
    tidy = 0
    for _ in range(50_000):
        text = "".join(rnd.choice(alphabet) for _ in range(rnd.randint(0, 10)))
        assert clean_text(text) == _clean(text), repr(text)
        if _tidy(text):
            tidy += 1
            assert _clean(text) == text, repr(text)
    assert tidy > 1000  # the fast path was taken, not only the full one
    dash = "Jalan rusak \u2014 mohon diperbaiki."
    assert clean_text(dash) is dash
    assert clean_text("caf\u0065\u0301") == "caf\u00e9"  # NFC still applied
