"""Reference data and texts the sandbox plays with: Kota Palangka Raya's OPDs and topics.

Agency and category ids are the sandbox's own; a real deployment reads them from
``GET /agencies`` and ``GET /categories``.
"""

from __future__ import annotations

import re

PEMKO = "Pemerintah Kota Palangka Raya"

# (id, name, parent_id)
AGENCIES: tuple[tuple[str, str, str | None], ...] = (
    ("7", PEMKO, None),
    ("45", "Dinas Pekerjaan Umum dan Penataan Ruang (PUPR) Kota Palangka Raya", "7"),
    ("46", "Dinas Perhubungan Kota Palangka Raya", "7"),
    ("47", "Dinas Lingkungan Hidup Kota Palangka Raya", "7"),
    ("48", "Dinas Kesehatan Kota Palangka Raya", "7"),
    ("49", "Dinas Pendidikan Kota Palangka Raya", "7"),
    ("50", "Dinas Kependudukan dan Pencatatan Sipil Kota Palangka Raya", "7"),
    ("51", "Satuan Polisi Pamong Praja Kota Palangka Raya", "7"),
    ("52", "Dinas Penanaman Modal dan Pelayanan Terpadu Satu Pintu Kota Palangka Raya", "7"),
    ("53", "Dinas Sosial Kota Palangka Raya", "7"),
    ("54", "Badan Penanggulangan Bencana Daerah Kota Palangka Raya", "7"),
    ("55", "Dinas Komunikasi, Informatika, Statistik dan Persandian Kota Palangka Raya", "7"),
    ("56", "RSUD Kota Palangka Raya", "48"),
    ("57", "Inspektorat Kota Palangka Raya", "7"),
    ("58", "Perumda Air Minum Tirta Isen (PDAM) Kota Palangka Raya", "7"),
    ("60", "Kecamatan Jekan Raya", "7"),
    ("61", "Kecamatan Pahandut", "7"),
    ("62", "Kecamatan Sabangau", "7"),
    ("63", "Kecamatan Bukit Batu", "7"),
    ("64", "Kecamatan Rakumpit", "7"),
    ("70", "Kelurahan Palangka", "60"),
    ("71", "Kelurahan Menteng", "60"),
    ("72", "Kelurahan Bukit Tunggal", "60"),
    ("73", "Kelurahan Langkai", "61"),
    ("74", "Kelurahan Panarung", "61"),
    ("75", "Kelurahan Kereng Bangkirai", "62"),
)

# Short names used by agency staff in responses ("Admin Penghubung …").
AGENCY_SHORT: dict[str, str] = {
    "7": "Pemko",
    "45": "Dinas PUPR",
    "46": "Dishub",
    "47": "DLH",
    "48": "Dinkes",
    "49": "Disdik",
    "50": "Disdukcapil",
    "51": "Satpol PP",
    "52": "DPMPTSP",
    "53": "Dinsos",
    "54": "BPBD",
    "55": "Diskominfo",
    "56": "RSUD",
    "57": "Inspektorat",
    "58": "PDAM",
    "60": "Kecamatan Jekan Raya",
    "61": "Kecamatan Pahandut",
    "62": "Kecamatan Sabangau",
    "63": "Kecamatan Bukit Batu",
    "64": "Kecamatan Rakumpit",
    "70": "Kelurahan Palangka",
    "71": "Kelurahan Menteng",
    "72": "Kelurahan Bukit Tunggal",
    "73": "Kelurahan Langkai",
    "74": "Kelurahan Panarung",
    "75": "Kelurahan Kereng Bangkirai",
}

