"""What the dashboard says for the codes the daemon stores, in Bahasa Indonesia.

Timeline event kinds, notification kinds and states, job kinds and states, complaint
statuses, channels: one short label each. A code nobody has labelled yet is shown as it is,
never as an error (tests/core/test_dashboard_labels.py fails when an emitted event kind has
no label). ``event_details`` picks the few fields of an event's data worth reading; the
template still offers the full data for support.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from schemas.events import EventKind, NotificationKind

STATUS_LABELS = {
    "received": "diterima, menunggu dikirim",
    "manual_pending": "menunggu diketik operator",
    "rejected_by_lapor": "ditolak LAPOR!",
    "duplicate": "duplikat",
    "history": "arsip lama",
    "belum_terverifikasi": "belum terverifikasi",
    "terverifikasi": "terverifikasi",
    "terdisposisi": "terdisposisi",
    "diproses": "diproses",
    "ditindaklanjuti": "ditindaklanjuti",
    "selesai": "selesai",
    "tertunda": "tertunda",
    "arsip": "diarsipkan",
    "bukan_wewenang": "bukan wewenang",
    "dihapus": "dihapus",
}

# Follow-up quality labels (followup_label).
LABEL_TEXT = {
    "acknowledgement": "basa-basi",
    "forwarded": "diteruskan",
    "info_request": "minta informasi",
    "substantive": "substantif",
    "substantive_with_evidence": "substantif + bukti",
}

EVENT_LABELS: dict[str, str] = {
    # intake
    EventKind.COMPLAINT_INGESTED: "pengaduan masuk",
    EventKind.COMPLAINT_LINKED: "digabung sebagai duplikat",
    EventKind.ROUTE_CORRECTED: "rute dikoreksi operator",
    EventKind.REPORTER_REPLIED: "pelapor membalas",
    EventKind.REPORTER_REPLY_UNVERIFIED: "balasan dari pengirim yang bukan pelapor (ditahan)",
    EventKind.REPORTER_REPLY_ACCEPTED: "balasan ditahan diterima operator",
    EventKind.REPORTER_REPLY_REJECTED: "balasan ditahan ditolak operator",
    EventKind.BURST_MERGED: "pesan susulan digabung ke pengaduan (dikirim beruntun)",
    EventKind.MESSAGE_JUDGED: "pesan dinilai: balasan atau pengaduan baru",
    EventKind.LEGACY_FORM_UPDATED: "formulir lama diperbarui",
    EventKind.LEGACY_ROW_DELETED: "baris formulir lama dihapus",
    # push to LAPOR!
    EventKind.LAPOR_PUSHED: "terkirim ke LAPOR!",
    EventKind.LAPOR_REJECTED: "ditolak LAPOR!",
    EventKind.LAPOR_MANUAL_PENDING: "menunggu diketik operator ke LAPOR!",
    EventKind.LAPOR_ATTACHMENT_REFUSED: "lampiran ditolak LAPOR!",
    EventKind.REPORTER_REPLY_SENT: "balasan pelapor diteruskan ke LAPOR!",
    # LAPOR! feed
    EventKind.LAPOR_STATUS_CHANGED: "status di LAPOR! berubah",
    EventKind.LAPOR_DISPOSED: "didisposisikan ke OPD",
    EventKind.FOLLOWUP_RECEIVED: "tanggapan OPD masuk",
    EventKind.LAPOR_INFO_REQUESTED: "LAPOR! meminta informasi",
    EventKind.LAPOR_RECLASSIFIED: "klasifikasi diubah di LAPOR!",
    EventKind.LAPOR_REPORTER_REPLY_RECORDED: "balasan pelapor tercatat di LAPOR!",
    EventKind.LAPOR_RATED: "pelapor memberi penilaian",
    EventKind.LAPOR_DELETED: "dihapus di LAPOR!",
    EventKind.LAPOR_EVENT_RECEIVED: "peristiwa LAPOR! lain",
    # follow-up and notifications
    EventKind.SLA_BREACHED: "tenggat terlewati",
    EventKind.CLOSED_WITHOUT_REAL_FOLLOWUP: "ditutup tanpa tindak lanjut nyata",
    EventKind.NOTIFICATION_SENT: "pemberitahuan ke pelapor dikirim",
    EventKind.NOTIFICATION_FAILED: "pemberitahuan ke pelapor gagal",
    EventKind.NOTIFICATION_HELD: "pemberitahuan ke pelapor ditahan (pencegah balasan otomatis)",
    EventKind.NOTIFICATION_REDELIVERY_PLANNED: "pemberitahuan ke pelapor akan dikirim ulang",
    # old forms
    EventKind.FORM_WRITTEN_BACK: "status ditulis balik ke formulir lama",
    EventKind.FORM_WRITE_BACK_SKIPPED: "tulis balik ke formulir lama dilewati",
    # operators and the queue
    EventKind.IDENTITY_REVEALED: "identitas pelapor dibuka",
    EventKind.JOB_DEAD: "pekerjaan gagal (mati)",
    EventKind.JOB_RETRIED: "pekerjaan diulangi",
    EventKind.JOB_DISCARDED: "pekerjaan dibuang",
}

# notifications.kind holds the notify event after aggregator.notify.handler.ALIASES.
NOTIFICATION_LABELS: dict[str, str] = {
    NotificationKind.ACK: "tanda terima & Tracking ID",
    NotificationKind.STATUS_CHANGED: "perubahan status",
    NotificationKind.RESPONSE_POSTED: "tanggapan OPD",
    NotificationKind.INFO_REQUESTED: "permintaan informasi",
    NotificationKind.SOLVED_QUESTION: "pertanyaan: sudah selesai?",
    NotificationKind.USAGE: "petunjuk cara melapor",
    NotificationKind.SUNSET: "kanal akan dihentikan",
    NotificationKind.COMPLAINT_LINKED: "digabung dengan laporan yang sama",
    NotificationKind.DELETED: "laporan dihapus",
}

NOTIFICATION_STATE_LABELS = {
    "queued": "menunggu dikirim",
    "sent": "terkirim",
    "delivered": "sampai",
    "failed": "gagal",
    "skipped": "tidak dikirim",
}

JOB_LABELS = {
    "push": "kirim ke LAPOR!",
    "attach": "unggah lampiran ke LAPOR!",
    "reply_up": "teruskan balasan pelapor ke LAPOR!",
    "notify": "beri tahu pelapor",
    "write_back": "tulis balik ke formulir lama",
}

JOB_STATE_LABELS = {
    "queued": "menunggu",
    "running": "berjalan",
    "in_doubt": "diperiksa ulang",
    "done": "selesai",
    "dead": "gagal (mati)",
}

CHANNEL_LABELS = {
    "email": "e-mail",
    "sms": "SMS",
    "web": "web",
    "whatsapp": "WhatsApp",
    "counter": "loket",
    "other": "lainnya",
}

# What intake noticed about an item (``complaints.flags``), for operators; a flag without a
# label is shown as its code.
FLAG_LABELS = {
    "incomplete_multipart": "SMS panjang tidak lengkap (ada bagian yang tidak diterima)",
    "attachment_refused": "lampiran ditolak",
    "attachment_dangerous": "lampiran berbahaya ditolak",
    "forwarded_by_staff": "diteruskan oleh petugas",
    "reporter_name_is_site": "nama pengirim adalah nama situs/formulir, bukan pelapor",
    "mojibake_repaired": "huruf rusak diperbaiki",
    "double_mojibake_repaired": "huruf rusak berlapis diperbaiki",
    "latin1_text": "teks berkode latin1",
    "truncated_at_text_limit": "teks terpotong di batas kolom TEXT",
    "truncated_multibyte": "huruf terakhir terpotong",
    "html_stripped": "markah HTML dibuang",
    "html_entities_decoded": "entitas HTML diurai",
    "html_escaped_repeatedly": "HTML di-escape berulang kali",
    "script_removed": "skrip dibuang",
    "date_missing": "tanggal tidak ada",
    "date_invalid": "tanggal tidak valid",
    "date_in_future": "tanggal di masa depan",
    "date_only": "hanya tanggal, tanpa jam",
    "status_unmapped": "status lama tidak dikenal",
    "status_empty": "status lama kosong",
    "orphan_row": "pelapor tidak ada di tabel masyarakat",
    "nik_invalid": "NIK tidak valid",
    "email_invalid": "e-mail tidak valid",
    "photo_missing": "foto tidak ditemukan",
    "body_empty": "isi e-mail kosong",
    "subject_only": "hanya subjek",
    "missing_message_id": "tanpa Message-ID",
    "mime_defects": "struktur e-mail cacat",
    "mime_broken": "struktur e-mail rusak",
}

SLA_CLOCK_LABELS = {
    "verification": "verifikasi",
    "first_response": "tanggapan pertama",
    "auto_close": "penutupan otomatis",
    "settlement": "penyelesaian",
}
SLA_UNIT_LABELS = {"working_days": "hari kerja", "days": "hari"}

# How a complaint got its Tracking ID (lapor_pushed ``how``).
PUSH_HOW_LABELS = {
    "created": "laporan baru dibuat",
    "replayed": "pengiriman ulang dikenali LAPOR!",
    "found_by_external_ref": "ditemukan di LAPOR! lewat referensi",
    "duplicate_external_ref": "sudah ada di LAPOR!",
    "idempotency_key_reused": "sudah ada di LAPOR!",
    "entered_by_operator": "dimasukkan operator",
}

TEXT_LIMIT = 300


def label(mapping: Mapping[str, str], code: Any) -> str:
    """The label of ``code``; the code itself when it has none, "-" for nothing."""
    if code is None or code == "":
        return "-"
    return mapping.get(str(code), str(code))


@dataclass(frozen=True)
class Detail:
    """One readable line of an event's data; ``href`` links to another dashboard page."""

    name: str
    value: str
    href: str | None = None


