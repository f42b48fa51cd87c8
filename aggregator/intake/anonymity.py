"""An anonymous reporter's words made safe for LAPOR! and the agencies, whatever the channel.

Every path by which an anonymous complaint arrives — an ``ANONIM`` SMS or WhatsApp message, a
form's checkbox, an e-mail tagged in its subject, a citizen's mail a kelurahan forwards with
"pelapor minta identitasnya dirahasiakan" — passes through :func:`redact_draft`: the phones,
NIKs and e-mail addresses typed anywhere in it, and the reporter's own name (the From header's
display name, a form's name field, a WhatsApp profile name, all of which people repeat in
their text: "saya Siti Aminah warga RT 03"), are replaced in the text, the title, the
subject kept in ``origin`` and the intake notes (a staff member's covering note often gives
the citizen's number). What it held before is returned so that intake can seal it for
administrators. Pure: no I/O.
"""

from __future__ import annotations

import re
from typing import Any

from aggregator.redact import redact_text
from schemas.complaint import ComplaintDraft

PLACEHOLDERS = {"phone": "[telepon]", "nik": "[nik]", "email": "[email]", "name": "[nama]"}

# Words of a display name that name nobody: honorifics and particles ("Bu Siti", "Ahmad bin
# Yusuf"), and what a mailer puts where a name belongs.
_NOT_A_NAME = frozenset(
    "bin binti bapak ibu pak bu mas mbak kak bang haji hajjah hj dr ir drs sh st se the dan "
    "van von de la al el pelapor warga masyarakat user admin".split()
)


def name_pattern(name: str | None) -> re.Pattern[str] | None:
    """A pattern for the name as a whole and for each of its words of three letters or more
    ("Siti Aminah": also "Bu Siti", "AMINAH"), whole words only, any case."""
    if not name:
        return None
    words = [w for w in re.findall(r"[^\W\d_]{3,}", name) if w.lower() not in _NOT_A_NAME]
    parts = [re.escape(name.strip())] if len(name.strip()) >= 3 else []
    parts += sorted({re.escape(w) for w in words}, key=len, reverse=True)
    if not parts:
        return None
    return re.compile(r"(?<![\w@.])(?:" + "|".join(parts) + r")(?![\w@])", re.IGNORECASE)


def redact_anonymous(text: str, name: re.Pattern[str] | None) -> str:
    out = redact_text(text, PLACEHOLDERS.__getitem__)
    return name.sub(PLACEHOLDERS["name"], out) if name is not None else out


def redact_draft(d: ComplaintDraft) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """For an anonymous draft: the model update that redacts it and what it held before
    (``None`` when nothing in it names anyone)."""
    name = name_pattern(d.reporter.name)
    content = redact_anonymous(d.content, name)
    title = redact_anonymous(d.title, name) if d.title else d.title
    origin = dict(d.origin)
    before: dict[str, Any] = {"title": d.title, "content": d.content}
    subject = origin.get("subject")
    if isinstance(subject, str) and subject:
        origin["subject"] = redact_anonymous(subject, name)
        if origin["subject"] != subject:
            before["subject"] = subject
    notes = origin.get("intake_notes")
    if isinstance(notes, list) and notes:
        origin["intake_notes"] = [
            redact_anonymous(n, name) if isinstance(n, str) else n for n in notes
        ]
        if origin["intake_notes"] != notes:
            before["intake_notes"] = notes
    draft_notes = tuple(redact_anonymous(n, name) for n in d.notes)
    if content == d.content and title == d.title and origin == d.origin:
        return None
    update = {"content": content, "title": title, "origin": origin, "notes": draft_notes}
    return update, before


# "From: Siti Aminah <siti@…>" / "Dari: …" in an inline forward's header block.
_QUOTED_FROM = re.compile(
    r"^[ >*]*(?:From|Dari|Sender|Reply-To)\s*\*?:\s*\"?([^\"<\n]+?)\"?\s*[<\[]",
    re.IGNORECASE | re.MULTILINE,
)
_ADDRESS_HEADERS = ("From", "Sender", "Reply-To", "To", "Cc", "Return-Path")
_SHOWN_HEADERS = (*_ADDRESS_HEADERS, "Subject", "Date", "Message-ID")


