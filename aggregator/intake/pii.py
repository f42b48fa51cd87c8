"""Identity protection at intake: encrypt reporters, strip what would betray the anonymous."""

from __future__ import annotations

import io
import uuid
from dataclasses import dataclass

from aggregator.crypto import Crypto
from aggregator.intake.normalize import normalize_phone
from schemas.complaint import AttachmentDraft, Reporter


@dataclass(frozen=True)
class SealedReporter:
    id: uuid.UUID
    key_id: str
    name_enc: bytes | None
    email_enc: bytes | None
    phone_enc: bytes | None
    nik_enc: bytes | None
    email_hash: bytes | None
    phone_hash: bytes | None
    nik_hash: bytes | None
    nik_valid: bool | None


def phone_key(phone: str | None) -> str | None:
    """The form a phone is matched in: E.164 when it parses, else as given."""
    return normalize_phone(phone) or phone


def seal(crypto: Crypto, reporter: Reporter) -> SealedReporter:
    return SealedReporter(
        id=uuid.uuid4(),
        key_id=crypto.current_id,
        name_enc=crypto.encrypt("name", reporter.name),
        email_enc=crypto.encrypt("email", reporter.email),
        phone_enc=crypto.encrypt("phone", reporter.phone or reporter.phone_raw),
        nik_enc=crypto.encrypt("nik", reporter.nik),
        email_hash=crypto.match_hash("email", reporter.email),
        phone_hash=crypto.match_hash("phone", phone_key(reporter.phone or reporter.phone_raw)),
        nik_hash=crypto.match_hash("nik", reporter.nik),
        nik_valid=reporter.nik_valid,
    )


def strip_exif(att: AttachmentDraft) -> AttachmentDraft:
    """Re-encode JPEG/PNG without metadata: an anonymous reporter's photo must not carry
    GPS position, camera serial or owner name (the JAKI leak)."""
    if att.content_type not in ("image/jpeg", "image/png"):
        return att
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(att.data)) as img:
            if not img.info.get("exif") and not getattr(img, "getexif", lambda: {})():
                return att
            clean = Image.new(img.mode, img.size)
            clean.putdata(list(img.getdata()))
            out = io.BytesIO()
            clean.save(
                out, format="JPEG" if att.content_type == "image/jpeg" else "PNG", quality=92
            )
    except (UnidentifiedImageError, OSError, ValueError):
        return att
    note = "; ".join(filter(None, [att.note, "metadata removed for anonymity"]))
    return att.model_copy(update={"data": out.getvalue(), "note": note})
