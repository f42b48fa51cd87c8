"""Pure parsing and validation of what an old form POSTs (urlencoded or multipart).

Kept pure so the stored raw request body can be parsed again later exactly as at intake.
Validation messages are for the citizen, so they are in Bahasa Indonesia.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any
from urllib.parse import parse_qsl

import filetype

from connectors.base.errors import InvalidInput
from connectors.base.text import check_nik, clean_text, normalize_phone
from connectors.forms.options import FormHttpOptions
from connectors.forms.rows import photo_name
from connectors.forms.text import decode_legacy, strip_html
from schemas.complaint import AttachmentDraft, Channel, ComplaintDraft, Location, Reporter

_FILENAME = re.compile(r'filename="([^"]*)"', re.IGNORECASE)
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_TYPE_NAMES = {
    "image/jpeg": "JPG",
    "image/png": "PNG",
    "application/pdf": "PDF",
    "image/gif": "GIF",
    "image/webp": "WEBP",
}


def human_size(n: int) -> str:
    return f"{n / 2**20:.0f} MB" if n >= 2**20 else f"{n / 1024:.0f} KB"


class FormInvalid(InvalidInput):
    """The citizen must fix the form: ``messages`` are shown to them."""

    def __init__(self, messages: list[str]) -> None:
        super().__init__("; ".join(messages))
        self.messages = messages


@dataclass
class Upload:
    field: str
    filename: str
    data: bytes


@dataclass
class FormData:
    fields: dict[str, str] = field(default_factory=dict)
    uploads: list[Upload] = field(default_factory=list)


def _text(raw: bytes, charset: str) -> str:
    try:
        text = raw.decode(charset)
    except (UnicodeDecodeError, LookupError):
        text, _ = decode_legacy(raw)  # an old page in windows-1252, or mojibake
    return text


def parse_body(body: bytes, content_type: str, charset: str = "utf-8") -> FormData:
    ctype = content_type.split(";", 1)[0].strip().lower()
    out = FormData()
    if ctype == "application/x-www-form-urlencoded":
        # Bytes in, so a page that posts windows-1252 is decoded deliberately, not guessed.
        # latin-1 both ways is a lossless byte escape: each field's bytes are recovered
        # exactly and then decoded in the page's charset.
        pairs = parse_qsl(body.decode("latin-1"), keep_blank_values=True, encoding="latin-1")
        for k, v in pairs:
            out.fields.setdefault(
                _text(k.encode("latin-1"), "utf-8"), _text(v.encode("latin-1"), charset)
            )
        return out
    if ctype == "multipart/form-data":
        head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode()
        msg = BytesParser(policy=HTTP).parsebytes(head + body)
        if not msg.is_multipart():
            raise FormInvalid(["Data formulir rusak atau tidak lengkap."])
        for part in msg.iter_parts():
            name = part.get_param("name", header="content-disposition")
            if not name:
                continue
            payload = part.get_payload(decode=True)
            data = payload if isinstance(payload, bytes) else b""
            filename = _raw_filename(part) if part.get_filename() is not None else None
            if filename is not None:
                if data:
                    out.uploads.append(Upload(str(name), filename, data))
                continue
            pcs = part.get_content_charset() or charset
            out.fields.setdefault(str(name), _text(data, pcs))
        return out
    raise FormInvalid(["Formulir dikirim dalam bentuk yang tidak dikenali."])


def _raw_filename(part: Any) -> str:
    """The filename as sent: the e-mail parser would treat ``\\`` in ``C:\\fakepath\\x.jpg``
    (what some browsers and old scripts send) as a quoting escape and drop it."""
    raw = next((v for k, v in part.raw_items() if k.lower() == "content-disposition"), "")
    m = _FILENAME.search(str(raw))
    return m.group(1) if m else str(part.get_filename())


# The web form's version of the SMS keyword ANONIM: the reporter's identity stays with us
# (to answer them) and is not passed to LAPOR! or the agency; ``rahasia`` keeps the report
# itself from being shown publicly.
PRIVACY_CHOICES = frozenset({"biasa", "anonim", "rahasia"})


_FIELD_LABELS = {
    "content": "Isi laporan",
    "title": "Judul",
    "name": "Nama",
    "phone": "Nomor telepon",
    "nik": "NIK",
    "email": "Alamat e-mail",
    "address": "Lokasi",
}


def _num(n: int) -> str:
    return f"{n:,}".replace(",", ".")  # 65.535, as Indonesian writes it


def _over_limits(opts: FormHttpOptions, values: dict[str, str | None]) -> list[str]:
    """One message per field longer than its column in the old schema (``field_limits``)."""
    out = []
    for key, value in values.items():
        limit = opts.field_limits[key]
        if not value:
            continue
        label = _FIELD_LABELS.get(key, key)
        if key == "content":
            size = len(value.encode("utf-8"))
            if size > limit:
                out.append(
                    f"{label} paling panjang {_num(limit)} byte; kiriman Anda "
                    f"{_num(size)} byte. Persingkat atau bagi menjadi dua laporan."
                )
        elif len(value) > limit:
            out.append(
                f"{label} paling panjang {limit} karakter; kiriman Anda {len(value)} karakter."
            )
    return out


def to_draft(
    opts: FormHttpOptions, form: FormData, receipt_code: str, received_at: dt.datetime | None = None
) -> ComplaintDraft:
    """The complaint a form submission describes, or ``FormInvalid`` with every problem."""
    f = opts.fields
    errors: list[str] = []

    def get(key: str) -> str | None:
        name = f.get(key)
        value = form.fields.get(name, "") if name else ""
        value = clean_text(strip_html(value)[0])
        return value or None

    errors += _over_limits(opts, {key: get(key) for key in opts.field_limits})
    content = get("content") or ""
    if len(content) < opts.min_content_chars:
        errors.append(
            f"Isi laporan wajib diisi, paling sedikit {opts.min_content_chars} "
            "karakter, agar dapat ditindaklanjuti."
        )
    phone_raw, email, nik = get("phone"), get("email"), get("nik")
    phone = normalize_phone(phone_raw)
    if phone_raw and phone is None:
        errors.append("Nomor telepon tidak dikenali. Tulis seperti 081234567890.")
    if email and not _EMAIL.match(email):
        errors.append("Alamat e-mail tidak valid. Tulis seperti nama@contoh.id.")
    nik_digits = re.sub(r"\D", "", nik or "") or None
    if nik and (nik_digits is None or len(nik_digits) != 16):
        errors.append("NIK harus 16 angka (boleh dikosongkan).")
    attachments: list[AttachmentDraft] = []
    for up in form.uploads:
        if up.field != opts.photo_field:
            continue
        if len(up.data) > opts.max_photo_bytes:
            errors.append(f"Ukuran foto paling besar {human_size(opts.max_photo_bytes)}.")
            continue
        kind = filetype.guess(up.data)
        if kind is None or kind.mime not in opts.allowed_types:
            names = ", ".join(_TYPE_NAMES.get(t, t) for t in opts.allowed_types)
            errors.append(f"Berkas lampiran harus berupa {names}.")
            continue
        name = (photo_name(up.filename) or "foto").replace("\\", "/").rsplit("/", 1)[-1]
        attachments.append(
            AttachmentDraft(
                filename=name[:120] or "foto",
                content_type=kind.mime,
                data=up.data,
                note=f"type sniffed as {kind.mime}",
            )
        )
    privacy = (form.fields.get(opts.privacy_field) or "biasa").strip().lower()
    if privacy not in PRIVACY_CHOICES:
        errors.append("Pilihan kerahasiaan tidak dikenali: pilih biasa, anonim atau rahasia.")
    if errors:
        raise FormInvalid(errors)
    address = get("address")
    return ComplaintDraft(
        channel=Channel.WEB,
        content=content,
        title=(get("title") or None),
        submitted_at=received_at,
        reporter=Reporter(
            name=get("name"),
            email=email,
            phone=phone,
            phone_raw=phone_raw,
            nik=nik_digits,
            nik_valid=check_nik(nik_digits) if nik_digits else None,
        ),
        location=Location(address=address) if address else None,
        anonymous=privacy == "anonim",
        confidential=privacy == "rahasia",
        attachments=tuple(attachments),
        origin={"receipt_code": receipt_code},
        thread_keys=(f"receipt:{receipt_code}",),
    )
