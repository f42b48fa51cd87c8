"""The redactor on a corpus of the ways Indonesians write personal data, and of the ids,
dates and amounts that look like them but must come through untouched."""

from __future__ import annotations

import io
import json
import logging
import uuid

import pytest

from aggregator.logging import configure_logging
from aggregator.redact import find_personal_data, redact_text

PERSONAL = [
    # mobiles
    ("phone", "0812-3456-7890"),
    ("phone", "(0812) 3456 7890"),
    ("phone", "0812 3456 7890"),
    ("phone", "0812.3456.7890"),
    ("phone", "081234567890"),
    ("phone", "08123456789"),
    ("phone", "+62 812 3456 7890"),
    ("phone", "+62-812-3456-7890"),
    ("phone", "+6281234567890"),
    ("phone", "6281355556666"),
    ("phone", "62 813 5555 6666"),
    ("phone", "(+62 812) 3456-7890"),
    ("phone", "0857 1234 567"),
    ("phone", "0896-1234-5678"),
    ("phone", "0812 - 3456 - 7890"),
    ("phone", "+62 (0)812-3456-7890"),
    ("phone", "+62(0)81234567890"),
    # landlines
    ("phone", "(021) 555 1234"),
    ("phone", "(021) 5551234"),
    ("phone", "021-5551234"),
    ("phone", "021 555 1234"),
    ("phone", "0274-512345"),
    ("phone", "(0274) 512345"),
    ("phone", "0361 223344"),
    ("phone", "+62 21 5551234"),
    ("phone", "(022) 7654 321"),
    # NIK
    ("nik", "6271034509870001"),
    ("nik", "3174 0123 4567 0001"),
    ("nik", "3174.0123.4567.0001"),
    ("nik", "3174-0123-4567-0001"),
    ("nik", "32.01.23.456789.0001"),
    ("nik", "3201 234567 890001"),
    # e-mail
    ("email", "budi.santoso@gmail.com"),
    ("email", "Warga+lapor@Desa.Sukamaju.id"),
    ("email", "a_b-c@sub.domain.co.id"),
]

CONTEXTS = [
    "{}",
    "hubungi saya di {} ya pak",
    "No. HP: {}.",
    "telp:{}, terima kasih",
    "WA {}/SMS",
    "Pelapor ({}) menyampaikan",
    "nomor saya {}\nalamat Jl. Merdeka No. 5",
]

INNOCENT = [
    "tracking 1916449 pada 2026-11-28",
    "LAPOR 1916452 SUDAH",
    "Laporan #1916449 diteruskan",
    "[LAPOR! #1916452] Re: jalan rusak",
    "03-12-2026 08:30",
    "pukul 08.30-12.00 tgl 03.12.2026",
    "2026-12-03T00:31:18.123456+00:00",
    "Rp 1.250.000,00 dianggarkan tahun 2027",
    "Rp 125.000.000",
    "anggaran Rp 2.345.678.900",
    "panjang 1.200 m, lebar 6 m, volume 36 m3",
    "127.0.0.1:54321",
    "job 17 attempt 3 run_after 2026-12-03 00:31:18",
    "sha 3a7bd3e2360a3d29eea436fcfb7e44c735d117c4",
    "RT 003/RW 012 Kel. Sukamaju",
    "Surat No. 600/1234/PUPR/2026",
    "SK Walikota No. 188.45/0123/2026",
    "0.0812345678",
    "jam 0800-1600",
    "kode pos 40123",
    "NPWP dikecualikan",
    "postgresql://postgres@127.0.0.1:5432/satukanal",
    "postgresql://satukanal:***@db.kota.go.id:5432/satukanal",
    "mysql://root@localhost/gammu",
    "pukul 08 - 12 dan 13 - 16",
    "skor 8 - 3, 2 - 1",
    "Tracking ID 1916449 - 1916452",
    "halaman 08 - 10",
]


@pytest.mark.parametrize(("kind", "value"), PERSONAL)
@pytest.mark.parametrize("context", CONTEXTS)
def test_personal_data_is_found_in_every_context(kind: str, value: str, context: str) -> None:
    text = context.format(value)
    out = redact_text(text)
    assert value not in out, out
    assert f"[{kind}]" in out, out
    # The words around it survive.
    assert out == context.format(f"[{kind}]")


@pytest.mark.parametrize("text", INNOCENT)
def test_ids_dates_and_amounts_are_left_alone(text: str) -> None:
    assert redact_text(text) == text
    assert find_personal_data(text) == []


def test_uuids_are_never_mangled() -> None:
    # Random UUIDs contain digit groups such as -0812-3456- that look like phones; a run of
    # the daemon cut 23 of them before the UUID guard.
    ids = [str(uuid.uuid4()) for _ in range(3000)]
    ids += [
        "5f3c2a1b-0812-3456-7890-abcdef123456",
        "00000000-0000-0000-0000-000000000001",
        "62812345-6789-0123-4567-890123456789",
    ]
    for value in ids:
        assert redact_text(f"complaint {value} pushed") == f"complaint {value} pushed"


def test_personal_data_beside_a_uuid_is_still_redacted() -> None:
    cid = "5f3c2a1b-0812-3456-7890-abcdef123456"
    out = redact_text(f"{cid} from 0812-3456-7890 NIK 3174012345670001")
    assert out == f"{cid} from [phone] NIK [nik]"


def test_standard_library_records_and_tracebacks_are_redacted() -> None:
    buf = io.StringIO()
    configure_logging("info", "json", stream=buf)  # tests/conftest.py restores structlog
    try:
        try:
            raise ValueError("nomor 0812-3456-7890 salah, NIK 3174 0123 4567 0001")
        except ValueError:
            logging.getLogger("asyncio").exception("Task exception was never retrieved")
        logging.getLogger("somelib").warning("sending to warga@example.org")
    finally:
        root = logging.getLogger()
        for h in [h for h in root.handlers if getattr(h, "_satukanal", False)]:
            root.removeHandler(h)
    lines = [json.loads(x) for x in buf.getvalue().splitlines() if x.strip()]
    assert len(lines) == 2
    dumped = json.dumps(lines)
    for secret in ("0812-3456-7890", "3174 0123 4567 0001", "warga@example.org"):
        assert secret not in dumped
    assert "Traceback" in lines[0]["exception"] and "[phone]" in lines[0]["exception"]
    assert lines[0]["logger"] == "asyncio"
