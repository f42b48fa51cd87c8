"""The sandbox answers like the agency a complaint went to: a response fits the agency and
the topic, names the complaint's own place, and the labeller reads each canned text as what
it is meant to be (boilerplate stays boilerplate, a real follow-up is substantive)."""

from __future__ import annotations

from typing import Any

import pytest

from aggregator.followup.quality import classify
from aggregator.lapor.sandbox import Sandbox, SandboxConfig, data
from aggregator.lapor.sandbox.life import DEMO_STORY
from schemas.events import FollowupLabel

BANKS = [*data.FOLLOWUPS.items(), ("general", data.GENERAL_FOLLOWUPS)]


@pytest.mark.parametrize(("agency", "text"), [(a, t) for a, bank in BANKS for _w, t in bank])
def test_every_real_followup_reads_as_substantive(agency: str, text: str) -> None:
    filled = text.format(date="28-11-2026", place="Jl. RTA Milono km 5")
    assert classify(filled, 0)[0] == FollowupLabel.SUBSTANTIVE, filled
    assert classify(filled, 2)[0] == FollowupLabel.SUBSTANTIVE_WITH_EVIDENCE, filled


def test_boilerplate_forwarding_and_questions_read_as_such() -> None:
    for text in data.ACKNOWLEDGEMENTS:
        assert classify(text)[0] == FollowupLabel.ACKNOWLEDGEMENT, text
    for text in data.FORWARDED:
        assert classify(text.format(agency="Dinas PUPR"))[0] == FollowupLabel.FORWARDED, text
    for _words, text in data.INFO_REQUESTS:
        assert classify(text)[0] == FollowupLabel.INFO_REQUEST, text


def _play(content: str, agency: str, script: str) -> list[dict[str, Any]]:
    sb = Sandbox(SandboxConfig(seed=3, story=(script,)))
    body = {
        "external_ref": "c-1",
        "source_channel": "sms",
        "title": content[:40],
        "content": content,
        "suggested_agency_id": agency,
        "reporter": {},
    }
    _status, res = sb.create_report("satukanal", "k-1", body)
    report = sb.state["reports"][res["tracking_id"]]
    sb.advance(report, 100)
    return [e for e in sb.state["events"] if e["type"] == "response_posted"]


def test_a_bribery_complaint_gets_an_answer_about_the_bribe() -> None:
    content = (
        "Ada pungutan liar saat mengurus KTP di kantor kelurahan Panarung, diminta "
        "Rp 50.000 supaya cepat selesai."
    )
    ack, real = _play(content, "50", "real")
    assert ack["author"] == "Admin Penghubung Disdukcapil" and not ack["attachments"]
    assert "Kelurahan Panarung" in real["text"] and "dibebastugaskan" in real["text"]
    assert "sampah" not in real["text"].lower()
    assert real["attachments"] and all(
        a["content_type"] == "image/jpeg" for a in real["attachments"]
    )


@pytest.mark.parametrize(
    ("content", "agency", "expect"),
    [
        ("Jalan di Jl. RTA Milono km 5 berlubang besar dekat SPBU.", "45", "menambal"),
        ("Sampah di TPS Pasar Kahayan tidak diangkut sejak Senin.", "47", "mengangkut"),
        ("Antrean di Puskesmas Kayon sangat panjang, loket hanya satu.", "48", "loket"),
        ("Lampu jalan di Jl. Yos Sudarso mati sejak seminggu.", "46", "lampu PJU"),
    ],
)
def test_the_answer_fits_the_topic_and_names_the_place(
    content: str, agency: str, expect: str
) -> None:
    real = _play(content, agency, "real")[-1]
    assert expect in real["text"]
    assert data.place_in(content) in real["text"]


def test_forwarding_goes_from_the_kecamatan_to_the_right_agency() -> None:
    content = "Saluran drainase di Jl. Tjilik Riwut km 2 tersumbat, air meluap ke jalan."
    forwarded, real = _play(content, "45", "forwarded")
    assert "Dinas PUPR" in forwarded["text"] and forwarded["agency"]["id"] in ("60", "61", "62")
    assert real["agency"]["id"] == "45" and "drainase" in real["text"]


def test_the_demo_story_plays_every_kind_of_answer_to_an_end() -> None:
    sb = Sandbox(SandboxConfig(seed=1708, story=DEMO_STORY))
    for i in range(len(DEMO_STORY)):
        sb.create_report(
            "satukanal",
            f"k{i}",
            {
                "external_ref": f"r{i}",
                "source_channel": "web",
                "title": "Jalan rusak",
                "content": "Jalan di Jl. Beliang berlubang besar, mohon diperbaiki.",
                "suggested_agency_id": "45",
                "reporter": {},
            },
        )
    for report in sb.state["reports"].values():
        report["replied_at"] = 1.0  # the reporter answered what was asked
        sb.advance(report, 100)
    labels = {
        classify(e["text"], len(e["attachments"]))[0]
        for e in sb.state["events"]
        if e["type"] == "response_posted"
    }
    assert labels >= {
        FollowupLabel.ACKNOWLEDGEMENT,
        FollowupLabel.FORWARDED,
        FollowupLabel.SUBSTANTIVE,
        FollowupLabel.SUBSTANTIVE_WITH_EVIDENCE,
    }
    final = {r["status"] for r in sb.state["reports"].values()}
    assert final <= {"selesai", "bukan_wewenang", "arsip", "dihapus"}