TimeFormat = Callable[[dt.datetime], str]


def event_details(
    kind: str,
    data: Any,
    *,
    at: dt.datetime | None = None,
    followups: Iterable[Mapping[str, Any]] = (),
    fmt_time: TimeFormat | None = None,
) -> list[Detail]:
    """The fields of an event worth reading, in order. Missing or odd data gives fewer lines,
    never an error: the full data stays on the page."""
    if not isinstance(data, Mapping):
        return []
    build = _DETAILS.get(kind)
    if build is None:
        return []
    ctx = _Ctx(data, at, list(followups), fmt_time or _iso_minutes)
    try:
        build(ctx)
    except (TypeError, ValueError, AttributeError, KeyError):
        # Data written by an older release may be shaped differently; show what was read.
        pass
    return ctx.out


def _iso_minutes(value: dt.datetime) -> str:
    return value.strftime("%d-%m-%Y %H:%M")


def _short(text: Any) -> str:
    s = " ".join(str(text).split())
    return s if len(s) <= TEXT_LIMIT else s[: TEXT_LIMIT - 1] + "…"


class _Ctx:
    def __init__(
        self,
        data: Mapping[str, Any],
        at: dt.datetime | None,
        followups: list[Mapping[str, Any]],
        fmt_time: TimeFormat,
    ) -> None:
        self.d, self.at, self.followups, self.fmt_time = data, at, followups, fmt_time
        self.out: list[Detail] = []

    def has(self, key: str) -> bool:
        return self.d.get(key) not in (None, "", [], {})

    def add(self, name: str, value: Any, href: str | None = None) -> None:
        if value not in (None, "", [], {}):
            self.out.append(Detail(name, _short(value), href))

    def field(self, name: str, key: str, mapping: Mapping[str, str] | None = None) -> None:
        if self.has(key):
            self.add(name, label(mapping or {}, self.d[key]))

    def change(
        self, name: str, before: str, after: str, mapping: Mapping[str, str] | None = None
    ) -> None:
        if not (self.has(before) or self.has(after)):
            return
        codes = mapping or {}
        was, now = label(codes, self.d.get(before)), label(codes, self.d.get(after))
        self.add(name, f"{was} → {now}")

    def time(self, name: str, key: str) -> None:
        value = self.d.get(key)
        if not value:
            return
        try:
            when = dt.datetime.fromisoformat(str(value))
        except ValueError:
            self.add(name, value)
            return
        self.add(name, self.fmt_time(when) if when.tzinfo else value)

    def complaint_link(self, name: str, key: str) -> None:
        value = self.d.get(key)
        try:
            cid = uuid.UUID(str(value))
        except ValueError:
            self.add(name, value)
            return
        self.add(name, str(cid), f"/dasbor/pengaduan/{cid}")

    def yes_no(self, name: str, key: str) -> None:
        value = self.d.get(key)
        if isinstance(value, bool):
            self.add(name, "ya" if value else "belum")

    def agency(self, name: str = "OPD") -> None:
        agency_id, agency_name = self.d.get("agency_id"), self.d.get("agency_name")
        if agency_name and agency_id and agency_name != agency_id:
            self.add(name, f"{agency_name} ({agency_id})")
        else:
            self.add(name, agency_name or agency_id)

    def job(self) -> None:
        if self.has("job_kind"):
            self.add(
                "Pekerjaan",
                f"{label(JOB_LABELS, self.d['job_kind'])}"
                + (f" #{self.d['job_id']}" if self.has("job_id") else ""),
            )