# (id, name, parent_id, agency that usually handles it)
CATEGORIES: tuple[tuple[str, str, str | None, str], ...] = (
    ("100", "Infrastruktur", None, "45"),
    ("101", "Jalan Rusak", "100", "45"),
    ("102", "Drainase dan Banjir", "100", "45"),
    ("103", "Penerangan Jalan Umum", "100", "46"),
    ("110", "Perhubungan", None, "46"),
    ("111", "Parkir Liar", "110", "46"),
    ("112", "Angkutan Umum", "110", "46"),
    ("113", "Lampu Lalu Lintas", "110", "46"),
    ("120", "Lingkungan Hidup", None, "47"),
    ("121", "Sampah", "120", "47"),
    ("122", "Kebakaran Hutan dan Lahan / Asap", "120", "54"),
    ("123", "Sarang Burung Walet", "120", "47"),
    ("130", "Kesehatan", None, "48"),
    ("131", "Pelayanan Puskesmas", "130", "48"),
    ("132", "Pelayanan Rumah Sakit", "130", "56"),
    ("140", "Pendidikan", None, "49"),
    ("141", "Penerimaan Peserta Didik Baru", "140", "49"),
    ("142", "Pungutan Sekolah", "140", "49"),
    ("150", "Administrasi Kependudukan", None, "50"),
    ("151", "KTP-el dan KK", "150", "50"),
    ("152", "Akta Kelahiran", "150", "50"),
    ("160", "Ketertiban Umum", None, "51"),
    ("161", "Pedagang Kaki Lima", "160", "51"),
    ("162", "Kebisingan", "160", "51"),
    ("170", "Perizinan", None, "52"),
    ("171", "Izin Mendirikan Bangunan / PBG", "170", "52"),
    ("180", "Sosial dan Kesejahteraan", None, "53"),
    ("181", "Bantuan Sosial", "180", "53"),
    ("182", "Data Terpadu Kesejahteraan Sosial", "180", "53"),
    ("190", "Kegawatdaruratan dan Bencana", None, "54"),
    ("191", "Banjir", "190", "54"),
    ("200", "Pelayanan Kelurahan dan Kecamatan", None, "60"),
    ("210", "Pungutan Liar dan Maladministrasi", None, "57"),
    ("220", "Air Bersih", None, "58"),
    ("999", "Lainnya", None, "7"),
)

PLACES: tuple[str, ...] = (
    "Jl. RTA Milono km 5",
    "Jl. G. Obos XII",
    "Jl. Tjilik Riwut km 7",
    "Jl. Yos Sudarso",
    "Jl. Diponegoro",
    "Jl. Ahmad Yani",
    "Jl. Mahir Mahar",
    "Jl. Temanggung Tilung",
    "Jl. Rajawali",
    "Jl. Beliang",
    "Jl. Sisingamangaraja",
    "Jl. Kinibalu",
)

# What an agency answers, by what the complaint is about. Each entry is (topic words, text):
# the sandbox prefers texts whose topic words occur in the complaint, and falls back to the
# agency's general text (no topic words), then to GENERAL_FOLLOWUPS. ``{place}`` is the place
# the complaint names (see ``place_in``), ``{date}`` the day of the response.
Bank = tuple[tuple[tuple[str, ...], str], ...]

