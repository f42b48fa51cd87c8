"""A legacy form row as a raw item's bytes, and back, and into a complaint draft. Pure.

The raw payload keeps every column *as read*: bytes are written as latin-1 code points (a
lossless byte-per-character escape that JSON can carry), dates as ISO text, zero dates as the
string the driver returned. Parsing reads only this payload, so a quarantined row can be
re-parsed after a fix without touching the old database again.
"""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import json
import re
from functools import lru_cache
from typing import Any

from connectors.base.errors import InvalidInput
from connectors.base.text import check_nik, clean_text, normalize_phone
from connectors.forms.options import SqlTableOptions
from connectors.forms.text import decode_legacy, parse_legacy_date, strip_html
from schemas.complaint import (
    AttachmentDraft,
    Channel,
    ComplaintDraft,
    ComplaintStatus,
    LegacyResponse,
    LegacyUpdate,
    Location,
    Reporter,
)

PAYLOAD_VERSION = 1
# Pure and slow (phonenumbers): the same reporters complain again and again in an archive.
_phone = normalize_phone  # cached in aggregator.intake.normalize
_nik_ok = lru_cache(maxsize=65536)(check_nik)
_FAKEPATH = re.compile(r"^[A-Za-z]:\\fakepath\\", re.IGNORECASE)
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def encode_value(value: Any) -> tuple[Any, str]:
    if value is None:
        return None, "z"
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).decode("latin-1"), "b"
    if isinstance(value, dt.datetime):
        return value.isoformat(), "t"
    if isinstance(value, dt.date):
        return value.isoformat(), "d"
    if isinstance(value, bool | int | float):
        return value, "n"
    if isinstance(value, decimal.Decimal):
        return str(value), "x"
    return str(value), "s"


def decode_value(value: Any, typ: str) -> Any:
    if typ == "b":
        return value.encode("latin-1")
    if typ == "t":
        return dt.datetime.fromisoformat(value)
    if typ == "d":
        return dt.date.fromisoformat(value)
    if typ == "x":
        return decimal.Decimal(value)
    return value


def encode_columns(row: dict[str, Any]) -> tuple[dict[str, Any], str]:
    cols: dict[str, Any] = {}
    types: list[str] = []
    for k, v in row.items():
        cols[k], t = encode_value(v)
        types.append(t)
    return cols, "".join(types)


def decode_columns(cols: dict[str, Any], types: str) -> dict[str, Any]:
    return {k: decode_value(v, t) for (k, v), t in zip(cols.items(), types, strict=True)}


def encode_row(
    table: str,
    row_id: Any,
    row: dict[str, Any],
    responses: list[dict[str, Any]] | None = None,
    photo: dict[str, Any] | None = None,
    kind: str = "row",
    **extra: Any,
) -> bytes:
    cols, types = encode_columns(row)
    doc: dict[str, Any] = {
        "v": PAYLOAD_VERSION,
        "kind": kind,
        "table": table,
        "id": row_id,
        "cols": cols,
        "types": types,
        **extra,
    }
    if responses is not None:
        doc["responses"] = [
            dict(zip(("cols", "types"), encode_columns(r), strict=True)) for r in responses
        ]
    if photo is not None:
        doc["photo"] = photo
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode()


def decode_payload(payload: bytes) -> dict[str, Any]:
    try:
        doc = json.loads(payload)
        doc["row"] = decode_columns(doc["cols"], doc["types"])
        doc["response_rows"] = [
            decode_columns(r["cols"], r["types"]) for r in doc.get("responses") or []
        ]
    except (ValueError, KeyError, TypeError) as exc:
        raise InvalidInput(f"payload is not a form row: {exc}") from exc
    return doc


def photo_name(ref: str) -> str | None:
    """The file name an old form stored: ``C:\\fakepath\\x.jpg`` (what browsers send for a
    file input) becomes ``x.jpg``; empty and ``-`` mean no photo."""
    ref = ref.strip()
    if not ref or ref in ("-", "0", "null", "NULL"):
        return None
    ref = _FAKEPATH.sub("", ref)
    return ref