def _ingested(c: _Ctx) -> None:
    if c.has("channel"):
        channel = label(CHANNEL_LABELS, c.d["channel"])
        c.add("Kanal", f"{channel} ({c.d['source']})" if c.has("source") else channel)
    else:
        c.field("Kanal", "source")
    c.field("Status awal", "status", STATUS_LABELS)
    c.field("Diarahkan oleh aturan", "routed_by")
    if c.has("flags") and isinstance(c.d["flags"], list):
        c.add("Tanda", ", ".join(str(f) for f in c.d["flags"]))


def _linked(c: _Ctx) -> None:
    c.complaint_link("Sama dengan pengaduan", "duplicate_of")


def _reporter_replied(c: _Ctx) -> None:
    c.field("Kanal", "channel", CHANNEL_LABELS)
    c.yes_no("Menurut pelapor sudah selesai", "resolved")


VERIFIED_BY_LABELS = {
    "phone": "nomor pelapor",
    "email": "e-mail pelapor",
    "receipt": "kode tanda terima",
    "operator": "diterima operator",
}


def _reply_unverified(c: _Ctx) -> None:
    c.field("Kanal", "channel", CHANNEL_LABELS)
    c.field("Alasan ditahan", "reason")
    c.yes_no("Mengaku sudah selesai", "resolved_claimed")


