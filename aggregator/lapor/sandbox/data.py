"""Reference data and texts the sandbox plays with: Kota Palangka Raya's OPDs and topics.

Agency and category ids are the sandbox's own; a real deployment reads them from
``GET /agencies`` and ``GET /categories``.
"""

from __future__ import annotations

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
    "7": "Pemko", "45": "Dinas PUPR", "46": "Dishub", "47": "DLH", "48": "Dinkes",
    "49": "Disdik", "50": "Disdukcapil", "51": "Satpol PP", "52": "DPMPTSP", "53": "Dinsos",
    "54": "BPBD", "55": "Diskominfo", "56": "RSUD", "60": "Kecamatan Jekan Raya",
    "61": "Kecamatan Pahandut", "62": "Kecamatan Sabangau", "63": "Kecamatan Bukit Batu",
    "64": "Kecamatan Rakumpit", "70": "Kelurahan Palangka", "71": "Kelurahan Menteng",
    "72": "Kelurahan Bukit Tunggal", "73": "Kelurahan Langkai", "74": "Kelurahan Panarung",
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
    ("999", "Lainnya", None, "7"),
)

PLACES: tuple[str, ...] = (
    "Jl. RTA Milono km 5", "Jl. G. Obos XII", "Jl. Tjilik Riwut km 7", "Jl. Yos Sudarso",
    "Jl. Diponegoro", "Jl. Ahmad Yani", "Jl. Mahir Mahar", "Jl. Temanggung Tilung",
    "Jl. Rajawali", "Jl. Beliang", "Jl. Sisingamangaraja", "Jl. Kinibalu",
)

UNITS: tuple[str, ...] = (
    "tim UPT Pemeliharaan Jalan dan Jembatan", "regu Satgas Drainase", "petugas UPT Parkir",
    "tim Reaksi Cepat BPBD", "petugas kebersihan Zona II", "tim Pusat Layanan Kesehatan",
    "personel Satpol PP Regu 3", "petugas Disdukcapil keliling",
)

ACKNOWLEDGEMENTS: tuple[str, ...] = (
    "Terima kasih atas laporan Anda, akan kami tindaklanjuti.",
    "Terima kasih atas partisipasi Bapak/Ibu. Laporan sudah kami terima dan akan segera "
    "ditindaklanjuti.",
    "Laporan Saudara sudah kami catat. Terima kasih.",
    "Baik, terima kasih informasinya, akan kami koordinasikan.",
)

FORWARDED: tuple[str, ...] = (
    "Laporan Anda sudah diteruskan ke OPD terkait.",
    "Mohon maaf, laporan ini sudah kami teruskan ke OPD terkait untuk ditindaklanjuti.",
    "Sudah diteruskan ke {agency} sesuai kewenangannya.",
)

INFO_REQUESTS: tuple[str, ...] = (
    "Mohon dilengkapi alamat lengkap dan titik lokasi (RT/RW) agar dapat kami tinjau.",
    "Mohon kirimkan foto kondisi terkini serta nomor kontak yang dapat dihubungi.",
    "Mohon sebutkan tanggal kejadian dan nama petugas yang melayani.",
)

SUBSTANTIVE: tuple[str, ...] = (
    "Pada tanggal {date} {unit} telah melakukan penimbunan dan perbaikan di {place}. "
    "Pekerjaan selesai pukul 15.00 WIB.",
    "Tanggal {date} {unit} telah membersihkan saluran drainase sepanjang 120 m di {place}; "
    "genangan sudah surut.",
    "Pada {date} {unit} menertibkan parkir liar di {place} dan memasang rambu larangan parkir.",
    "{unit} telah mengangkut sampah menumpuk di {place} pada {date} dan menjadwalkan "
    "pengangkutan rutin setiap Senin dan Kamis.",
    "Pada {date} {unit} telah mendatangi {place}; perbaikan lampu penerangan jalan "
    "(3 titik) sudah dilakukan.",
)

RATINGS_COMMENT = ("Sangat membantu", "Cukup", "Belum selesai sebenarnya", "Terima kasih")
