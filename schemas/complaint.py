"""The normalized complaint and everything a connector hands to intake."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Tolerant(BaseModel):
    model_config = ConfigDict(extra="ignore")


class Channel(StrEnum):
    """The citizen's original channel; equals LAPOR!'s ``source_channel`` values."""

    EMAIL = "email"
    SMS = "sms"
    WEB = "web"
    WHATSAPP = "whatsapp"
    COUNTER = "counter"
    OTHER = "other"


class Classification(StrEnum):
    PENGADUAN = "pengaduan"
    ASPIRASI = "aspirasi"
    PERMINTAAN_INFORMASI = "permintaan_informasi"


class ComplaintStatus(StrEnum):
    """Local lifecycle first, then LAPOR!'s statuses verbatim (DB enum ``complaint_status``)."""

    RECEIVED = "received"  # ingested, push queued
    MANUAL_PENDING = "manual_pending"  # on an operator's worklist (manual adapter)
    REJECTED_BY_LAPOR = "rejected_by_lapor"  # 422: operators must fix and retry
    DUPLICATE = "duplicate"  # linked to another complaint, not pushed
    HISTORY = "history"  # backfilled archive kept locally, never pushed
    BELUM_TERVERIFIKASI = "belum_terverifikasi"
    TERVERIFIKASI = "terverifikasi"
    TERDISPOSISI = "terdisposisi"
    DIPROSES = "diproses"
    DITINDAKLANJUTI = "ditindaklanjuti"
    SELESAI = "selesai"
    TERTUNDA = "tertunda"
    ARSIP = "arsip"
    BUKAN_WEWENANG = "bukan_wewenang"
    DIHAPUS = "dihapus"


LAPOR_STATUSES: frozenset[ComplaintStatus] = frozenset(
    s
    for s in ComplaintStatus
    if s.value not in {"received", "manual_pending", "rejected_by_lapor", "duplicate", "history"}
)
CLOSED_STATUSES: frozenset[ComplaintStatus] = frozenset(
    {
        ComplaintStatus.SELESAI,
        ComplaintStatus.ARSIP,
        ComplaintStatus.BUKAN_WEWENANG,
        ComplaintStatus.DIHAPUS,
        ComplaintStatus.HISTORY,
        ComplaintStatus.DUPLICATE,
    }
)


class Location(Strict):
    address: str | None = None
    kelurahan: str | None = None
    kecamatan: str | None = None
    lat: float | None = Field(default=None, ge=-90, le=90)
    lon: float | None = Field(default=None, ge=-180, le=180)


class Reporter(Strict):
    """Who wrote. Every field optional; phone is E.164 when it could be normalised."""

    name: str | None = None
    email: str | None = None
    phone: str | None = None
    phone_raw: str | None = None  # as the channel gave it (``0813…``, ``62813…``)
    nik: str | None = None
    nik_valid: bool | None = None  # structure check only; never used to reject

    def is_empty(self) -> bool:
        return not any((self.name, self.email, self.phone, self.nik))


class AttachmentDraft(Strict):
    filename: str
    content_type: str
    data: bytes = Field(repr=False)
    note: str | None = None  # e.g. "EXIF stripped", "type sniffed as image/png"


class ComplaintDraft(Strict):
    """What a connector's pure parser makes of one raw item that is a new complaint."""

    channel: Channel
    content: str
    title: str | None = None
    submitted_at: dt.datetime | None = None
    occurred_on: dt.date | None = None
    classification: Classification = Classification.PENGADUAN
    location: Location | None = None
    reporter: Reporter = Field(default_factory=Reporter)
    anonymous: bool = False
    confidential: bool = False
    attachments: tuple[AttachmentDraft, ...] = ()
    category_hint: str | None = None
    # Threading keys the channel can later recognise a reply by (e-mail Message-ID, …).
    thread_keys: tuple[str, ...] = ()
    # Channel-specific facts kept for replies and write-back (subject, form row id, …).
    origin: dict[str, Any] = Field(default_factory=dict)
    flags: tuple[str, ...] = ()  # e.g. "incomplete_multipart", "date_repaired", "mojibake_repaired"
    notes: tuple[str, ...] = ()
    # For sources that carry history (backfill): a status already reached upstream.
    legacy_status: str | None = None


class ReplyDraft(Strict):
    """A message from a reporter about an existing complaint, never a new complaint."""

    channel: Channel
    text: str
    sent_at: dt.datetime | None = None
    tracking_id: str | None = None  # ``LAPOR 1916449 …`` or ``[LAPOR! #1916449]``
    complaint_id: str | None = None  # when the channel knows it (status page form)
    in_reply_to: tuple[str, ...] = ()  # thread keys (Message-IDs) the reply names
    phone: str | None = None  # E.164 sender, for "SMS from the same number"
    email: str | None = None
    # E-mail: whether the receiving server vouched for the From address (DMARC, DKIM or SPF
    # aligned); None when the source does not ask it.
    sender_authenticated: bool | None = None
    resolved: bool | None = None  # SUDAH / BELUM
    attachments: tuple[AttachmentDraft, ...] = ()


class Ignored(Strict):
    """A raw item that is recorded but is not a complaint (auto-reply, bounce, promo SMS)."""

    kind: Literal["ignored"] = "ignored"
    reason: str
    answer: str | None = None  # a short hint to send back (e.g. usage for an empty SMS)


class LegacyResponse(Strict):
    """A response row (``tanggapan``) staff wrote in an old form's own admin pages."""

    id: str
    at: dt.datetime | None = None
    text: str


class LegacyUpdate(Strict):
    """An old form's row changed after it was imported (found by a re-scan: old forms have no
    ``updated_at``), or was deleted there. Intake applies it to the complaint the row became,
    found by ``thread_key`` within the same source."""

    kind: Literal["legacy_update"] = "legacy_update"
    form_table: str
    row_id: str
    thread_key: str  # ``form-row:<table>:<id>``, as the row's ComplaintDraft.thread_keys
    deleted: bool = False
    status_raw: str | None = None  # the old form's status value as stored
    status: str | None = None  # mapped through the source's status_map; None if unmapped
    # Every response staff wrote there, without the ones satukanal wrote back (the source
    # leaves those out, or they would come back as news); intake keeps the ones it lacks.
    responses: tuple[LegacyResponse, ...] = ()
    # Our statuses whose write-back writes exactly ``status_raw`` (empty without write-back):
    # a change to that value while the complaint is in one of them agrees with LAPOR!.
    write_back_statuses: tuple[str, ...] = ()


Parsed = ComplaintDraft | ReplyDraft | Ignored | LegacyUpdate