def _text(
    row: dict[str, Any],
    col: str | None,
    charset: str | None = None,
) -> tuple[str | None, tuple[str, ...]]:
    if col is None or row.get(col) is None:
        return None, ()
    text, flags = decode_legacy(row[col], charset)
    text = clean_text(text)
    return (text or None), flags


def _status(opts: SqlTableOptions, raw: Any) -> tuple[str | None, str | None, tuple[str, ...]]:
    """(raw value, our status, flags)."""
    if raw is None:
        return None, None, ()
    text = raw.decode("latin-1") if isinstance(raw, bytes) else str(raw)
    key = text.strip().lower()
    flags: tuple[str, ...] = ()
    if key == "":
        flags = ("status_empty",)  # an enum value MySQL stored as '' (not in the list)
    mapped = opts.status_map.get(key, opts.status_map.get(text))
    if mapped is None:
        return text, None, (*flags, "status_unmapped")
    try:
        ComplaintStatus(mapped)
    except ValueError:
        return text, None, (*flags, "status_unmapped")
    return text, mapped, flags


def thread_key(table: Any, row_id: Any) -> str:
    """How a complaint remembers the form row it came from (``ComplaintDraft.thread_keys``)."""
    return f"form-row:{table}:{row_id}"


def row_to_update(
    opts: SqlTableOptions,
    doc: dict[str, Any],
    received_at: dt.datetime,
) -> LegacyUpdate:
    """A re-scan's ``update`` item: the row's status now and the staff responses it has."""
    table, rid = doc.get("table"), doc.get("id")
    key = thread_key(table, rid)
    # Items stored before ``deleted`` was written carry a deleted row as no columns at all.
    if doc.get("deleted") or not doc.get("cols"):
        return LegacyUpdate(form_table=str(table), row_id=str(rid), thread_key=key, deleted=True)
    f = opts.fields
    raw, mapped, _ = _status(opts, doc["row"].get(f.status) if f.status else None)
    wb = opts.write_back
    echoes = tuple(
        s for s, v in wb.status_values.items() if wb.enabled and raw is not None and v == raw
    )
    responses: tuple[LegacyResponse, ...] = ()
    if opts.responses is not None:
        responses = tuple(
            LegacyResponse(id=str(r["id"]), at=r["at"], text=r["text"])
            for r in (
                _response(opts, row, received_at, doc.get("responses_charset"))
                for row in doc.get("response_rows", [])
            )
        )
    return LegacyUpdate(
        form_table=str(table),
        row_id=str(rid),
        thread_key=key,
        status_raw=raw,
        status=mapped,
        responses=responses,
        write_back_statuses=echoes,
    )


