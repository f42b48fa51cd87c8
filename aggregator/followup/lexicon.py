"""The phrase library behind the follow-up quality classifier.

Indonesian agency answers vary widely, so the library is built from word *stems* and the
affixes Indonesian puts around them, not from whole sentences: ``tambal`` yields
``ditambal``, ``menambal``, ``kami tambal``, ``penambalan``. Informal spellings citizens and
admins use in practice (``udh``, ``sdh``, ``tdk``, ``trims``, ``dibenerin``) are folded into
their standard forms before matching. Operators add their own words through
``FollowupConfig`` (see :mod:`aggregator.followup.quality`).
"""

from __future__ import annotations

from aggregator.judgement.slang import SLANG as ALL_SLANG

# Informal and abbreviated spellings the rules fold into the standard word, token by token.
# Their spellings come from the one table the text normalizer uses (aggregator/judgement/
# slang.py); the rules fold only the words they were tuned on. Folding all of them changes
# 14 of the 945 labels of the test corpora (the held-out macro-F1 stays 0.993): widening
# this is a change of the labeller of its own, not part of sharing the table.
_FOLDED = (
    "udh udah sdh sudh dah sdah tlh tlah blm blum lom tdk gak ga gk nggak enggak ngga tak "
    "trims tks thx makasih trimakasih terimakasih trmksh trimksh mksh dgn yg utk untk krn "
    "karna sy kmi kmrn kemaren td lg sdg dmn mhn tsb bs pd tgl dr akn nnti ntar bpk sgr "
    "lapornya laporanya ats jg dpt tp sm kpd dlm dibenerin benerin dibetulin dibersihin "
    "bersihin diterusin terusin diberesin beresin ditambel tambel dipasangin diangkutin "
    "dicekin digantiin"
).split()
SLANG: dict[str, str] = {word: ALL_SLANG[word] for word in _FOLDED}

# Stems of a concrete action taken. Each yields passive (di-), active (meN-), ``kami <stem>``
# and ``ter-`` forms. Kept to actions a citizen could see or check.
STRONG_STEMS: tuple[str, ...] = (
    "perbaiki",
    "betulkan",
    "benahi",
    "tambal",
    "bersihkan",
    "angkut",
    "tertibkan",
    "keruk",
    "pangkas",
    "tebang",
    "pasang",
    "ganti",
    "segel",
    "tutup",
    "bongkar",
    "aspal",
    "semprot",
    "tegur",
    "salurkan",
    "cairkan",
    "potong",
    "pindahkan",
    "kembalikan",
    "hentikan",
    "cabut",
    "terbitkan",
    "cetak",
    "aktifkan",
    "bayarkan",
    "serahkan",
    "panggil",
    "bina",
    "amankan",
    "sita",
    "derek",
    "rapikan",
    "koreksi",
    "ubah",
    "tambah",
    "keringkan",
    "sedot",
    "tanam",
    "cor",
    "lapisi",
    "nyalakan",
    "hidupkan",
    "evakuasi",
    "normalisasi",
    "kirim",
    "kirimkan",
    "buang",
    "rehab",
    "renovasi",
    "cat",
    "isi",
    "turunkan",
    "tindak tegas",
    "sanksi",
    "rekam",
    "vaksin",
    "obati",
    "datakan",
    "larang",
    "tarik",
    "musnahkan",
    "uruk",
    "timbun",
    "gali",
    "bangun",
    "tinggikan",
    "lebarkan",
    "buka",
)

# Stems of a step that is real only when it comes with something concrete (a place, a date,
# an amount): "sudah dicek" alone is what an acknowledgement says.
WEAK_STEMS: tuple[str, ...] = (
    "cek",
    "periksa",
    "tinjau",
    "survei",
    "tangani",
    "selesaikan",
    "atasi",
    "kunjungi",
    "datangi",
    "hubungi",
    "verifikasi",
    "klarifikasi",
    "mediasi",
    "data",
    "pantau",
    "razia",
    "patroli",
    "sidak",
    "tindak",
)