FOLLOWUPS: dict[str, Bank] = {
    "45": (  # Dinas PUPR
        (
            ("jalan", "lubang", "berlubang", "aspal", "rusak"),
            "Pada tanggal {date} tim UPT Pemeliharaan Jalan dan Jembatan telah menambal 6 lubang "
            "di {place} dengan aspal hotmix. Perbaikan selesai pukul 15.00 WIB.",
        ),
        (
            ("drainase", "saluran", "banjir", "genangan", "meluap", "tersumbat"),
            "Tanggal {date} regu Satgas Drainase telah mengeruk sedimen dan membersihkan saluran "
            "drainase sepanjang 120 m di {place}; air sudah mengalir dan genangan surut.",
        ),
        (
            ("jembatan", "titian"),
            "Pada {date} tim UPT Jalan dan Jembatan telah mengganti 14 papan lantai jembatan yang "
            "lapuk di {place} dan memasang pagar pengaman di kedua sisi.",
        ),
        (
            (),
            "Pada {date} petugas Bidang Bina Marga telah meninjau {place} dan memperbaiki "
            "kerusakan yang dilaporkan.",
        ),
    ),
    "46": (  # Dinas Perhubungan
        (
            ("lampu jalan", "penerangan", "pju", "gelap"),
            "Pada {date} tim UPT Penerangan Jalan Umum telah mengganti 3 lampu PJU yang mati di "
            "{place}; lampu sudah menyala kembali sejak malam itu.",
        ),
        (
            ("parkir",),
            "Pada {date} petugas UPT Parkir menertibkan parkir liar di {place} dan memasang 2 "
            "rambu larangan parkir.",
        ),
        (
            ("angkot", "angkutan", "ngetem", "terminal", "macet"),
            "Pada {date} petugas Dishub telah menegur 5 sopir angkot yang ngetem di {place} dan "
            "menempatkan 2 petugas pengatur lalu lintas pada jam pulang sekolah.",
        ),
        (
            ("lampu lalu lintas", "traffic light", "bangjo"),
            "Tanggal {date} teknisi Dishub telah memperbaiki lampu lalu lintas di {place}; "
            "lampu sudah berfungsi normal.",
        ),
        (
            (),
            "Pada {date} petugas Dishub telah meninjau {place} dan menertibkan lalu lintas di "
            "lokasi tersebut.",
        ),
    ),
    "47": (  # Dinas Lingkungan Hidup
        (
            ("sampah", "tps", "bau", "lalat"),
            "Pada {date} petugas kebersihan Zona II telah mengangkut 4 truk sampah yang menumpuk "
            "di {place} dan menjadwalkan pengangkutan rutin setiap Senin dan Kamis.",
        ),
        (
            ("limbah", "pencemaran", "cemar", "asap"),
            "Tanggal {date} tim Bidang Pengendalian Pencemaran telah mengambil sampel air di "
            "{place} dan menegur pemilik usaha; saluran pembuangan limbahnya sudah ditutup.",
        ),
        (
            (),
            "Pada {date} petugas DLH telah meninjau {place} dan membersihkan lokasi yang "
            "dilaporkan.",
        ),
    ),
    "48": (  # Dinas Kesehatan
        (
            ("antrean", "antri", "antrian", "loket", "pendaftaran"),
            "Sejak {date} Puskesmas telah membuka 2 loket pendaftaran tambahan di {place} dan "
            "menerapkan nomor antrean daring, sehingga waktu tunggu turun menjadi 20 menit.",
        ),
        (
            ("puskesmas", "rumah sakit", "pasien", "dokter", "perawat"),
            "Pada {date} tim Bidang Pelayanan Kesehatan telah memeriksa pelayanan di {place} dan "
            "menambah 1 dokter jaga pada pagi hari.",
        ),
        (
            (),
            "Pada {date} petugas Dinkes telah mengunjungi {place} dan membenahi pelayanan "
            "yang dikeluhkan.",
        ),
    ),
    "49": (  # Dinas Pendidikan
        (
            ("pungutan", "pungli", "iuran", "bayar", "biaya"),
            "Pada {date} tim Inspektorat bersama Disdik telah memeriksa sekolah di {place}; "
            "pungutan dihentikan dan uang yang telah ditarik dikembalikan kepada 32 orang tua.",
        ),
        (
            (),
            "Pada {date} pengawas sekolah Disdik telah mendatangi {place} dan menyelesaikan "
            "masalah yang dilaporkan bersama kepala sekolah.",
        ),
    ),
    "50": (  # Disdukcapil
        (
            ("pungutan", "pungli", "diminta rp", "uang", "bayar", "suap"),
            "Pada {date} Disdukcapil bersama Inspektorat telah memeriksa petugas pelayanan "
            "KTP-el di {place}. Petugas yang meminta uang telah dibebastugaskan dan uang pelapor "
            "dikembalikan. Pelayanan KTP-el tidak dipungut biaya.",
        ),
        (
            ("ktp", "kartu keluarga", "kk", "blangko"),
            "Pada {date} petugas Disdukcapil keliling telah mencetak 40 KTP-el warga yang "
            "tertunda di {place}; KTP-el dapat diambil di kantor kelurahan.",
        ),
        (
            ("akta", "kelahiran", "kematian"),
            "Tanggal {date} akta yang dimohon telah diterbitkan oleh Bidang Pencatatan Sipil dan "
            "sudah dikirim ke alamat pemohon.",
        ),
        (
            (),
            "Pada {date} petugas Disdukcapil telah mendatangi {place} dan mencetak dokumen "
            "warga yang tertunda.",
        ),
    ),
    "51": (  # Satpol PP
        (
            ("pedagang", "pkl", "lapak", "trotoar"),
            "Pada {date} personel Satpol PP Regu 3 telah menertibkan 12 lapak PKL di {place} dan "
            "memindahkan pedagang ke lokasi relokasi.",
        ),
        (
            ("bising", "kebisingan", "musik", "karaoke"),
            "Pada {date} malam personel Satpol PP telah mendatangi {place} dan menghentikan "
            "kegiatan yang menimbulkan kebisingan.",
        ),
        (
            (),
            "Pada {date} personel Satpol PP telah menertibkan {place} sesuai Perda "
            "ketertiban umum.",
        ),
    ),
    "53": (  # Dinas Sosial
        (
            ("bansos", "bantuan", "dtks", "pkh"),
            "Pada {date} pendamping PKH Dinsos telah memverifikasi data keluarga di {place}; nama "
            "pelapor sudah dimasukkan ke DTKS untuk penyaluran bulan depan.",
        ),
        (
            (),
            "Pada {date} petugas Dinsos telah mengunjungi {place} dan menyalurkan bantuan "
            "sembako kepada warga yang dilaporkan.",
        ),
    ),
    "57": (  # Inspektorat
        (
            ("pungutan", "pungli", "diminta rp", "uang", "bayar", "suap"),
            "Pada {date} Inspektorat bersama Disdukcapil telah memeriksa petugas pelayanan di "
            "{place}. Petugas yang meminta uang telah dibebastugaskan dan uang pelapor "
            "dikembalikan. Pelayanan administrasi tidak dipungut biaya.",
        ),
        (
            (),
            "Pada {date} tim Inspektorat telah memeriksa unit layanan di {place}; temuan "
            "dituangkan dalam LHP nomor 700/112/ITKO dan pejabat terkait diberi teguran.",
        ),
    ),
    "58": (  # PDAM
        (
            ("air", "pipa", "meteran", "tagihan"),
            "Pada {date} tim teknik PDAM telah memperbaiki pipa distribusi 3 inci yang bocor di "
            "{place}; aliran air kembali normal pukul 16.00.",
        ),
    ),
    "54": (  # BPBD
        (
            ("banjir", "genangan", "longsor"),
            "Pada {date} tim Reaksi Cepat BPBD telah mengevakuasi 8 KK di {place} dan "
            "menyalurkan 50 paket logistik.",
        ),
        (
            ("asap", "karhutla", "kebakaran"),
            "Pada {date} tim BPBD bersama Manggala Agni telah menangani kebakaran lahan seluas "
            "2 ha di {place}; api sudah padam.",
        ),
        (
            (),
            "Pada {date} tim Reaksi Cepat BPBD telah meninjau {place} dan menangani kejadian "
            "yang dilaporkan.",
        ),
    ),
}