def row_to_draft(
    opts: SqlTableOptions,
    doc: dict[str, Any],
    received_at: dt.datetime,
) -> ComplaintDraft | LegacyUpdate:
    if doc.get("kind") == "update":
        return row_to_update(opts, doc, received_at)
    row: dict[str, Any] = doc["row"]
    f = opts.fields
    flags: list[str] = []
    notes: list[str] = []

    cs = doc.get("charset")
    raw_content = row.get(f.content)
    content, fl = decode_legacy(raw_content, cs)
    flags += fl
    content, fl = strip_html(content)
    flags += fl
    content = clean_text(content)
    if not content:
        why = "isi laporan kosong" if not fl else "isi laporan hanya berisi HTML/skrip"
        raise InvalidInput(why)
    if "truncated_at_text_limit" in flags or "truncated_multibyte" in flags:
        notes.append("teks terpotong di batas 65.535 byte kolom TEXT")

    title, fl = _text(row, f.title, cs)
    flags += fl
    if title:
        title, fl = strip_html(title)
        title = clean_text(title)[:150] or None
        flags += fl

    submitted_at, occurred_on = None, None
    if f.submitted_at is not None:
        submitted_at, occurred_on, fl, note = parse_legacy_date(
            row.get(f.submitted_at), opts.date_formats, opts.timezone, received_at
        )
        flags += fl
        if note:
            notes.append(note)

    raw_status, mapped, fl = _status(opts, row.get(f.status) if f.status else None)
    flags += fl
    if "status_unmapped" in fl:
        notes.append(f"status lama tidak dikenal: {raw_status!r}")

    name, _ = _text(row, f.name, cs)
    phone_raw, _ = _text(row, f.phone, cs)
    nik_text, _ = _text(row, f.nik, cs)
    email, _ = _text(row, f.email, cs)
    nik = re.sub(r"\D", "", nik_text or "") or None
    if email and not _EMAIL.match(email):
        flags.append("email_invalid")
        email = None
    reporter = Reporter(
        name=name,
        email=email,
        phone=_phone(phone_raw),
        phone_raw=phone_raw,
        nik=nik,
        nik_valid=_nik_ok(nik) if nik else None,
    )
    if nik and not reporter.nik_valid:
        flags.append("nik_invalid")
    if f.orphan_check is not None and row.get(f.orphan_check) is None:
        flags.append("orphan_row")
        notes.append("pelapor tidak ditemukan di tabel masyarakat")

    address, _ = _text(row, f.address, cs)
    category, _ = _text(row, f.category, cs)
    location = None
    lat, lon = _number(row, f.lat), _number(row, f.lon)
    if address or lat is not None or lon is not None:
        bad_lat = lat is not None and not -90 <= lat <= 90
        if bad_lat or (lon is not None and not -180 <= lon <= 180):
            flags.append("location_invalid")
            lat = lon = None
        location = Location(address=address, lat=lat, lon=lon)

    attachments: list[AttachmentDraft] = []
    photo = doc.get("photo")
    if photo:
        if photo.get("status") == "ok":
            attachments.append(
                AttachmentDraft(
                    filename=photo["name"],
                    content_type=photo["content_type"],
                    data=base64.b64decode(photo["b64"]),
                    note=photo.get("note"),
                )
            )
        else:
            flags.append(f"photo_{photo.get('status')}")
            notes.append(f"foto tidak diambil: {photo.get('status')}")

    responses = [
        _response(opts, r, received_at, doc.get("responses_charset"))
        for r in doc.get("response_rows", [])
    ]
    origin: dict[str, Any] = {
        "form_table": doc.get("table"),
        "row_id": doc.get("id"),
        "legacy_status_raw": raw_status,
    }
    if responses:
        origin["legacy_responses"] = responses
    if photo:
        origin["photo_ref"] = photo.get("ref")
    return ComplaintDraft(
        channel=Channel.WEB,
        content=content,
        title=title,
        submitted_at=submitted_at,
        occurred_on=occurred_on,
        location=location,
        reporter=reporter,
        attachments=tuple(attachments),
        category_hint=category,
        origin=origin,
        flags=tuple(dict.fromkeys(flags)),
        notes=tuple(notes),
        legacy_status=mapped,
        thread_keys=(thread_key(doc.get("table"), doc.get("id")),),
    )


def _number(row: dict[str, Any], col: str | None) -> float | None:
    if col is None or row.get(col) in (None, b"", ""):
        return None
    v = row[col]
    try:
        return float(v.decode("latin-1") if isinstance(v, bytes) else v)
    except (TypeError, ValueError):
        return None


def _response(
    opts: SqlTableOptions, r: dict[str, Any], now: dt.datetime, charset: str | None = None
) -> dict[str, Any]:
    spec = opts.responses
    assert spec is not None
    text, _ = decode_legacy(r.get(spec.text_column), charset)
    text, _ = strip_html(text)
    at = None
    if spec.date_column:
        stamp, _, _, _ = parse_legacy_date(
            r.get(spec.date_column), opts.date_formats, opts.timezone, now
        )
        at = stamp.isoformat() if stamp else None
    return {"id": r.get(spec.id_column), "at": at, "text": clean_text(text)}
