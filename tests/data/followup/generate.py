"""Write the follow-up corpora (fixed seed; re-run after editing the phrase sets).

    python tests/data/followup/generate.py

Training: aggregator/judgement/corpus/followup_train.jsonl = labelled.jsonl (hand-written)
+ replies built from template set A. Held-out: tests/data/followup/generated_holdout.jsonl
from template set B (its own openings, actions, places, units, closings); together with
labelled_holdout.jsonl, labelled_holdout_2.jsonl and holdout_handwritten.jsonl it is never
trained or tuned on.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent.parent
TRAIN = ROOT / "aggregator" / "judgement" / "corpus" / "followup_train.jsonl"
HOLDOUT = HERE / "generated_holdout.jsonl"

S = {
    "A": {
        "open": [
            "Terima kasih atas laporan Saudara.",
            "Yth. Bapak/Ibu Pelapor, terima kasih telah menyampaikan laporan melalui SP4N-LAPOR!.",
            "Selamat siang, terima kasih atas informasinya.",
            "Terima kasih atas partisipasi Bapak/Ibu.",
        ],
        "close": [
            "Terima kasih.",
            "Salam, Admin Dinas.",
            "Demikian kami sampaikan.",
            "Apabila masih ada kendala silakan hubungi kami.",
        ],
        "ack": [
            "Laporan Anda sudah kami terima dan akan segera ditindaklanjuti.",
            "Laporan sedang kami pelajari.",
            "Akan kami koordinasikan dengan instansi terkait.",
            "Sudah kami tindak lanjuti sesuai prosedur yang berlaku.",
            "Laporan sudah ditangani sesuai SOP.",
            "Akan kami usulkan pada tahun anggaran mendatang.",
            "Mohon bersabar, laporan dalam proses.",
            "Sdh diproses ya.",
            "Sudah.",
            "Status laporan kami ubah menjadi SELESAI.",
            "Tim sudah meninjau lokasi.",
            "Akan kami laporkan ke atasan.",
            "Masukan Bapak menjadi bahan evaluasi kami.",
            "ok pak sdh kami catat",
            "siap, segera kami tindaklanjuti",
            "Kami mohon maaf atas ketidaknyamanannya.",
        ],
        "action": [
            "Tim UPT Jalan telah menambal {n} lubang di {place} pada {date}.",
            "Saluran di {place} sudah dinormalisasi sepanjang {m} meter pada {date}.",
            "Sampah di {place} telah diangkut sebanyak {n} truk pada {date}.",
            "Lampu PJU di {place} sudah diganti {n} unit oleh tim Dishub tanggal {date}.",
            "Pada {date} Satpol PP telah menertibkan {n} lapak PKL di {place}.",
            "Pelaku usaha walet di {place} telah diberikan teguran tertulis nomor {doc}.",
            "Fogging sudah dilakukan di {place} pada {date} oleh petugas Puskesmas.",
            "Kendaraan yang parkir di {place} sudah diderek petugas pada {date}.",
            "sdh dikerjakan {place} tim {team} jam {hour}",
            "udh dibersihin pak, {place} td pagi jam {hour}",
            "Pipa bocor di {place} sudah diperbaiki tim teknis PDAM pada {date}.",
            "Dana PKH atas nama pelapor telah dicairkan pada {date} sebesar Rp {amount}.",
        ],
        "explain": [
            "Blanko KTP-el kosong sejak {month}; KTP-el Saudara sudah dicetak dan dapat diambil di loket {n}.",
            "Hasil pengukuran kebisingan di lokasi {db} dBA, di atas baku mutu 55 dBA.",
            "Hasil uji kekeruhan air {ntu} NTU, masih di bawah ambang 5 NTU.",
            "Pompa intake rusak pada {date}, suplai normal kembali setelah penggantian pompa.",
            "Perbaikan jembatan sudah dianggarkan dalam APBD {year} senilai Rp {amount} juta, kontrak dijadwalkan bulan {month}.",
            "Tarif parkir resmi sesuai Perda adalah Rp 2.000 untuk motor dan Rp 3.000 untuk mobil.",
            "Jarak rumah ke sekolah 3,2 km, di luar batas zonasi 2,5 km.",
            "Pekerjaan pengaspalan oleh CV {contractor} dimulai {date} dengan nilai kontrak Rp {amount} juta.",
        ],
        "short_action": [
            "Sudah dibetulkan.",
            "Got sudah dibersihkan.",
            "Beres pak, sdh diganti 👍",
            "Lampu sdh nyala lg",
            "Sudah ditambal pak",
            "Sampah sdh diangkut",
        ],
        "forward": [
            "Laporan Saudara sudah kami teruskan ke {body}.",
            "Sudah didisposisi ke {body}.",
            "Kami limpahkan ke {body} yang berwenang.",
            "Laporan ini bukan kewenangan kami, sudah kami teruskan kepada {body}.",
            "trims, sdh kami terusin ke {body}",
        ],
        "info": [
            "Mohon kirim foto dan patokan terdekat lokasi.",
            "Mohon dilengkapi alamat lengkap beserta RT/RW.",
            "Mohon sebutkan nomor pelanggan PDAM Saudara.",
            "Silakan kirimkan NIK dan nomor KK untuk kami cek.",
            "Bisa diinformasikan nama sekolahnya?",
            "mhn share lokasi pak",
            "Mohon informasikan waktu kejadian dan nomor telepon yang bisa dihubungi.",
            "Petugas sudah mengecek ke lokasi tetapi tidak menemukan titik yang dimaksud; mohon kirim foto dan patokan terdekat.",
        ],
        "en_ack": [
            "Thank you for your report, we will follow up.",
            "Your report has been received and is being processed.",
            "We will coordinate with the relevant agency.",
        ],
        "en_sub": [
            "The pothole on {place} was patched by our road team on {date}.",
            "Our team cleaned the drain at {place} on {date}, {m} meters in total.",
            "The street light at {place} has been replaced on {date}.",
        ],
        "en_fwd": ["Your report has been forwarded to {body}.", "We have referred this to {body}."],
        "en_info": [
            "Please send a photo and the exact address.",
            "Could you please provide your customer number?",
        ],
    },
    "B": {
        "open": [
            "Assalamualaikum. Menanggapi aduan Bapak/Ibu,",
            "Dengan hormat, sehubungan dengan pengaduan yang disampaikan,",
            "Halo kak, makasih udah lapor ya.",
            "Salam sejahtera. Laporan telah diterima Admin.",
        ],
        "close": [
            "Hormat kami, Kepala Bidang.",
            "Wassalam.",
            "Terima kasih atas perhatiannya 🙏",
            "Jika ada pertanyaan lebih lanjut silakan menghubungi kami.",
        ],
        "ack": [
            "Aduan sudah kami catat dan akan diteruskan kepada pimpinan.",
            "Saat ini laporan masih dalam kajian.",
            "Kami upayakan secepatnya.",
            "Terima kasih, berikut kami lampirkan surat jawaban.",
            "Bersama ini tindak lanjut kami terlampir.",
            "Sudah ditindaklanjuti ya kak.",
            "Sedang diproses oleh bidang terkait.",
            "Akan dijadwalkan kemudian.",
            "Kami akan berkoordinasi lebih lanjut.",
            "laporan diterima, ditunggu ya",
            "Sesuai Peraturan Wali Kota Nomor 12 Tahun 2019 tentang Pengelolaan Pengaduan, setiap laporan ditangani sesuai ketentuan.",
        ],
        "action": [
            "Regu {team} melakukan pengerukan saluran di {place} pada {date} sepanjang {m} m.",
            "Telah dilakukan penyegelan bangunan walet di {place} berdasarkan SK nomor {doc}.",
            "Pada {date} pukul {hour} petugas mengangkut {n} karung sampah dari {place}.",
            "Penggantian {n} titik lampu di {place} selesai dikerjakan {date}.",
            "Jukir liar di {place} sudah dibina dan diberi surat peringatan nomor {doc}.",
            "sdh kami tambal {place}, {n} titik, kemarin sore",
            "Penyemprotan fogging {place} sudah dilaksanakan hari {day} oleh Puskesmas {team}.",
        ],
        "explain": [
            "Kualitas air di titik sampling {ntu} NTU dan sisa klor 0,3 mg/l, memenuhi baku mutu.",
            "Pengukuran kebisingan speaker walet {db} dBA pada malam hari, pemilik diwajibkan menurunkan volume.",
            "Pembangunan drainase {place} masuk DPA {year} dengan pagu Rp {amount} juta, pelaksana CV {contractor}.",
            "KIA anak sudah terbit nomor {doc} dan bisa diambil di kantor kecamatan.",
            "Gangguan suplai karena pipa transmisi 300 mm patah pada {date}, perbaikan selesai {date}.",
        ],
        "short_action": [
            "sudah diperbaiki",
            "udh beres dibersihkan",
            "Done, sudah diangkut",
            "tiang sudah ditegakkan",
            "Sdh dipasang pak",
        ],
        "forward": [
            "Aduan tersebut kewenangan {body}, sudah kami sampaikan ke sana.",
            "Telah diteruskan ke {body} untuk penanganan.",
            "Laporan dialihkan ke {body}.",
            "Kami sudah forward ke {body} ya.",
        ],
        "info": [
            "Boleh dikirimkan titik koordinat atau share loc?",
            "Dimohon melampirkan foto kondisi terkini.",
            "Kami memerlukan nomor registrasi izin Saudara.",
            "Tolong jelaskan gang dan RT nya pak biar petugas tidak salah.",
            "Petugas sudah turun tapi tidak ketemu rumahnya, mohon kirim nomor HP yang aktif.",
        ],
        "en_ack": [
            "Thanks, noted. We are looking into it.",
            "This will be handled according to procedure.",
        ],
        "en_sub": [
            "We repaired the water pipe at {place} on {date}, supply is back to normal.",
            "Garbage at {place} was collected on {date}, {n} trucks.",
        ],
        "en_fwd": ["This matter has been passed on to {body}."],
        "en_info": ["Kindly share the exact location and a photo."],
    },
}
FILL = {
    "A": {
        "place": [
            "Jl. Kenanga",
            "Jl. RTA Milono km 5",
            "Gg. Sepakat RT 03",
            "Jl. Yos Sudarso",
            "Kel. Langkai",
        ],
        "date": ["4 Juni 2025", "12/03/2025", "Senin 7 April", "tanggal 9 Mei"],
        "team": ["Bina Marga", "Reaksi Cepat", "UPT Kebersihan", "Pemeliharaan"],
        "body": ["Dinas Perhubungan", "BPBD", "Kelurahan Menteng", "UPT PDAM", "Polresta"],
        "month": ["November", "Januari"],
    },
    "B": {
        "place": [
            "Jl. Seth Adji",
            "Komplek Amaco",
            "Jl. Rajawali gang 2",
            "Kelurahan Panarung RT 7",
            "Jl. Murjani",
        ],
        "date": ["2 Januari 2026", "15-08-2025", "Kamis, 3 Juli", "tgl 20 Oktober"],
        "team": ["Satgas Drainase", "Jekan Raya", "Pahandut", "Tim 3"],
        "body": [
            "Dinas Lingkungan Hidup",
            "Pemerintah Provinsi",
            "BPJS Kesehatan",
            "Kecamatan Sabangau",
            "Satpol PP",
        ],
        "month": ["Desember", "Maret"],
    },
}


def fill(rng: random.Random, split: str, tpl: str) -> str:
    f = FILL[split]
    return tpl.format(
        place=rng.choice(f["place"]),
        date=rng.choice(f["date"]),
        team=rng.choice(f["team"]),
        body=rng.choice(f["body"]),
        month=rng.choice(f["month"]),
        n=rng.randint(2, 40),
        m=rng.choice([50, 120, 300, 75]),
        hour=rng.choice(["10", "14.30", "08:00", "9"]),
        doc=rng.choice(["300/112/SATPOL/2025", "17/DLH/VI/2025", "640/88/PUPR"]),
        amount=rng.choice(["450", "1.250", "87,5", "2.000.000"]),
        db=rng.choice([68, 72, 61]),
        ntu=rng.choice(["3", "1,8", "4,2"]),
        year=rng.choice([2025, 2026]),
        contractor=rng.choice(["Karya Mandiri", "Borneo Jaya"]),
        day=rng.choice(["Rabu", "Sabtu"]),
    )


def wrap_html(rng: random.Random, text: str) -> str:
    parts = text.split(". ")
    return (
        "<p>" + ".</p><p>".join(parts) + "</p>"
        if rng.random() < 0.5
        else text.replace(". ", ".<br>\r\n").replace("&", "&amp;")
    )


def build(split: str, n_each: int, seed: int) -> list[dict]:
    rng = random.Random(seed)
    s = S[split]
    rows: list[dict] = []

    def add(text: str, att: int, label: str) -> None:
        if rng.random() < 0.15:
            text = wrap_html(rng, text)
        rows.append({"text": text, "attachments": att, "label": label})

    for _ in range(n_each):
        # acknowledgement: boilerplate, possibly framed, an attachment never makes it real
        body = " ".join(rng.sample(s["ack"], rng.randint(1, 2)))
        text = " ".join(
            x
            for x in (
                rng.choice(s["open"]) if rng.random() < 0.6 else "",
                body,
                rng.choice(s["close"]) if rng.random() < 0.5 else "",
            )
            if x
        )
        add(text, rng.choice([0, 0, 0, 1]), "acknowledgement")
        # substantive: boilerplate opening then content, or content then boilerplate
        content = fill(rng, split, rng.choice(s["action"] + s["explain"]))
        if rng.random() < 0.5:
            text = f"{rng.choice(s['open'])} {content}"
        else:
            text = f"{content} {rng.choice(s['ack']) if rng.random() < 0.5 else rng.choice(s['close'])}"
        att = rng.choice([0, 0, 1, 2])
        add(text, att, "substantive_with_evidence" if att else "substantive")
        # short physical action with a photo
        if rng.random() < 0.5:
            add(rng.choice(s["short_action"]), rng.randint(1, 3), "substantive_with_evidence")
        # forwarded, maybe with a cover letter attached
        text = fill(rng, split, rng.choice(s["forward"]))
        if rng.random() < 0.5:
            text = f"{rng.choice(s['open'])} {text} {rng.choice(s['close'])}"
        add(text, rng.choice([0, 0, 1]), "forwarded")
        # info request, possibly after a boilerplate opening or a fruitless visit
        text = rng.choice(s["info"])
        if rng.random() < 0.5:
            text = f"{rng.choice(s['open'])} {text} {rng.choice(s['close'])}"
        add(text, 0, "info_request")
        # English
        kind = rng.choice(["en_ack", "en_sub", "en_fwd", "en_info"])
        label = {
            "en_ack": "acknowledgement",
            "en_sub": "substantive",
            "en_fwd": "forwarded",
            "en_info": "info_request",
        }[kind]
        att = 1 if kind == "en_sub" and rng.random() < 0.3 else 0
        add(
            fill(rng, split, rng.choice(s[kind])),
            att,
            "substantive_with_evidence" if att else label,
        )
    seen: set[tuple[str, int]] = set()
    out = []
    for r in rows:
        key = (r["text"], r["attachments"])
        if key not in seen:
            seen.add(key)
            out.append(r)
    rng.shuffle(out)
    return out


def write(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8"
    )


if __name__ == "__main__":
    hand = [
        json.loads(x)
        for x in (HERE / "labelled.jsonl").read_text("utf-8").splitlines()
        if x.strip()
    ]
    holdout = build("B", 30, seed=1414)
    held = {(r["text"], r["attachments"]) for r in holdout}
    for name in ("labelled_holdout.jsonl", "labelled_holdout_2.jsonl", "holdout_handwritten.jsonl"):
        held |= {
            (r["text"], r["attachments"])
            for r in map(json.loads, (HERE / name).read_text("utf-8").splitlines())
            if r
        }
    # A held-out reply never reaches training, even when a template happens to write it.
    train = [r for r in hand + build("A", 70, seed=14) if (r["text"], r["attachments"]) not in held]
    write(TRAIN, train)
    write(HOLDOUT, holdout)
    print(f"train {len(train)}, holdout {len(holdout)}")
