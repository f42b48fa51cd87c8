"""The e-mail corpus (tests/data/email/*.eml), its expectations, and the generated big message."""

from __future__ import annotations

import base64
import io
import json
import os
from functools import cache
from pathlib import Path
from typing import Any

from PIL import Image

from connectors.email.parser import ParseOptions
from schemas.complaint import ComplaintDraft, Ignored, ReplyDraft

DATA = Path(__file__).resolve().parents[1] / "data" / "email"
STAFF = frozenset({"staf.walikota@kota.test", "sekretariat@kota.test"})
OPTIONS = ParseOptions(
    staff_forwarders=STAFF,
    message_id_domain="kota.test",
    max_attachment_bytes=8 * 1024 * 1024,
    max_attachments=10,
)
BIG_NAME = "30_big_attachment.eml"


@cache
def expectations() -> dict[str, dict[str, Any]]:
    data: dict[str, dict[str, Any]] = json.loads((DATA / "expectations.json").read_text("utf-8"))
    return data


@cache
def big_message() -> bytes:
    """A phone video of 10 MB (over the 8 MB test limit) plus a small photo that stays."""
    video = b"\x00\x00\x00\x20ftypisom\x00\x00\x02\x00isomiso2avc1mp41" + os.urandom(
        10 * 1024 * 1024
    )
    buf = io.BytesIO()
    Image.new("RGB", (16, 16), (1, 2, 3)).save(buf, "JPEG")

    def b64(data: bytes) -> bytes:
        enc = base64.encodebytes(data)  # 76-character lines
        return enc.replace(b"\n", b"\r\n")

    head = (
        b"From: Kurniawan <kurniawan@warga.test>\r\nTo: pengaduan@kota.test\r\n"
        b"Subject: Video balap liar tiap malam\r\nDate: Tue, 04 Mar 2025 22:10:00 +0700\r\n"
        b"Message-ID: <big-30@warga.test>\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="BIG30"\r\n\r\n'
        b"--BIG30\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
        b"Balap liar di Jl. Imam Bonjol setiap malam Minggu, video terlampir.\r\n\r\n"
        b"--BIG30\r\nContent-Type: video/mp4\r\n"
        b'Content-Disposition: attachment; filename="rekaman-cctv.mp4"\r\n'
        b"Content-Transfer-Encoding: base64\r\n\r\n"
    )
    photo = (
        b"--BIG30\r\nContent-Type: image/jpeg\r\n"
        b'Content-Disposition: attachment; filename="lokasi.jpg"\r\n'
        b"Content-Transfer-Encoding: base64\r\n\r\n"
    )
    return head + b64(video) + b"\r\n" + photo + b64(buf.getvalue()) + b"\r\n--BIG30--\r\n"


def corpus() -> dict[str, bytes]:
    found = {p.name: p.read_bytes() for p in sorted(DATA.glob("*.eml"))}
    found[BIG_NAME] = big_message()
    return dict(sorted(found.items()))


def check(name: str, result: object) -> list[str]:
    """Differences between a parse result and the expectations for ``name`` (empty = ok)."""
    exp = expectations()[name]
    errs: list[str] = []

    def want(cond: bool, msg: str) -> None:
        if not cond:
            errs.append(f"{name}: {msg}")

    kind = exp["kind"]
    if kind == "ignored":
        want(isinstance(result, Ignored), f"expected Ignored, got {type(result).__name__}")
        if isinstance(result, Ignored):
            want(result.reason == exp["reason"], f"reason {result.reason!r} != {exp['reason']!r}")
        return errs
    if kind == "reply":
        want(isinstance(result, ReplyDraft), f"expected ReplyDraft, got {type(result).__name__}")
        if not isinstance(result, ReplyDraft):
            return errs
        for s in exp.get("text_contains", []):
            want(s in result.text, f"reply text lacks {s!r}: {result.text!r}")
        for s in exp.get("text_not_contains", []):
            want(s not in result.text, f"reply text has {s!r}: {result.text!r}")
        for key in ("resolved", "tracking_id", "email"):
            if key in exp:
                want(
                    getattr(result, key) == exp[key],
                    f"{key} {getattr(result, key)!r} != {exp[key]!r}",
                )
        if "in_reply_to_contains" in exp:
            want(
                exp["in_reply_to_contains"] in result.in_reply_to,
                f"in_reply_to {result.in_reply_to}",
            )
        return errs
    if kind == "quarantined":
        errs.append(f"{name}: expected quarantine, got {type(result).__name__}")
        return errs
    want(
        isinstance(result, ComplaintDraft), f"expected ComplaintDraft, got {type(result).__name__}"
    )
    if not isinstance(result, ComplaintDraft):
        return errs
    for s in exp.get("content_contains", []):
        want(s in result.content, f"content lacks {s!r}: {result.content!r}")
    for s in exp.get("content_not_contains", []):
        want(s not in result.content, f"content has {s!r}: {result.content!r}")
    simple = {
        "title": result.title,
        "anonymous": result.anonymous,
        "confidential": result.confidential,
        "reporter_email": result.reporter.email,
        "reporter_name": result.reporter.name,
        "phone": result.reporter.phone,
        "phone_raw": result.reporter.phone_raw,
        "nik": result.reporter.nik,
        "nik_valid": result.reporter.nik_valid,
        "submitted_at": result.submitted_at,
        "thread_keys": list(result.thread_keys),
    }
    for key, got in simple.items():
        if key in exp:
            want(got == exp[key], f"{key} {got!r} != {exp[key]!r}")
    for f in exp.get("flags_contains", []):
        want(f in result.flags, f"flags {result.flags} lack {f!r}")
    notes = " | ".join(result.notes)
    for s in exp.get("notes_contains", []):
        want(s in notes, f"notes {notes!r} lack {s!r}")
    if "attachment_count" in exp:
        want(
            len(result.attachments) == exp["attachment_count"],
            f"{len(result.attachments)} attachments != {exp['attachment_count']}",
        )
    if "attachments" in exp:
        got_att = [(a.filename, a.content_type) for a in result.attachments]
        want_att = [(a["filename"], a["content_type"]) for a in exp["attachments"]]
        want(got_att == want_att, f"attachments {got_att} != {want_att}")
        for a_exp, a in zip(exp["attachments"], result.attachments, strict=False):
            if "note_contains" in a_exp:
                want(a_exp["note_contains"] in (a.note or ""), f"attachment note {a.note!r}")
            if a_exp.get("no_exif"):
                with Image.open(io.BytesIO(a.data)) as img:
                    want(
                        len(img.getexif()) == 0 and b"Exif" not in a.data,
                        "EXIF still present in attachment",
                    )
    return errs
