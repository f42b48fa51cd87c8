"""Photos made safe to pass on, off the event loop and within limits.

Every photo loses its metadata before it is stored for LAPOR! (GPS position, camera serial,
owner name) unless ``privacy.keep_photo_metadata`` keeps it for named reporters; an
anonymous reporter's photo always loses it and its file name is replaced (``bukti_dewi_
lestari.jpg`` named her). Decoding is CPU work that once froze every loop for 30 s (three
12000×12000 PNGs): it runs in a worker thread, refuses images above
``privacy.image_max_pixels`` before decoding them (Pillow's decompression-bomb guard made an
error, not a warning), and one that takes longer than ``privacy.image_timeout_s`` is given
up. An image that cannot be cleaned is quarantined as an attachment; the complaint goes on.
"""

from __future__ import annotations

import io
import mimetypes
import warnings

from PIL import Image, ImageOps, UnidentifiedImageError

from schemas.complaint import AttachmentDraft

FORMATS = {"image/jpeg": "JPEG", "image/png": "PNG", "image/webp": "WEBP"}


class ImageRefused(Exception):
    """This image cannot be cleaned (too large, corrupt, not what it claims)."""


def configure_pillow(max_pixels: int) -> None:
    """Process-wide: images above ``max_pixels`` are refused wherever Pillow opens them
    (the e-mail parser's own EXIF stripping too), as an error rather than a warning."""
    Image.MAX_IMAGE_PIXELS = max_pixels
    warnings.simplefilter("error", Image.DecompressionBombWarning)


def clean_photo(att: AttachmentDraft, *, max_pixels: int) -> AttachmentDraft:
    """The photo re-encoded without metadata, upright as it was shown. Raises
    :class:`ImageRefused`. Not for the event loop."""
    fmt = FORMATS.get(att.content_type)
    if fmt is None:
        return att
    try:
        with Image.open(io.BytesIO(att.data)) as img:
            w, h = img.size
            if w * h > max_pixels:
                raise ImageRefused(f"{w}×{h} pixels is more than the {max_pixels} allowed")
            img.load()
            upright = ImageOps.exif_transpose(img) or img
            upright.info = {}
            params: dict[str, object] = {}
            if fmt == "JPEG":
                params["quality"] = 92
                if upright.mode not in ("RGB", "L", "CMYK"):
                    upright = upright.convert("RGB")
            out = io.BytesIO()
            upright.save(out, format=fmt, **params)
    except ImageRefused:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageRefused(f"more pixels than the {max_pixels} allowed ({exc})"[:300]) from exc
    except UnidentifiedImageError as exc:
        raise ImageRefused("cannot be decoded: not an image Pillow can read") from exc
    except Exception as exc:  # Pillow raises many types on corrupt or hostile images
        raise ImageRefused(f"cannot be decoded: {type(exc).__name__}: {exc}"[:300]) from exc
    note = "; ".join(filter(None, [att.note, "metadata removed"]))
    return att.model_copy(update={"data": out.getvalue(), "note": note})


def anonymous_name(att: AttachmentDraft, n: int) -> str:
    """A file name that says nothing about who took the photo."""
    ext = mimetypes.guess_extension(att.content_type) or ""
    if ext == ".jpe":
        ext = ".jpg"
    return f"lampiran-{n}{ext}"


def scrub_original(
    payload: bytes, content_type: str, swaps: list[tuple[bytes, bytes]], *, max_pixels: int
) -> bytes:
    """An anonymous reporter's raw original with its photos' metadata removed too: the
    original kept (encrypted) for administrators must not carry the GPS position either. In
    an e-mail every image part is re-encoded (base64) and the message re-serialised; in a
    form post each photo's bytes are swapped for their cleaned copy (``swaps``), as they are
    or base64 in a JSON row. Not for the event loop."""
    if content_type.startswith("message/rfc822"):
        import email
        import email.encoders
        import email.policy

        msg = email.message_from_bytes(payload, policy=email.policy.compat32)
        changed = False
        for part in msg.walk():
            if part.is_multipart():
                continue
            ctype = part.get_content_type()
            if ctype not in FORMATS:
                continue
            data = part.get_payload(decode=True)
            if not isinstance(data, bytes):
                continue
            draft = AttachmentDraft(filename="x", content_type=ctype, data=data)
            try:
                clean = clean_photo(draft, max_pixels=max_pixels).data
            except ImageRefused:
                clean = b""  # what cannot be cleaned is not kept in the original either
            del part["Content-Transfer-Encoding"]
            part.set_payload(clean)
            email.encoders.encode_base64(part)
            changed = True
        return msg.as_bytes() if changed else payload
    import base64

    for old, new in swaps:
        payload = payload.replace(old, new)
        payload = payload.replace(base64.b64encode(old), base64.b64encode(new))
    return payload
