"""Rows and submissions as the old forms hold and send them, for the conformance suite: a
complaint row with a response (latin1 bytes, a ``0000-00-00`` date), an empty one, a
re-scan update; a form post, its honeypot twin and a reply from the status page."""

from __future__ import annotations

import datetime as dt
import uuid
from urllib.parse import urlencode

from connectors.base import RawItem, status_reply_item
from connectors.base.conformance import ConformanceSamples
from connectors.forms.rows import encode_row

ROW_TYPE = "application/x-satukanal-form-row+json"
CONTENT = (
    "Saluran air di depan SDN 4 Palangka Raya tersumbat, setiap hujan air masuk ke kelas. "
    "Mohon dibersihkan."
)


def sql_table_samples() -> ConformanceSamples:
    row = {
        "id_pengaduan": 7,
        "tgl_pengaduan": dt.date(2024, 11, 4),
        "nik": b"6271034509870002",
        "isi_laporan": CONTENT.encode("latin-1"),
        "foto": b"",
        "status": b"proses",
    }
    old = {**row, "id_pengaduan": 8, "tgl_pengaduan": "0000-00-00", "isi_laporan": b"  "}
    response = {
        "id_tanggapan": 1,
        "id_pengaduan": 7,
        "tgl_tanggapan": dt.date(2024, 11, 5),
        "tanggapan": b"Sudah kami teruskan ke Dinas PUPR.",
    }
    update = encode_row(
        "pengaduan",
        7,
        {**row, "status": b"selesai"},
        [response],
        kind="update",
        digest="d1",
        round="2024-11-06T00:00:00+00:00",
    )
    return ConformanceSamples(
        options={
            "url": "mysql://pengaduan_ro:pw@127.0.0.1:3306/ukk_pengaduan",
            "write_back": {"enabled": True, "staff_id": 99},
        },
        items=(
            RawItem(
                "row:7",
                encode_row("pengaduan", 7, row, [response]),
                meta={"row_id": 7},
                content_type=ROW_TYPE,
            ),
            RawItem(
                "row:8",
                encode_row("pengaduan", 8, old, []),
                meta={"row_id": 8},
                content_type=ROW_TYPE,
            ),
            RawItem("upd:7:d1", update, meta={"row_id": 7}, content_type=ROW_TYPE),
        ),
    )


def form_http_samples() -> ConformanceSamples:
    fields = {
        "isi_laporan": CONTENT,
        "nama": "Siti Aminah",
        "telp": "0812-3456-7890",
        "judul": "Saluran air tersumbat",
    }
    at = dt.datetime(2025, 3, 3, 1, 15, tzinfo=dt.UTC)
    form = "application/x-www-form-urlencoded"
    return ConformanceSamples(
        options={
            "fields": {"content": "isi_laporan", "name": "nama", "phone": "telp", "title": "judul"}
        },
        items=(
            RawItem(
                "form:ABCDE-12345",
                urlencode(fields).encode(),
                received_at=at,
                meta={"receipt_code": "ABCDE-12345"},
                content_type=form,
            ),
            RawItem(
                "form:ABCDE-12346",
                urlencode({**fields, "website": "x"}).encode(),
                received_at=at,
                meta={"receipt_code": "ABCDE-12346"},
                content_type=form,
            ),
            status_reply_item(
                "ABCDE-12345", uuid.UUID(int=7), "Sudah bersih, terima kasih.", True, at
            ),
        ),
    )