def mask_original(payload: bytes, content_type: str, names: tuple[str, ...] = ()) -> bytes:
    """An anonymous reporter's raw original as an administrator may see it: an e-mail is
    decoded (a base64 or quoted-printable body hides nothing from a pattern that is not
    run on it) and shown as its headers and texts with every phone, NIK, address and the
    names in its From headers replaced; attachments are listed by type and size only (a
    photo is its owner's GPS and camera, a file name often its owner's name). Any other
    original (a form post, an SMS, a JSON row) is shown as text, redacted the same way;
    one that is not text is withheld. ``names`` are further names to hide (the reporter
    record's)."""
    if content_type.startswith("message/"):
        return _mask_mail(payload, names)
    if content_type.startswith(("image/", "video/", "audio/")) or _binary(payload):
        return f"[withheld: {content_type}, {len(payload)} bytes]".encode()
    text = payload.decode("utf-8", "replace")
    return _mask(text, _names_pattern(names)).encode()


_MAGIC = (b"\xff\xd8\xff", b"\x89PNG", b"GIF8", b"RIFF", b"%PDF", b"PK\x03\x04", b"\x1f\x8b")


def _binary(payload: bytes) -> bool:
    return payload.startswith(_MAGIC) or b"\x00" in payload[:4096]


def _mask(text: str, name: re.Pattern[str] | None) -> str:
    """As an administrator's masked view reads: ``[phone]``, ``[nik]``, ``[email]``,
    ``[name]`` (the placeholders of the log redactor)."""
    out = redact_text(text)
    return name.sub("[name]", out) if name is not None else out


def _names_pattern(names: tuple[str, ...] | list[str]) -> re.Pattern[str] | None:
    patterns = [p for p in (name_pattern(n) for n in names) if p is not None]
    if not patterns:
        return None
    return re.compile("|".join(f"(?:{p.pattern})" for p in patterns), re.IGNORECASE)


def _mask_mail(payload: bytes, names: tuple[str, ...]) -> bytes:
    from email import message_from_bytes
    from email.header import decode_header, make_header
    from email.message import Message
    from email.policy import compat32
    from email.utils import getaddresses

    found: list[str] = list(names)
    lines: list[str] = []

    def header(value: object) -> str:
        try:
            return str(make_header(decode_header(str(value))))
        except Exception:
            return str(value)

    def walk(msg: Message, depth: int) -> None:
        for key in _SHOWN_HEADERS:
            for value in msg.get_all(key) or []:
                text = header(value)
                if key in _ADDRESS_HEADERS:
                    found.extend(n for n, _ in getaddresses([text]) if n)
                lines.append(f"{key}: {text}")
        lines.append("")
        body(msg, depth)

    def body(part: Message, depth: int) -> None:
        if depth > 10:
            return
        payload = part.get_payload()
        if part.get_content_type() == "message/rfc822" or part.is_multipart():
            for sub in payload if isinstance(payload, list) else []:
                if not isinstance(sub, Message):
                    continue
                if part.get_content_type() == "message/rfc822":
                    lines.append("[attached message]")
                    walk(sub, depth + 1)
                else:
                    body(sub, depth + 1)
            return
        emit(part)

    def emit(part: Message) -> None:
        ctype = part.get_content_type()
        data = part.get_payload(decode=True)
        data = data if isinstance(data, bytes) else str(part.get_payload()).encode()
        if ctype.startswith("text/") and part.get_content_disposition() != "attachment":
            charset = part.get_content_charset() or "utf-8"
            try:
                text = data.decode(charset, "replace")
            except LookupError:
                text = data.decode("utf-8", "replace")
            found.extend(m.group(1).strip() for m in _QUOTED_FROM.finditer(text))
            lines.append(text)
        else:
            lines.append(f"[attachment: {ctype}, {len(data)} bytes]")

    try:
        walk(message_from_bytes(payload, policy=compat32), 0)
    except Exception:  # a hostile original: withheld rather than shown unmasked
        return f"[withheld: message/rfc822, {len(payload)} bytes]".encode()
    return _mask("\n".join(lines), _names_pattern(found)).encode()