# For agencies without their own bank (kecamatan, kelurahan, Pemko, …).
GENERAL_FOLLOWUPS: Bank = (
    (
        (),
        "Pada {date} staf kecamatan bersama lurah telah meninjau {place} dan menyelesaikan "
        "masalah yang dilaporkan bersama warga.",
    ),
    (
        (),
        "Tanggal {date} petugas telah mendatangi {place}; masalah yang dilaporkan sudah "
        "diselesaikan.",
    ),
)

# Boilerplate: says nothing was done, whatever it calls "tindak lanjut".
ACKNOWLEDGEMENTS: tuple[str, ...] = (
    "Terima kasih atas laporan Anda, akan kami tindaklanjuti.",
    "Terima kasih atas partisipasi Bapak/Ibu. Laporan sudah kami terima dan akan segera "
    "ditindaklanjuti.",
    "Laporan Saudara sudah kami catat. Terima kasih.",
    "Baik, terima kasih informasinya, akan kami koordinasikan.",
    "Terima kasih, laporan Anda sedang dalam proses tindak lanjut.",
)

FORWARDED: tuple[str, ...] = (
    "Laporan Anda sudah diteruskan ke {agency} sesuai kewenangannya.",
    "Mohon maaf, laporan ini bukan kewenangan kami dan sudah kami teruskan ke {agency} untuk "
    "ditindaklanjuti.",
)

# What an agency asks the reporter, by topic; the last entry fits any complaint.
INFO_REQUESTS: Bank = (
    (
        ("jalan", "saluran", "drainase", "jembatan", "lampu", "sampah", "parkir"),
        "Mohon dilengkapi titik lokasi (RT/RW atau patokan terdekat) agar dapat kami tinjau.",
    ),
    (
        ("pungutan", "pungli", "petugas", "loket", "puskesmas", "pelayanan"),
        "Mohon sebutkan tanggal kejadian dan ciri-ciri petugas yang melayani.",
    ),
    ((), "Mohon kirimkan foto kondisi terkini serta nomor kontak yang dapat dihubungi."),
)

_PLACE_PATTERNS = (
    re.compile(r"\bJl\.\s?[A-Z][\w.'-]*(?:\s+(?:[A-Z][\w.'-]*|km\s*\d+|\d+))*"),
    re.compile(
        r"\b(?:Puskesmas|TPS|Pasar|Terminal|RSUD|SDN|SMPN|Kantor)\s+[A-Z][\w]*"
        r"(?:\s+[A-Z][\w]*)*"
    ),
    re.compile(r"\b[Kk]elurahan\s+[A-Z][\w]*"),
)


def place_in(text: str) -> str | None:
    """The place a complaint names (a street, a puskesmas, a TPS, a kelurahan), if any."""
    for pattern in _PLACE_PATTERNS:
        m = pattern.search(text)
        if m:
            place = m.group(0).rstrip(".,;")
            return place[0].upper() + place[1:]
    return None


def fitting(bank: Bank, text: str) -> list[str]:
    """The texts of ``bank`` most about what ``text`` is about (most topic words found),
    else its general ones."""
    low = text.lower()
    scored = [
        (sum(bool(re.search(rf"\b{re.escape(w)}\b", low)) for w in words), t)
        for words, t in bank
        if words
    ]
    best = max((n for n, _t in scored), default=0)
    if best > 0:
        return [t for n, t in scored if n == best]
    return [t for words, t in bank if not words] or [t for _w, t in bank]


RATINGS_COMMENT = ("Sangat membantu", "Cukup", "Belum selesai sebenarnya", "Terima kasih")