def _reply_reviewed(c: _Ctx) -> None:
    c.field("Oleh", "by")


def _legacy_row(c: _Ctx) -> None:
    if c.has("row_id"):
        table = f"{c.d['form_table']} " if c.has("form_table") else ""
        c.add("Baris", f"{table}#{c.d['row_id']}")


def _legacy_updated(c: _Ctx) -> None:
    _legacy_row(c)
    c.change("Status di formulir", "status_before", "status_after")
    if c.d.get("status_unmapped"):
        c.add("Catatan", "status formulir ini belum dipetakan")
    if c.d.get("same_as_write_back"):
        c.add("Catatan", "sama dengan status yang ditulis balik satukanal")
    responses = c.d.get("responses")
    if isinstance(responses, list):
        for r in responses:
            if isinstance(r, Mapping) and r.get("text"):
                c.add("Tanggapan petugas", r["text"])


def _pushed(c: _Ctx) -> None:
    c.field("Tracking ID", "tracking_id")
    c.field("Cara", "how", PUSH_HOW_LABELS)


def _rejected(c: _Ctx) -> None:
    fields = c.d.get("fields")
    if isinstance(fields, list):
        for f in fields:
            if isinstance(f, Mapping):
                name = f.get("field") or "?"
                c.add("Isian ditolak", f"{name}: {f['message']}" if f.get("message") else name)


