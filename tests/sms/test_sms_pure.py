"""The pure SMS pieces on real-world samples: lengths, UDH, text decoding, senders, keywords."""

from __future__ import annotations

import datetime as dt

import pytest

from aggregator.notify.segments import count_parts, sms_encoding, split_sms, text_units
from connectors.sms.multipart import group_rows, reassemble
from connectors.sms.parser import (
    SmsConventions,
    classify_sms,
    decode_hex_text,
    decode_kannel_body,
    normalize_sender,
    parse_udh,
)
from schemas.complaint import ComplaintDraft, Ignored, ReplyDraft


def test_gsm7_and_ucs2_limits() -> None:
    assert sms_encoding("Aduan Anda diterima. No. 1916449 @ £5") == "gsm7"
    assert sms_encoding("Laporan ✓") == "ucs2"
    assert split_sms("a" * 160) == ["a" * 160]
    assert [len(p) for p in split_sms("a" * 161)] == [153, 8]
    assert split_sms("é" * 70) == ["é" * 70]  # é is GSM-7
    assert [len(p) for p in split_sms("✓" * 71)] == [67, 4]
    # Extension characters count double and an escape pair never straddles parts.
    assert text_units("€[]") == 6
    assert split_sms("€" * 80) == ["€" * 80]
    parts = split_sms("€" * 81)
    assert [text_units(p) for p in parts] == [152, 10]
    # Emoji are surrogate pairs in UCS-2: 2 units, never split.
    assert text_units("😀") == 2 and split_sms("😀" * 35) == ["😀" * 35]
    assert [text_units(p) for p in split_sms("😀" * 36)] == [66, 6]


def test_split_respects_max_parts_and_words() -> None:
    text = " ".join(["tindaklanjut"] * 100)
    parts = split_sms(text, max_parts=3)
    assert len(parts) == 3 and parts[-1].endswith("...")
    assert all(text_units(p) <= 153 for p in parts)
    assert not parts[0].endswith("tindaklanj")  # broken at a space, not inside a word
    one = split_sms(text, max_parts=1)
    assert len(one) == 1 and text_units(one[0]) <= 160 and one[0].endswith("...")
    assert count_parts("x" * 306) == 2 and count_parts("x" * 307) == 3
    with pytest.raises(ValueError):
        split_sms("x", 0)


def test_udh_parsing() -> None:
    assert parse_udh("050003420301").ref == 0x42  # type: ignore[union-attr]
    c = parse_udh("060804BEEF0302")
    assert c is not None and (c.ref, c.total, c.seq, c.bits) == (0xBEEF, 3, 2, 16)
    # Port addressing IE before the concatenation IE.
    c = parse_udh("0B0504158A0000" + "0003AA0201")
    assert c is not None and (c.ref, c.total, c.seq) == (0xAA, 2, 1)
    assert parse_udh("") is None and parse_udh("zz") is None
    assert parse_udh("050003420304") is None  # part 4 of 3: not a usable group


def test_hex_text_by_coding() -> None:
    assert decode_hex_text("004A0061006C0061006E", "Default_No_Compression") == "Jalan"
    assert decode_hex_text("D83DDE00", "Unicode_No_Compression") == "😀"
    assert decode_hex_text("53616D706168", "8bit") == "Sampah"
    assert decode_hex_text("E9", "8bit") == "é"
    assert decode_hex_text("", "8bit") is None
    assert decode_kannel_body("Lampu ✓".encode("utf-16-be"), "2", None) == "Lampu ✓"
    assert decode_kannel_body(b"Jalan  rusak", "0", "UTF-8") == "Jalan  rusak"


def test_senders() -> None:
    assert normalize_sender("081311112222").e164 == "+6281311112222"
    assert normalize_sender("6281311112222").e164 == "+6281311112222"
    assert normalize_sender("+62 813-1111-2222").e164 == "+6281311112222"
    assert normalize_sender("TELKOMSEL").kind == "alphanumeric"
    assert normalize_sender("INFO-PLN").kind == "alphanumeric"
    assert normalize_sender("3636").kind == "short_code"
    assert normalize_sender("0813").kind == "short_code"


