"""Attachments: names (RFC 2231, encoded words), types sniffed from content, limits,
dangerous types refused, EXIF stripped for anonymous reporters. Pure."""

from __future__ import annotations

import io
import re
from dataclasses import dataclass, field
from email.message import Message

import filetype
from PIL import Image, ImageOps

from connectors.email.text import decode_header_value
from schemas.complaint import AttachmentDraft

DANGEROUS_EXTENSIONS = frozenset(
    "exe scr js jse vbs vbe bat cmd com pif cpl msi msp hta jar ps1 psm1 wsf wsh lnk reg "
    "dll sys gadget application inf scf apk iso img vhd".split()
)
_DANGEROUS_MIMES = frozenset(
    {
        "application/x-msdownload",
        "application/x-dosexec",
        "application/x-executable",
        "application/vnd.microsoft.portable-executable",
        "application/x-sharedlib",
        "application/x-mach-binary",
        "application/vnd.android.package-archive",
        "application/javascript",
        "text/javascript",
        "application/x-javascript",
        "application/x-msdos-program",
        "application/hta",
        "application/x-bat",
    }
)
_EXIF_FORMATS = {
    "image/jpeg": "JPEG",
    "image/png": "PNG",
    "image/webp": "WEBP",
    "image/tiff": "TIFF",
}
_SAFE_NAME = re.compile(r"[\x00-\x1f/\\:*?\"<>|]+")


@dataclass
class AttachmentLimits:
    max_bytes: int
    max_count: int
    strip_exif: bool = False


@dataclass
class Collected:
    attachments: list[AttachmentDraft] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)


def filename_of(part: Message) -> str | None:
    try:
        name = part.get_filename()
    except Exception:  # a broken RFC 2231 parameter: fall through to the raw parameter
        name = None
    if name is None:
        raw = part.get_param("name")
        if isinstance(raw, tuple):  # RFC 2231 triple
            from email.utils import collapse_rfc2231_value

            name = collapse_rfc2231_value(raw)
        elif raw:
            name = str(raw)
    if not name:
        return None
    name = decode_header_value(name)  # encoded words inside a filename are common
    name = _SAFE_NAME.sub("_", name).strip(" .") or None
    return name[:200] if name else None


def _extension(name: str) -> str:
    return name.rsplit(".", 1)[-1].lower() if "." in name else ""


def add_part(out: Collected, part: Message, name: str | None, limits: AttachmentLimits) -> None:
    """Decode one attachment part and append it (or a note saying why it was refused)."""
    declared = part.get_content_type()
    label = name or f"lampiran-{len(out.attachments) + 1}"
    if len(out.attachments) >= limits.max_count:
        out.notes.append(f"attachment {label!r} refused: more than {limits.max_count} attachments")
        out.flags.append("attachment_refused")
        return
    encoded = part.get_payload()
    if isinstance(encoded, str) and len(encoded) * 3 // 4 > limits.max_bytes * 1.05:
        out.notes.append(f"attachment {label!r} refused: larger than {limits.max_bytes} bytes")
        out.flags.append("attachment_refused")
        return
    data = part.get_payload(decode=True)
    if not isinstance(data, bytes):
        out.notes.append(f"attachment {label!r} refused: undecodable content")
        out.flags.append("attachment_refused")
        return
    if len(data) > limits.max_bytes:
        out.notes.append(f"attachment {label!r} refused: larger than {limits.max_bytes} bytes")
        out.flags.append("attachment_refused")
        return
    kind = filetype.guess(data[:8192]) if data else None
    sniffed = kind.mime if kind is not None else None
    if (
        _extension(label) in DANGEROUS_EXTENSIONS
        or declared in _DANGEROUS_MIMES
        or (sniffed in _DANGEROUS_MIMES)
        or (kind is not None and kind.extension in DANGEROUS_EXTENSIONS)
    ):
        out.notes.append(f"attachment {label!r} refused: dangerous type ({sniffed or declared})")
        out.flags.append("attachment_dangerous")
        return
    content_type = (
        sniffed
        or (declared if declared != "application/octet-stream" else None)
        or "application/octet-stream"
    )
    note = None
    if sniffed and sniffed != declared:
        note = f"type sniffed as {sniffed} (declared {declared})"
    if name is None and kind is not None:
        label = f"{label}.{kind.extension}"
    if limits.strip_exif and content_type in _EXIF_FORMATS:
        cleaned = strip_exif(data, _EXIF_FORMATS[content_type])
        if cleaned is not None:
            data = cleaned
            note = "EXIF stripped" + (f"; {note}" if note else "")
        else:
            # An image we cannot rewrite may still carry GPS: refuse rather than leak.
            out.notes.append(f"attachment {label!r} refused: image metadata could not be removed")
            out.flags.append("attachment_refused")
            return
    out.attachments.append(
        AttachmentDraft(filename=label, content_type=content_type, data=data, note=note)
    )


def strip_exif(data: bytes, fmt: str) -> bytes | None:
    """Re-encode the image without EXIF/XMP/comments, keeping its visible orientation."""
    try:
        with Image.open(io.BytesIO(data)) as img:
            img.load()
            upright = ImageOps.exif_transpose(img) or img
            upright.info = {}
            out = io.BytesIO()
            params: dict[str, object] = {}
            if fmt == "JPEG":
                params["quality"] = 95
                if upright.mode not in ("RGB", "L", "CMYK"):
                    upright = upright.convert("RGB")
            upright.save(out, format=fmt, **params)
            return out.getvalue()
    except Exception:  # Pillow raises many types on corrupt images
        return None