def _attachment_refused(c: _Ctx) -> None:
    c.field("Berkas", "filename")
    c.field("Jenis", "content_type")


def _reply_sent(c: _Ctx) -> None:
    c.field("Tracking ID", "tracking_id")
    c.field("ID balasan di LAPOR!", "lapor_reply_id")


def _status_changed(c: _Ctx) -> None:
    c.change("Status", "previous", "status", STATUS_LABELS)


def _disposed(c: _Ctx) -> None:
    c.agency("Ke OPD")


def _followup(c: _Ctx) -> None:
    c.field("Oleh", "author")
    c.field("Mutu", "label", LABEL_TEXT)
    text = _followup_text(c)
    if text:
        c.add("Isi", text)
    if isinstance(c.d.get("attachments"), int) and c.d["attachments"] > 0:
        c.add("Lampiran", str(c.d["attachments"]))


def _followup_text(c: _Ctx) -> str | None:
    """The follow-up row this event stored has the text; it carries the event's time."""
    if c.at is None:
        return None
    author = c.d.get("author")
    for f in c.followups:
        if f.get("at") == c.at and (not author or not f.get("author") or f["author"] == author):
            return str(f.get("text") or "") or None
    return None


def _reclassified(c: _Ctx) -> None:
    c.field("Klasifikasi", "classification")
    c.field("Kategori", "category_id")


_DECISIONS = {"reply": "balasan", "new_complaint": "pengaduan baru"}


def _judged(c: _Ctx) -> None:
    """Reply or new complaint (issue 14, item 4): what was decided, why, and the other end."""
    c.field("Keputusan", "decision", _DECISIONS)
    c.field("Alasan", "reason")
    if c.has("open_complaint"):
        c.complaint_link("Pengaduan terbuka", "open_complaint")
    if c.has("new_complaint"):
        c.complaint_link("Pengaduan baru", "new_complaint")
    if c.has("moved_complaint"):
        c.complaint_link("Pesan yang dipindah", "moved_complaint")


def _rated(c: _Ctx) -> None:
    c.field("Nilai", "rating")


def _deleted(c: _Ctx) -> None:
    c.field("Alasan", "reason")


def _lapor_other(c: _Ctx) -> None:
    c.field("Jenis di LAPOR!", "type")


def _sla(c: _Ctx) -> None:
    c.field("Tenggat", "clock", SLA_CLOCK_LABELS)
    if c.has("limit"):
        unit = label(SLA_UNIT_LABELS, c.d.get("unit")) if c.has("unit") else ""
        c.add("Batas", f"{c.d['limit']} {unit}".strip())
    c.time("Jatuh tempo", "due_at")
    c.agency()
    c.field("Dasar aturan", "regulation")


def _closed_without(c: _Ctx) -> None:
    c.agency()
    c.field("Tracking ID", "tracking_id")


def _notification(c: _Ctx) -> None:
    c.field("Kanal", "channel", CHANNEL_LABELS)
    kinds = c.d.get("kinds")
    if isinstance(kinds, list) and kinds:
        c.add("Isi", ", ".join(label(NOTIFICATION_LABELS, k) for k in kinds))
    c.field("Keadaan", "state", NOTIFICATION_STATE_LABELS)


def _notification_held(c: _Ctx) -> None:
    _notification(c)
    if c.d.get("reason"):
        c.add("Alasan", str(c.d["reason"]))


REDELIVERY_STEPS = {"retry": "ulang lewat kanal yang sama", "fallback": "lewat kanal lain"}


def _redelivery(c: _Ctx) -> None:
    c.field("Kanal", "channel", CHANNEL_LABELS)
    c.field("Cara", "step", REDELIVERY_STEPS)
    wait = c.d.get("wait_s")
    if isinstance(wait, int | float) and wait > 0:
        c.add("Setelah", f"{wait / 60:g} menit")


