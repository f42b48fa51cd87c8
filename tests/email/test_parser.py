"""The pure e-mail parser on a corpus of real-world-shaped messages, plus its edges."""

from __future__ import annotations

import datetime as dt
import email
import io
from pathlib import Path

import pytest
from PIL import Image

from aggregator.errors import InvalidInput
from connectors.base import Origin, OutboundMessage
from connectors.email.attachments import strip_exif
from connectors.email.common import source_ref
from connectors.email.identity import find_nik, find_phone, nik_is_valid
from connectors.email.options import SmtpOptions
from connectors.email.parser import ParseOptions, parse_email
from connectors.email.smtp import build_message, reply_subject
from connectors.email.text import decode_bytes, html_to_text
from schemas.complaint import ComplaintDraft, Ignored, ReplyDraft
from tests.email.corpus import OPTIONS, check, corpus, expectations

CORPUS = corpus()


def test_the_corpus_covers_every_case_with_at_least_thirty_messages() -> None:
    assert len(CORPUS) >= 30
    assert set(CORPUS) == set(expectations())
    kinds = {e["kind"] for e in expectations().values()}
    assert kinds == {"complaint", "reply", "ignored", "quarantined"}
    reasons = {e.get("reason") for e in expectations().values() if e["kind"] == "ignored"}
    assert {"auto_reply", "bounce", "mailing_list", "read_receipt"} <= reasons


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_corpus_message_parses_as_expected(name: str) -> None:
    exp = expectations()[name]
    if exp["kind"] == "quarantined":
        with pytest.raises(InvalidInput, match=exp["reason_contains"]):
            parse_email(CORPUS[name], options=OPTIONS)
        return
    result = parse_email(CORPUS[name], options=OPTIONS)
    assert check(name, result) == []