# Action nouns (peN-an forms and loan words). They count when something marks them as done:
# "telah dilakukan penambalan", "penambalan telah selesai", "setelah perbaikan".
STRONG_NOUNS: tuple[str, ...] = (
    "perbaikan",
    "penambalan",
    "pembersihan",
    "pengangkutan",
    "penertiban",
    "pengerukan",
    "pemangkasan",
    "penebangan",
    "pemasangan",
    "penggantian",
    "penyegelan",
    "penutupan",
    "pembongkaran",
    "pengaspalan",
    "penyemprotan",
    "fogging",
    "normalisasi",
    "evakuasi",
    "teguran",
    "sanksi",
    "penyaluran",
    "pencairan",
    "pemotongan",
    "pemindahan",
    "pengembalian",
    "penghentian",
    "pencabutan",
    "penerbitan",
    "pencetakan",
    "perekaman",
    "vaksinasi",
    "imunisasi",
    "pembinaan",
    "pengamanan",
    "penyitaan",
    "penderekan",
    "rehab",
    "rehabilitasi",
    "renovasi",
    "pengecatan",
    "penanaman",
    "pengecoran",
    "pembayaran",
    "penyerahan",
    "pengiriman",
    "pengobatan",
    "kerja bakti",
    "penindakan",
    "pengurukan",
    "penimbunan",
    "penggalian",
    "pembangunan",
    "peninggian",
    "pelebaran",
    "pengaktifan",
    "bantuan",
    "santunan",
    "pendampingan",
)
WEAK_NOUNS: tuple[str, ...] = (
    "pemeriksaan",
    "pengecekan",
    "peninjauan",
    "survei",
    "survey",
    "pendataan",
    "mediasi",
    "klarifikasi",
    "sidak",
    "razia",
    "patroli",
    "penanganan",
    "verifikasi",
    "pemantauan",
    "kunjungan",
    "monitoring",
    "investigasi",
    "audit",
)

# Verbs that carry an action noun: "melakukan penambalan", "diberikan teguran".
CARRIER_VERBS: frozenset[str] = frozenset(
    {
        "melakukan",
        "dilakukan",
        "melaksanakan",
        "dilaksanakan",
        "mengadakan",
        "diadakan",
        "memberikan",
        "diberikan",
        "memberi",
        "diberi",
        "menjatuhkan",
        "dijatuhkan",
        "mengerjakan",
        "dikerjakan",
        "menyalurkan",
        "disalurkan",
        "menyerahkan",
        "diserahkan",
        "lakukan",
        "laksanakan",
        "kerjakan",
        "berikan",
    }
)
# Words after an action noun that say it is finished: "penambalan telah selesai".
DONE_WORDS: frozenset[str] = frozenset(
    {
        "dilakukan",
        "dilaksanakan",
        "dikerjakan",
        "selesai",
        "rampung",
        "tuntas",
        "terlaksana",
        "diselesaikan",
        "disalurkan",
        "diserahkan",
        "dicairkan",
        "diberikan",
    }
)

# States that are a visible outcome: "lampu sudah menyala", "air sudah normal kembali".
RESULT_STATES: frozenset[str] = frozenset(
    {
        "normal",
        "menyala",
        "berfungsi",
        "surut",
        "lancar",
        "bersih",
        "mengalir",
        "terpasang",
        "tersalurkan",
        "beroperasi",
        "terang",
        "hidup",
        "tertib",
        "diaktifkan",
        "aktif",
        "nyala",
        "terbit",
    }
)
# Vague outcomes: need a concrete element like a weak step.
VAGUE_STATES: frozenset[str] = frozenset({"teratasi", "beres", "tuntas", "clear", "aman"})

# Looking back from an action word, the nearest of these decides what it means.
PAST_MARKERS: frozenset[str] = frozenset({"telah", "sudah", "pernah", "setelah", "sesudah"})
PAST_TIME: frozenset[str] = frozenset({"kemarin", "tadi"})
BLOCK_MARKERS: frozenset[str] = frozenset(
    {
        # future and plans
        "akan",
        "segera",
        "nanti",
        "rencana",
        "rencananya",
        "direncanakan",
        "merencanakan",
        "dijadwalkan",
        "menjadwalkan",
        "jadwalkan",
        "diusulkan",
        "mengusulkan",
        "usulkan",
        "diupayakan",
        "berupaya",
        "upayakan",
        "mengupayakan",
        "menunggu",
        "harus",
        "perlu",
        "wajib",
        "dapat",
        "bisa",
        "mampu",
        "diprogramkan",
        "dianggarkan",
        # purpose and conditions
        "agar",
        "supaya",
        "untuk",
        "guna",
        "demi",
        "jika",
        "apabila",
        "bila",
        "kalau",
        # requests
        "mohon",
        "harap",
        "tolong",
        "silakan",
        "silahkan",
        "dimohon",
        # negation and progress
        "belum",
        "tidak",
        "bukan",
        "jangan",
        "sedang",
        "tengah",
        "masih",
        "dalam",
        # ongoing effort, not a step taken ("terus melakukan upaya perbaikan pelayanan")
        "terus",
        "upaya",
        "berusaha",
    }
)

# Words that never describe an action taken, however they are inflected: the vocabulary of
# boilerplate ("sudah kami tindak lanjuti sesuai prosedur").
NON_ACTION_STEMS: tuple[str, ...] = (
    "tindaklanjuti",
    "tindak lanjuti",
    "terima",
    "catat",
    "proses",
    "koordinasikan",
    "tampung",
    "pelajari",
    "baca",
    "sampaikan",
    "respon",
    "tanggapi",
    "laksanakan",
)

