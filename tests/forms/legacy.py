"""The old PHP form database as it is found in the field, on the real MariaDB.

Written the way a PHP 5 app wrote it: latin1 tables, a latin1 connection, UTF-8 bytes from a
UTF-8 page passed through unchanged (so they sit in the table as latin1 mojibake), and a
non-strict ``sql_mode`` that turns bad enum values into ``''``, impossible dates into
``0000-00-00`` and cuts TEXT at 65,535 bytes.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import asyncmy

HOST, PORT = "127.0.0.1", 3306

SCHEMA = [
    """CREATE TABLE masyarakat (
        nik char(16) NOT NULL PRIMARY KEY, nama varchar(35) NOT NULL,
        username varchar(25) NOT NULL, password varchar(32) NOT NULL, telp varchar(20) NOT NULL
    ) ENGINE=InnoDB DEFAULT CHARSET=latin1""",
    """CREATE TABLE pengaduan (
        id_pengaduan int(11) NOT NULL AUTO_INCREMENT PRIMARY KEY, tgl_pengaduan date NOT NULL,
        nik char(16) NOT NULL, isi_laporan text NOT NULL, foto varchar(255) NOT NULL,
        status enum('0','proses','selesai') NOT NULL,
        lapor_tracking_id varchar(20) DEFAULT NULL
    ) ENGINE=InnoDB DEFAULT CHARSET=latin1""",
    """CREATE TABLE tanggapan (
        id_tanggapan int(11) NOT NULL AUTO_INCREMENT PRIMARY KEY, id_pengaduan int(11) NOT NULL,
        tgl_tanggapan date NOT NULL, tanggapan text NOT NULL, id_petugas int(11) NOT NULL
    ) ENGINE=InnoDB DEFAULT CHARSET=latin1""",
    """CREATE TABLE petugas (
        id_petugas int(11) NOT NULL AUTO_INCREMENT PRIMARY KEY, nama_petugas varchar(35) NOT NULL,
        username varchar(25) NOT NULL, password varchar(32) NOT NULL, telp varchar(13) NOT NULL,
        level enum('admin','petugas') NOT NULL
    ) ENGINE=InnoDB DEFAULT CHARSET=latin1""",
]

JOIN_QUERY = (
    "SELECT p.id_pengaduan, p.tgl_pengaduan, p.nik, p.isi_laporan, p.foto, p.status, "
    "m.nama, m.telp, m.nik AS m_nik FROM pengaduan p LEFT JOIN masyarakat m ON m.nik = p.nik"
)


def u8(text: str) -> bytes:
    """What PHP 5 sent through a latin1 connection from a UTF-8 page: the UTF-8 bytes."""
    return text.encode("utf-8")


LONG_TEXT = u8("Laporan panjang. " + "a" * 65517 + "é")  # 65,536 bytes: cut inside 'é'


def _tiny_jpeg() -> bytes:
    """A real (decodable) 8×8 JPEG: intake re-encodes photos to strip their metadata."""
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 120, 40)).save(out, format="JPEG", quality=90)
    return out.getvalue()


JPEG = _tiny_jpeg()

PEOPLE = [
    ("6271011503900001", "Budi Santoso", "081234567890"),
    ("6271015508920002", u8("Siti Nurhalizah Ré"), "+62 812-3456-7891"),
    ("123", "Andi", "6281234567892"),  # junk NIK
    ("0808", "Dewi", "0812 3456 7893"),
    ("6271010101010003", "Rahmat", "(0536) 322-1234"),
]

# (date, nik, text, photo, status) — the awkward rows real old PHP forms hold.
ROWS: list[tuple[Any, ...]] = [
    (
        "2025-11-02",
        "6271011503900001",
        u8("Jalan berlubang di Jl. RTA Milono km 5, sudah dua minggu belum diperbaiki."),
        "",
        "0",
    ),
    (
        "2025-11-03",
        "6271015508920002",
        u8("Lampu jalan mati di depan SDN 3 — sangat gelap dan berbahaya, mohon café!"),
        "",
        "proses",
    ),
    (
        "2025-11-04",
        "123",
        u8("Sampah menumpuk di pasar ? ? sudah seminggu tidak diangkut."),
        "",
        "0",
    ),
    ("2025-11-05", "0808", LONG_TEXT, "", "0"),
    ("0000-00-00", "6271010101010003", u8("Saluran air tersumbat di RT 04 setiap hujan."), "", "0"),
    (
        "2025-11-06",
        "6271011503900001",
        u8("Pelayanan KTP lambat, antrean panjang sekali."),
        "",
        "bogus",
    ),  # enum '' after non-strict insert
    (
        "2025-11-07",
        "6271015508920002",
        u8("<p>Lampu <b>taman</b> rusak&nbsp;sejak lama</p><script>alert('x')</script>"),
        "",
        "0",
    ),
    (
        "2025-11-02",
        "6271011503900001",
        u8("Jalan berlubang di Jl. RTA Milono km 5, sudah dua minggu belum diperbaiki."),
        "",
        "0",
    ),  # double
    (
        "2025-11-08",
        "9999999999999999",
        u8("Parkir liar di trotoar Jl. Yos Sudarso."),
        "",
        "0",
    ),  # orphan: no masyarakat row
    (
        "2025-11-09",
        "6271010101010003",
        u8("Pohon tumbang menutup jalan, foto terlampir."),
        "C:\\fakepath\\pohon.jpg",
        "0",
    ),
    ("2025-11-10", "0808", u8("Ada yang mencoba membaca berkas lain."), "../../etc/passwd", "0"),
    ("2025-11-11", "123", b"", "", "0"),  # empty text
    ("2025-11-12", "123", u8("<script>document.location='http://x'</script>"), "", "0"),
    (
        "2031-01-01",
        "6271011503900001",
        u8("Tanggal dari masa depan karena jam server salah."),
        "",
        "0",
    ),
    (
        "2016-03-01",
        "6271011503900001",
        u8("Keluhan lama tentang drainase, sudah selesai."),
        "",
        "selesai",
    ),
]

RESPONSES = [
    (2, "2025-11-04", u8("Terima kasih, laporan sedang kami proses — Dishub."), 1),
    (99, "2025-11-04", u8("Tanggapan yatim tanpa pengaduan."), 1),  # orphan response
    (15, "2016-03-05", u8("Drainase sudah dibersihkan."), 1),
]


@dataclass
class LegacyDb:
    database: str
    url: str

    async def connect(self) -> Any:
        return await asyncmy.connect(
            host=HOST,
            port=PORT,
            user="root",
            password="",
            database=self.database,
            charset="latin1",
            use_unicode=False,
            autocommit=True,
        )

    async def run(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        conn = await self.connect()
        try:
            async with conn.cursor() as cur:
                await cur.execute("SET SESSION sql_mode = ''")
                await cur.execute(sql, tuple(params))
                return list(await cur.fetchall() or ())
        finally:
            conn.close()
            await conn.ensure_closed()


async def admin(sql: str, params: Sequence[Any] = ()) -> None:
    conn = await asyncmy.connect(host=HOST, port=PORT, user="root", password="", autocommit=True)
    try:
        async with conn.cursor() as cur:
            await cur.execute(sql, tuple(params))
    finally:
        conn.close()
        await conn.ensure_closed()


async def create_legacy_db(seed: bool = True) -> LegacyDb:
    name = f"satukanal_form_{uuid.uuid4().hex[:10]}"
    await admin(f"CREATE DATABASE `{name}` CHARACTER SET latin1")
    db = LegacyDb(name, f"mysql://root@{HOST}:{PORT}/{name}")
    conn = await db.connect()
    try:
        async with conn.cursor() as cur:
            await cur.execute("SET SESSION sql_mode = ''")  # as the PHP 5 era servers ran
            for ddl in SCHEMA:
                await cur.execute(ddl)
            if seed:
                await cur.executemany(
                    "INSERT INTO masyarakat (nik, nama, username, password, telp) "
                    "VALUES (%s, %s, %s, md5('x'), %s)",
                    [(n, nm, f"u{i}", t) for i, (n, nm, t) in enumerate(PEOPLE)],
                )
                await cur.executemany(
                    "INSERT INTO pengaduan (tgl_pengaduan, nik, isi_laporan, foto, status) "
                    "VALUES (%s, %s, %s, %s, %s)",
                    ROWS,
                )
                await cur.executemany(
                    "INSERT INTO tanggapan (id_pengaduan, tgl_tanggapan, tanggapan, id_petugas)"
                    " VALUES (%s, %s, %s, %s)",
                    RESPONSES,
                )
                await cur.execute(
                    "INSERT INTO petugas (nama_petugas, username, password, telp, level) "
                    "VALUES ('Admin', 'admin', md5('admin'), '0811', 'admin')"
                )
    finally:
        conn.close()
        await conn.ensure_closed()
    return db


async def drop_legacy_db(db: LegacyDb) -> None:
    await admin(f"DROP DATABASE IF EXISTS `{db.database}`")


async def create_read_only_user(db: LegacyDb) -> tuple[str, str]:
    user = f"ro_{db.database[-10:]}"
    await admin(f"CREATE USER '{user}'@'127.0.0.1' IDENTIFIED BY 'baca'")
    await admin(f"GRANT SELECT ON `{db.database}`.* TO '{user}'@'127.0.0.1'")
    return user, f"mysql://{user}:baca@{HOST}:{PORT}/{db.database}"


async def drop_user(user: str) -> None:
    await admin(f"DROP USER IF EXISTS '{user}'@'127.0.0.1'")


async def fill(db: LegacyDb, rows: int, people: int | None = None) -> None:
    """``rows`` generated complaints (plus their reporters) in a few statements, server-side:
    INSERT … SELECT from MariaDB's sequence engine, ~300 bytes of text each, every seventh
    with UTF-8 mojibake, a third closed, a sprinkle of zero dates."""
    people = people or max(1, rows // 10)
    conn = await db.connect()
    try:
        async with conn.cursor() as cur:
            await cur.execute("SET SESSION sql_mode = ''")
            await cur.execute(
                "INSERT IGNORE INTO masyarakat (nik, nama, username, password, telp) "
                "SELECT CONCAT('6271', LPAD(seq, 12, '0')), CONCAT('Warga ', seq), "
                "CONCAT('w', seq), MD5(seq), CONCAT('0812', LPAD(seq, 8, '0')) "
                f"FROM seq_1_to_{int(people)}"
            )
            await cur.execute(
                "INSERT INTO pengaduan (tgl_pengaduan, nik, isi_laporan, foto, status) "
                "SELECT IF(seq % 97 = 0, '0000-00-00', "
                "          DATE_ADD('2016-01-01', INTERVAL seq % 3600 DAY)), "
                f"       CONCAT('6271', LPAD(1 + seq % {int(people)}, 12, '0')), "
                "       CONCAT('Laporan warga nomor ', seq, ': jalan rusak dan berlubang di RT ',"
                "              seq % 20, ' ', X'E28094', ' mohon segera diperbaiki karena sudah "
                "membahayakan pengendara motor dan pejalan kaki. Sudah pernah disampaikan ke "
                "kelurahan namun belum ada tindak lanjut sampai sekarang. ', "
                "              IF(seq % 7 = 0, X'4361666520C3A920646920756A756E67206A616C616E', "
                "                 'Terima kasih.')), "
                "       '', ELT(1 + seq % 3, '0', 'proses', 'selesai') "
                f"FROM seq_1_to_{int(rows)}"
            )
    finally:
        conn.close()
        await conn.ensure_closed()