@pytest.mark.parametrize("name", sorted(n for n in CORPUS if len(CORPUS[n]) < 100_000))
def test_truncated_or_mangled_mail_never_crashes(name: str) -> None:
    raw = CORPUS[name]
    for variant in (
        raw[: len(raw) // 2],
        raw[: len(raw) // 3],
        raw.replace(b"\r\n", b"\n"),
        raw.replace(b"--", b"-"),
        raw[:200] + b"\xff\xfe\x00" + raw[200:],
    ):
        try:
            result = parse_email(variant, options=OPTIONS)
        except InvalidInput:
            continue
        assert isinstance(result, ComplaintDraft | ReplyDraft | Ignored)


def test_staff_forward_is_not_unwrapped_for_a_citizen_sender() -> None:
    raw = CORPUS["11_staff_forward_gmail_inline.eml"]
    result = parse_email(raw, options=ParseOptions(message_id_domain="kota.test"))
    assert isinstance(result, ComplaintDraft)
    assert result.reporter.email == "staf.walikota@kota.test"
    assert "forwarded_by_staff" not in result.flags


def test_a_foreign_reply_id_alone_does_not_make_a_reply() -> None:
    """Only our own Message-IDs (or the tag) mark a reply; other threads are complaints."""
    result = parse_email(CORPUS["09_quoted_and_signature.eml"], options=OPTIONS)
    assert isinstance(result, ComplaintDraft)
    assert result.origin["references"] == ["<newsletter-55@humas.kota.test>"]


def test_our_ids_from_another_deployment_domain_are_not_ours() -> None:
    raw = CORPUS["25_reply_to_notification.eml"].replace(
        b"satukanal.kota.test", b"satukanal.lain.test"
    )
    assert isinstance(parse_email(raw, options=OPTIONS), ComplaintDraft)


@pytest.mark.parametrize(
    ("nik", "valid"),
    [
        ("6271034509870002", True),  # woman born 05-09-1987 (45 = 5 + 40)
        ("6271031209870002", True),  # man born 12-09-1987
        ("3171012902000001", True),  # 29 Feb 2000
        ("9971031209870002", False),  # no province 99
        ("6200031209870002", False),  # kab/kota 00
        ("6271037209870002", False),  # day 72 - 40 = 32
        ("6271031213870002", False),  # month 13
        ("6271031209870000", False),  # serial 0000
        ("1234567890123456", False),
    ],
)
def test_nik_structure_check(nik: str, valid: bool) -> None:
    assert nik_is_valid(nik) is valid


def test_phone_and_nik_are_found_apart() -> None:
    text = "NIK 6271034509870002 hp +62 812-1111-2222"
    nik = find_nik(text)
    assert nik is not None and nik[:2] == ("6271034509870002", True)
    phone = find_phone(text, skip=nik[2])
    assert phone is not None and phone.e164 == "+6281211112222"
    assert phone.raw == "+62 812-1111-2222"


def test_charset_repair() -> None:
    assert decode_bytes("Café “x”".encode("cp1252"), "utf-8")[0] == "Café “x”"
    assert decode_bytes("Café — x".encode(), "iso-8859-1")[0] == "Café — x"
    text, flags = decode_bytes(b"ok \x81\xff end", "utf-8")
    assert text.startswith("ok ") and text.endswith(" end") and "undecodable_bytes" in flags
    assert decode_bytes("Jalan".encode("utf-16"), "utf-16")[0] == "Jalan"


def test_html_to_text_drops_scripts_and_keeps_links() -> None:
    text = html_to_text(
        '<style>x{}</style><p>a <a href="http://e.test/1">di sini</a></p>'
        "<script>evil()</script><p>b</p>"
    )
    assert text == "a di sini (http://e.test/1)\n\nb"


def test_exif_is_stripped_and_orientation_kept() -> None:
    img = Image.new("RGB", (40, 20))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° when shown
    exif[0x8825] = {2: (1.0, 2.0, 3.0)}
    buf = io.BytesIO()
    img.save(buf, "JPEG", exif=exif.tobytes())
    out = strip_exif(buf.getvalue(), "JPEG")
    assert out is not None
    with Image.open(io.BytesIO(out)) as clean:
        assert len(clean.getexif()) == 0
        assert clean.size == (20, 40)


def test_source_ref_is_message_id_or_content_hash() -> None:
    assert source_ref(CORPUS["01_plain_indonesian.eml"]) == "<CAFx01-budi@mail.warga.test>"
    ref = source_ref(CORPUS["29_no_date_no_msgid.eml"])
    assert ref.startswith("sha256:") and ref == source_ref(CORPUS["29_no_date_no_msgid.eml"])


def test_outgoing_message_threads_under_the_citizens_original() -> None:
    opts = SmtpOptions(
        host="127.0.0.1",
        tls="none",
        from_address="pengaduan@kota.test",
        message_id_domain="kota.test",
    )
    origin = Origin(
        source="email-kota",
        channel="email",
        address="budi@warga.test",
        thread={
            "message_id": "<a@warga.test>",
            "subject": "Re: Jalan rusak",
            "references": ["<z@warga.test>"],
        },
    )
    msg = build_message(
        opts,
        origin,
        OutboundMessage(
            notification_id="n-1",
            kind="ack",
            text="Terima kasih.\n\nLihat https://e.test/s/1",
            tracking_id="1916449",
        ),
        dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
    )
    assert msg["Subject"] == "Re: [LAPOR! #1916449] Jalan rusak"
    assert msg["In-Reply-To"] == "<a@warga.test>"
    assert msg["References"] == "<z@warga.test> <a@warga.test>"
    assert msg["Message-ID"] == "<notif-n-1@satukanal.kota.test>"
    parsed = email.message_from_bytes(bytes(msg))
    assert [p.get_content_type() for p in parsed.walk()] == [
        "multipart/alternative",
        "text/plain",
        "text/html",
    ]
    # Our own message read back by our own parser is recognised as ours (a reply loop guard).
    assert isinstance(parse_email(bytes(msg), options=OPTIONS), Ignored)
    assert reply_subject(None, "Status pengaduan", "7") == "[LAPOR! #7] Status pengaduan"


def test_html_quotes_entities_and_unclosed_tags() -> None:
    text = html_to_text(
        "<div>Jalan &amp; jembatan&nbsp;rusak<br>lihat <a href='mailto:x@kota.test'>"
        "surat</a><blockquote>lama<blockquote>lebih lama</blockquote></blockquote>"
        "<p>akhir <a href='https://e.test/a'>https://e.test/a</a><table><tr><td>a"
        "<td>b</table><script>never()"
    )
    assert text.split("\n") == [
        "Jalan & jembatan rusak",
        "lihat surat (x@kota.test)",
        "> lama",
        "> > lebih lama",
        "",
        "akhir https://e.test/a",
        "",
        "a b",
    ]


def test_the_example_configuration_is_a_valid_imap_source(tmp_path: Path) -> None:
    import tomllib

    from connectors.base import load_options
    from connectors.email.options import ImapOptions

    example = Path(__file__).resolve().parents[2] / "deploy" / "satukanal.example.toml"
    source = next(s for s in tomllib.loads(example.read_text())["sources"] if s["kind"] == "imap")
    secret = tmp_path / "imap.secret"
    secret.write_text("rahasia\n")
    opts = {**source["options"], "password_file": str(secret)}
    opts["smtp"] = {**opts["smtp"], "password_file": str(secret)}
    loaded = load_options(ImapOptions, source["name"], opts)
    assert loaded.password.get_secret_value() == "rahasia"
    assert loaded.smtp is not None and loaded.smtp.password is not None
    assert loaded.parse_options().message_id_domain == "palangkaraya.example"


def test_option_errors_name_the_key() -> None:
    from aggregator.errors import ConfigError
    from connectors.base import load_options
    from connectors.email.options import ImapOptions

    with pytest.raises(ConfigError, match=r"sources\.email-x\.options\.port"):
        load_options(ImapOptions, "email-x", {"host": "h", "user": "u", "password": "p", "port": 0})
    with pytest.raises(ConfigError, match="move_to"):
        load_options(
            ImapOptions, "email-x", {"host": "h", "user": "u", "password": "p", "after": "move"}
        )


def _mail(sender: str, subject: str, body: str) -> bytes:
    return (
        f"From: {sender}\nTo: pengaduan@kota.test\nSubject: {subject}\n"
        "Date: Mon, 30 Nov 2026 09:00:00 +0700\nMessage-ID: <anon-ask@warga.test>\n"
        "Content-Type: text/plain; charset=utf-8\n\n" + body
    ).encode()


_GMAIL_FWD = (
    "{note}\n\n---------- Forwarded message ---------\n"
    "From: Siti Aminah <siti.aminah@warga.test>\nDate: Sab, 28 Nov 2026 pukul 07.12\n"
    "Subject: Pungli KTP\nTo: <kel.panarung@palangkaraya.go.id>\n\n\n"
    "Selamat pagi Pak Lurah,\n\nPetugas loket meminta Rp 50.000 untuk KTP elektronik.\n{ask}\n"
)


@pytest.mark.parametrize(
    ("note", "ask", "anonymous"),
    [
        ("Mohon ditindaklanjuti.", "Tolong nama saya jangan disebut, saya takut.", True),
        ("Pelapor minta identitasnya dirahasiakan.", "", True),
        ("Mohon diproses, beliau minta anonim.", "", True),
        ("Mohon ditindaklanjuti.", "Nama saya Siti Aminah, warga RT 03.", False),
    ],
)
def test_a_forwarded_citizens_request_to_stay_anonymous_is_heard(
    note: str, ask: str, anonymous: bool
) -> None:
    raw = _mail(
        "Kelurahan Panarung <kel.panarung@palangkaraya.go.id>",
        "Fwd: Pungli KTP",
        _GMAIL_FWD.format(note=note, ask=ask),
    )
    d = parse_email(raw, options=OPTIONS)
    assert isinstance(d, ComplaintDraft)
    assert "forwarded_by_office" in d.flags
    assert d.reporter.email == "siti.aminah@warga.test"
    assert d.anonymous is anonymous


@pytest.mark.parametrize(
    ("body", "anonymous"),
    [
        ("Jalan rusak di Jl. Mawar. Mohon identitas saya dirahasiakan.", True),
        ("Saya ingin melapor secara anonim: pungli di terminal.", True),
        ("Laporan anonim saya kemarin belum dijawab, jalan masih rusak.", False),
        ("Nama jalan tidak disebut di peta, Jl. Anonim 3 rusak.", False),
    ],
)
def test_a_citizen_asking_in_words_to_stay_anonymous(body: str, anonymous: bool) -> None:
    d = parse_email(_mail("Warga <warga@warga.test>", "Jalan rusak", body), options=OPTIONS)
    assert isinstance(d, ComplaintDraft) and d.anonymous is anonymous