C = SmsConventions()
S = normalize_sender("081311112222")
T = dt.datetime(2026, 11, 28, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("text", "kind", "expect"),
    [
        ("Jalan rusak di Jl. Merdeka", ComplaintDraft, {"content": "Jalan rusak di Jl. Merdeka"}),
        (
            "ANONIM: pungli di kelurahan",
            ComplaintDraft,
            {"content": "pungli di kelurahan", "anonymous": True},
        ),
        ("anonim aduan pungli", ComplaintDraft, {"content": "pungli", "anonymous": True}),
        ("ADUAN lampu mati", ComplaintDraft, {"content": "lampu mati"}),
        (
            "LAPOR 1916449 masih rusak",
            ReplyDraft,
            {"tracking_id": "1916449", "text": "masih rusak"},
        ),
        ("lapor #1916449: belum ada petugas", ReplyDraft, {"tracking_id": "1916449"}),
        ("SUDAH", ReplyDraft, {"resolved": True}),
        ("belum, air masih mati", ReplyDraft, {"resolved": False}),
        (
            "Sudah tiga bulan jalan di depan rumah kami rusak parah dan tidak ada perbaikan",
            ComplaintDraft,
            {},
        ),
        ("   \n ", Ignored, {"reason": "empty SMS"}),
        ("LAPOR 1916449", Ignored, {}),
        ("ANONIM", Ignored, {}),
    ],
)
def test_conventions(text: str, kind: type, expect: dict[str, object]) -> None:
    p = classify_sms(text, S, T, C)
    assert isinstance(p, kind)
    for k, v in expect.items():
        assert getattr(p, k) == v
    if isinstance(p, ComplaintDraft):
        assert p.reporter.phone == "+6281311112222" and p.reporter.phone_raw == "081311112222"
        assert p.origin.get("maybe_reply_by_phone", False) is not (
            p.anonymous or text.startswith("ADUAN")
        )
    if isinstance(p, Ignored):
        assert p.answer and "ANONIM" in p.answer and len(p.answer) <= 160


def test_configurable_keywords_and_ignored_senders() -> None:
    conv = SmsConventions(
        anonymous=["rahasia"], new_complaint=["lapor"], reply=["balas"], reply_window_days=14
    )
    p = classify_sms("RAHASIA ada pungli", S, T, conv)
    assert isinstance(p, ComplaintDraft) and p.anonymous
    p = classify_sms("Jalan rusak", S, T, conv)
    assert isinstance(p, ComplaintDraft) and p.origin["reply_window_days"] == 14
    p = classify_sms("BALAS 123456 ok", S, T, conv)
    assert isinstance(p, ReplyDraft) and p.tracking_id == "123456"
    assert isinstance(classify_sms("Promo", normalize_sender("TELKOMSEL"), T, C), Ignored)
    odd = classify_sms("Jalan rusak", normalize_sender("+0"), T, C)
    assert isinstance(odd, Ignored)  # "+0" is a short code, not a citizen


def _row(i: int, udh: str = "", text: str = "", sender: str = "0813") -> dict[str, object]:
    return {
        "ID": i,
        "UDH": udh,
        "SenderNumber": sender,
        "RecipientID": "satu",
        "Text": text.encode("utf-16-be").hex(),
        "TextDecoded": "",
        "Coding": "Default_No_Compression",
        "ReceivingDateTime": "2026-11-28 08:00:00",
    }


def test_grouping_waits_and_settles() -> None:
    now = dt.datetime(2026, 11, 28, 8, 0, tzinfo=dt.UTC)
    rows = [
        _row(1, "050003010302", "b"),
        _row(2, "", "single"),
        _row(3, "060804ABCD0201", "x", "0899"),
    ]
    ready, waiting = group_rows(rows, {}, now=now, wait_s=60, settled_max_id=0)
    assert [g.ids for g in ready] == [[2]] and len(waiting) == 2
    later = now + dt.timedelta(seconds=30)
    rows2 = [*rows, _row(4, "050003010301", "a"), _row(5, "050003010303", "c")]
    ready, waiting = group_rows(rows2, waiting, now=later, wait_s=60, settled_max_id=3)
    # row 2 is settled (below the watermark, not waiting): re-emitted for a lost ack.
    assert sorted(g.ids for g in ready) == [[1, 4, 5], [2]]
    assert reassemble(next(g for g in ready if g.ids == [1, 4, 5]).rows)[0] == "abc"
    ready, waiting = group_rows(
        [rows[2]], waiting, now=now + dt.timedelta(seconds=61), wait_s=60, settled_max_id=5
    )
    assert [g.ids for g in ready] == [[3]] and waiting == {}
    text, seqs, total = reassemble(ready[0].rows)
    assert (text, seqs, total) == ("x", [1], 2)


def test_http_record_of_an_unjoined_part_is_flagged() -> None:
    import json

    from connectors.base import RawItem
    from connectors.sms.http import SmsHttpSource
    from schemas.config import SourceConfig

    src = SmsHttpSource(SourceConfig(name="sms-http", kind="sms_http", options={"secret": "x"}))
    record = {
        "gateway": "kannel",
        "sender": "081311112222",
        "text": "bagian kedua saja",
        "udh": "050003AB0202",
        "time": "2026-11-28T08:00:00+00:00",
    }
    p = src.parse(RawItem("kannel:1", json.dumps(record).encode()))
    assert isinstance(p, ComplaintDraft)
    assert p.flags == ("incomplete_multipart",) and p.origin["part"] == "2/2"
    record["udh"] = None
    p = src.parse(RawItem("kannel:2", json.dumps(record).encode()))
    assert isinstance(p, ComplaintDraft) and p.flags == ()