def _written_back(c: _Ctx) -> None:
    _legacy_row(c)
    wrote = c.d.get("wrote")
    if isinstance(wrote, list):
        c.add("Ditulis", ", ".join(str(w) for w in wrote) or "tidak ada yang baru")


def _write_back_skipped(c: _Ctx) -> None:
    _legacy_row(c)
    if c.d.get("reason") == "legacy_row_deleted":
        c.add("Alasan", "baris formulir lama sudah dihapus")
    else:
        c.field("Alasan", "reason")


def _identity(c: _Ctx) -> None:
    via = c.d.get("via")
    c.add(
        "Lewat",
        {"cli": "baris perintah"}.get(str(via), via)
        if via
        else ("API" if c.has("token") else None),
    )


def _job_dead(c: _Ctx) -> None:
    c.job()
    c.field("Percobaan", "attempts")
    c.field("Galat", "error")


def _job_retried(c: _Ctx) -> None:
    c.job()
    c.field("Galat terakhir", "last_error")


def _job_discarded(c: _Ctx) -> None:
    c.job()
    c.field("Alasan", "reason")


_DETAILS: dict[str, Callable[[_Ctx], None]] = {
    EventKind.COMPLAINT_INGESTED: _ingested,
    EventKind.COMPLAINT_LINKED: _linked,
    EventKind.REPORTER_REPLIED: _reporter_replied,
    EventKind.REPORTER_REPLY_UNVERIFIED: _reply_unverified,
    EventKind.REPORTER_REPLY_ACCEPTED: _reply_reviewed,
    EventKind.REPORTER_REPLY_REJECTED: _reply_reviewed,
    EventKind.LEGACY_FORM_UPDATED: _legacy_updated,
    EventKind.LEGACY_ROW_DELETED: _legacy_row,
    EventKind.LAPOR_PUSHED: _pushed,
    EventKind.LAPOR_REJECTED: _rejected,
    EventKind.LAPOR_ATTACHMENT_REFUSED: _attachment_refused,
    EventKind.REPORTER_REPLY_SENT: _reply_sent,
    EventKind.LAPOR_STATUS_CHANGED: _status_changed,
    EventKind.LAPOR_DISPOSED: _disposed,
    EventKind.FOLLOWUP_RECEIVED: _followup,
    EventKind.LAPOR_INFO_REQUESTED: _followup,
    EventKind.LAPOR_RECLASSIFIED: _reclassified,
    EventKind.LAPOR_RATED: _rated,
    EventKind.MESSAGE_JUDGED: _judged,
    EventKind.LAPOR_DELETED: _deleted,
    EventKind.LAPOR_EVENT_RECEIVED: _lapor_other,
    EventKind.SLA_BREACHED: _sla,
    EventKind.CLOSED_WITHOUT_REAL_FOLLOWUP: _closed_without,
    EventKind.NOTIFICATION_SENT: _notification,
    EventKind.NOTIFICATION_FAILED: _notification,
    EventKind.NOTIFICATION_HELD: _notification_held,
    EventKind.NOTIFICATION_REDELIVERY_PLANNED: _redelivery,
    EventKind.FORM_WRITTEN_BACK: _written_back,
    EventKind.FORM_WRITE_BACK_SKIPPED: _write_back_skipped,
    EventKind.IDENTITY_REVEALED: _identity,
    EventKind.JOB_DEAD: _job_dead,
    EventKind.JOB_RETRIED: _job_retried,
    EventKind.JOB_DISCARDED: _job_discarded,
}


ACTOR_LABELS = {"system": "sistem", "lapor": "LAPOR!", "cli": "baris perintah", "api": "API"}
ACTOR_PREFIXES = {"source:": "kanal", "operator:": "operator", "dasbor:": "dasbor"}


def actor_label(actor: Any) -> str:
    """``system``, ``source:sms-1``, ``operator:budi`` as an administrator would say them."""
    if not actor:
        return "-"
    text = str(actor)
    for prefix, word in ACTOR_PREFIXES.items():
        if text.startswith(prefix):
            return f"{word} {text[len(prefix) :]}"
    return ACTOR_LABELS.get(text, text)