ACK_PHRASES: tuple[str, ...] = (
    "terima kasih",
    "akan kami tindaklanjuti",
    "akan kami tindak lanjuti",
    "akan segera kami tindaklanjuti",
    "akan segera ditindaklanjuti",
    "akan ditindaklanjuti",
    "sudah kami tindaklanjuti",
    "sudah kami tindak lanjuti",
    "telah kami tindaklanjuti",
    "telah kami tindak lanjuti",
    "sudah ditindaklanjuti",
    "telah ditindaklanjuti",
    "sesuai prosedur",
    "sesuai sop",
    "sesuai ketentuan",
    "sesuai tupoksi",
    "sesuai mekanisme",
    "laporan sudah kami terima",
    "telah kami terima",
    "sudah kami terima",
    "sedang kami proses",
    "dalam proses",
    "mohon bersabar",
    "mohon kesabarannya",
    "mohon menunggu",
    "menjadi perhatian",
    "bahan evaluasi",
    "mohon maaf",
    "sudah ditangani",
    "sudah kami tangani",
    "sudah diselesaikan",
    "sudah kami cek",
    "sudah direspon",
    "kami tampung",
)

FORWARD_PATTERNS: tuple[str, ...] = (
    r"\b(?:di|me|kami\s+)?(?:neruskan|teruskan|diteruskan)\b",
    r"\bmeneruskan\b",
    r"\b(?:di|kami\s+)?forward(?:kan)?\b",
    r"\b(?:di|men|kami\s+)?disposisi(?:kan)?\b",
    r"\b(?:di|me|kami\s+)?limpahkan\b|\bdilimpahkan\b|\bmelimpahkan\b",
    r"\b(?:di|meng|kami\s+)alihkan\b|\bdialihkan\b",
    r"\b(?:sampaikan|disampaikan|menyampaikan)\s+(?:laporan\s+(?:ini\s+)?)?(?:kepada|ke)\s+"
    r"(?!bapak|ibu|saudara|anda|pelapor|kami)\w+",
    r"\b(?:berkoordinasi|koordinasikan|dikoordinasikan|mengkoordinasikan)\s+(?:dengan|ke|kepada)\s+"
    r"(?!internal)\w+",
    r"\b(?:laporan|aduan|pengaduan)\b[^.?!]{0,40}\b(?:dikirim|dikirimkan|kirim|kirimkan)\s+"
    r"(?:ke|kepada)\b",
    r"\bkoordinasi\s+(?:dengan|ke|kepada)\s+(?!internal)\w+",
    r"\bmenghubungi\s+pihak\s+terkait\b",
    r"\b(?:bukan|merupakan|ini|adalah|termasuk|menjadi)\s+(?:merupakan\s+)?(?:kewenangan|wewenang)\b",
    r"\bpemilik\s+kewenangan\b",
)

# Asking the reporter for something. A request word followed closely by what is asked.
INFO_REQUEST_PATTERNS: tuple[str, ...] = (
    r"\b(?:mohon|dimohon|harap|silakan|silahkan|bisa|boleh|dapatkah|tolong|kiranya)\b"
    r"(?:\s+\S+){0,5}?\s+(?:di|me|meng|men|mem|meny)?(?:lengkapi|melengkapi|lampirkan|"
    r"kirim|kirimkan|ngirim|jelaskan|perjelas|sebutkan|informasikan|"
    r"sampaikan|nyampaikan|konfirmasi|unggah|ngunggah|upload|berikan|cantumkan|"
    r"kirimkan|share|jelasin|menyebutkan|menjelaskan|menyampaikan|mengirimkan|"
    r"menginformasikan|melampirkan|memberikan|mengunggah|mencantumkan)\b",
    r"\b(?:mohon|dimohon)\s+(?:di)?info(?:rmasi)?(?:kan|nya)?\b",
    r"\b(?:kami\s+)?(?:memerlukan|membutuhkan|perlu|butuh)\s+(?:\w+\s+)?(?:data|informasi|"
    r"keterangan|salinan|nomor|foto|dokumen|bukti|alamat|lokasi|identitas|kronologi)\b",
    r"^(?:bapak|ibu|saudara|kak|pak|bu)?[/\w\s,]{0,12}\bsebutkan\b",
    r"\blengkapi\b",
)

EVIDENCE_PHRASES: tuple[str, ...] = (
    "terlampir",
    "kami lampirkan",
    "dokumentasi",
    "foto sebelum",
    "fotonya",
    "foto hasil",
    "foto kegiatan",
    "bukti",
)
