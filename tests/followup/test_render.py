"""Every template renders for every channel; SMS fits; HTML escapes agency text."""

from __future__ import annotations

import pytest

from aggregator.notify.render import CHANNELS, EVENTS, Item, render, shorten
from aggregator.notify.segments import count_parts, sms_encoding, text_units

COMMON = {
    "tracking_id": "1916449",
    "status_url": "https://kota.example/status/1916449",
    "municipality": "Kota Palangka Raya",
    "name": "Siti",
}
DATA = {
    "ack": {},
    "status_changed": {"status": "terdisposisi", "agency_name": "Dinas PUPR"},
    "response_posted": {
        "text": "Lubang sudah ditambal.",
        "agency_name": "Dinas PUPR",
        "at_local": "3 Juni 2025 10.00",
        "attachments": 0,
    },
    "info_requested": {"text": "Mohon kirim foto lokasi.", "agency_name": "Dinas PUPR"},
    "solved_question": {},
    "usage": {"text": "Ketik LAPOR <isi> lalu kirim."},
    "sunset": {},
    "complaint_linked": {"linked_tracking_id": "1916400"},
}


@pytest.mark.parametrize("channel", CHANNELS)
@pytest.mark.parametrize("event", EVENTS)
def test_every_template_renders(channel: str, event: str) -> None:
    out = render(channel, [Item(event, DATA[event])], COMMON)
    assert out.text.strip()
    assert "None" not in out.text and "{{" not in out.text
    if event in ("ack", "status_changed", "info_requested", "solved_question") and (
        channel != "web"
    ):  # the status page shows the Tracking ID above the messages
        assert "1916449" in out.text
    if event == "complaint_linked":
        assert "#1916400" in out.text
    if channel == "email":
        assert out.subject and out.subject.startswith("[LAPOR! #1916449] ")
        assert out.html and out.html.startswith("<!DOCTYPE html>")
    else:
        assert out.subject is None and out.html is None
    if channel == "sms":
        assert count_parts(out.text) <= 3


@pytest.mark.parametrize(
    "status",
    ["terverifikasi", "terdisposisi", "tertunda", "arsip", "bukan_wewenang", "selesai", "dihapus"],
)
def test_status_sentences_are_indonesian(status: str) -> None:
    text = render(
        "sms", [Item("status_changed", {"status": status, "agency_name": None})], COMMON
    ).text
    assert "berubah status" not in text  # a sentence of its own, not the raw label
    assert f'"{status}"' not in text


@pytest.mark.parametrize("max_parts", [1, 2, 3, 5])
def test_long_responses_fit_the_part_limit(max_parts: int) -> None:
    body = " ".join(["Petugas UPT telah membersihkan saluran di Jl. Beliang RT 04."] * 40)
    items = [Item("response_posted", {"text": body + " 🙏", "agency_name": "DLH"})]
    if max_parts >= 2:  # a merged burst: our own wording is never cut, only agency text
        items = [Item("ack"), Item("response_posted", {"text": body, "agency_name": "DLH"}), *items]
    text = render("sms", items, COMMON, sms_max_parts=max_parts).text
    assert count_parts(text) <= max_parts
    assert text.endswith("https://kota.example/status/1916449")
    assert "#1916449" in text and "Petugas UPT telah membersihkan" in text


def test_shorten_cuts_at_a_word_and_marks_it() -> None:
    s = shorten("satu dua tiga empat lima enam tujuh delapan", 20)
    assert s.endswith("...") and text_units(s, sms_encoding(s)) <= 20
    assert s == "satu dua tiga..."
    assert shorten("pendek", 20) == "pendek"


def test_html_escapes_agency_text() -> None:
    out = render(
        "email",
        [
            Item(
                "response_posted",
                {
                    "text": "<script>alert(1)</script> & lainnya",
                    "agency_name": "A&B",
                    "at_local": None,
                    "attachments": 0,
                },
            )
        ],
        COMMON,
    )
    assert "<script>" not in out.html and "&lt;script&gt;" in out.html
    assert "<script>alert(1)</script>" in out.text  # plain text keeps it verbatim
