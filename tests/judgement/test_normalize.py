"""Normalisation folds citizens' spellings to one form, and is pure."""

from __future__ import annotations

import pytest

from aggregator.judgement.normalize import mask_places, normalize, squeeze, strip_html


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (
            "lampu jln dpn rmh sy mati sdh seminggu",
            "lampu_jalan depan rumah saya mati sudah seminggu",
        ),
        (
            "tdk ada yg dtg, gmn ini pak? tlg krn bgt",
            "tidak ada yang dtg bagaimana ini bapak ? tolong karena banget",
        ),
        ("JALAN RUSAK PARAHHHH!!!", "jalan rusak parah !"),
        ("blm diangkut mhn bsk kmrn", "belum diangkut mohon besok kemarin"),
        ("banyune ora mili, dalan ambrol", "air tidak mili jalan ambruk"),
        ("runtah teu diangkut", "sampah tidak diangkut"),
        ("kagak dibenerin udeh lama", "tidak diperbaiki sudah lama"),
        ("the street light is dead", "the jalan lampu is mati"),
        ("anak2 pd main", "anak pada main"),
    ],
)
def test_slang_repeats_case_english(raw: str, expected: str) -> None:
    assert normalize(raw) == expected


def test_squeeze_keeps_double_letters() -> None:
    assert squeeze("bangeeeet") == "banget"
    assert squeeze("saat") == "saat"  # two letters are Indonesian spelling, not emphasis


def test_html_and_entities() -> None:
    assert strip_html("<p>Sudah&nbsp;diperbaiki</p><br>di Jl. A").split() == [
        "Sudah",
        "diperbaiki",
        "di",
        "Jl.",
        "A",
    ]
    assert normalize("<p>Sdh dikerjakan &amp; dibersihkan</p>") == "sudah dikerjakan dibersihkan"


def test_place_names_are_not_topics() -> None:
    # "Jl. Lampu Satu" is an address, not a street light; "jalan rusak" is a road.
    assert "lampu" not in normalize("Jl. Lampu Satu berlubang", places=True)
    assert normalize("jalan rusak di Jl. Lampu Satu", places=True).startswith("jalan rusak")
    assert "lokasi" in mask_places("Gg. Sepakat RT 03/RW 05 Kel. Langkai")
    assert normalize("jln rusak", places=True) == "jalan rusak"


def test_pure() -> None:
    text = "Lampu JLN mati"
    assert normalize(text) == normalize(text)
    assert text == "Lampu JLN mati"


def test_all_caps_place_names_keep_the_matter() -> None:
    # in ALL CAPS capitals mark nothing: the street keyword takes one name (and its km)
    assert normalize("JL. KINIBALU KORBAN BANJIR BUTUH PERAHU", places=True) == (
        "lokasi korban banjir butuh perahu"
    )
    assert normalize("JL. TJILIK RIWUT KM 5 AIR PDAM KERUH", places=True) == (
        "lokasi air pdam keruh"
    )
    assert normalize("GG. SEPAKAT RT 03 LAMPU MATI", places=True) == "lokasi lokasi lampu mati"


def test_an_alley_or_a_kelurahan_takes_its_name_not_the_sentence() -> None:
    # "gang" in plain words is no place name; "Gg Damai" is, and what follows is the matter
    assert (
        normalize("lampu jalan di gang kami mati", places=True) == "lampu_jalan di gang kami mati"
    )
    assert normalize("Rumah walet di Gg Damai sudah disegel", places=True) == (
        "rumah walet di lokasi sudah disegel"
    )
    assert normalize("got mampet di gg. mawar", places=True) == "saluran tersumbat di lokasi"
    assert normalize("Kel. Langkai pendamping PKH", places=True) == "lokasi pendamping pkh"


def test_title_case_is_read_like_all_caps() -> None:
    assert normalize("Jalan Berlubang Di Depan Rumah Saya Di Jl. Kenanga", places=True) == (
        "jalan berlubang di depan rumah saya di lokasi"
    )
    assert normalize("JALAN RUSAK PARAH DI GANG 3", places=True) == "jalan rusak parah di lokasi"
