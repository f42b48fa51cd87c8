"""Pure WhatsApp parsing: webhook bodies to message records, records to complaints.

Nothing here does I/O. ``cloud_messages``/``cloud_statuses`` read the Cloud API's
``whatsapp_business_account`` webhook; ``gateway_message`` reads a local gateway's flat JSON
by the configured field paths. Both give ``Record`` dicts, the raw item's payload, which
``parse_record`` turns into a complaint draft, a reply or ``Ignored`` with the same keyword
conventions as SMS (connectors.base.conventions).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from connectors.base import RawItem
from connectors.base.conventions import ChatConventions, classify_chat
from connectors.base.errors import InvalidInput
from connectors.base.text import normalize_phone
from schemas.complaint import (
    AttachmentDraft,
    Channel,
    Ignored,
    Location,
    Parsed,
    ReplyDraft,
)

MEDIA_TYPES = ("image", "document", "audio", "video", "sticker")
# Button ids our own messages carry (solved question): the answer, whatever the label says.
BUTTON_YES, BUTTON_NO = "SUDAH", "BELUM"
Record = dict[str, Any]


class NotAWebhook(ValueError):
    """The body is not a WhatsApp webhook we understand (answered 400, never stored)."""


@dataclass(frozen=True)
class StatusUpdate:
    """One ``statuses[]`` entry: what became of a message we sent."""

    wamid: str
    status: str  # sent | delivered | read | failed | deleted
    notification_id: str | None  # our id, echoed in biz_opaque_callback_data
    recipient: str | None
    at: dt.datetime | None
    error_code: int | None = None
    error: str | None = None


def _ts(value: Any) -> dt.datetime | None:
    try:
        return dt.datetime.fromtimestamp(int(str(value)), dt.UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return None


def _iso(t: dt.datetime | None) -> str | None:
    return t.isoformat() if t else None


def _changes(body: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    if body.get("object") != "whatsapp_business_account" or not isinstance(body.get("entry"), list):
        raise NotAWebhook("not a whatsapp_business_account webhook (object/entry missing)")
    out: list[Mapping[str, Any]] = []
    for entry in body["entry"]:
        for change in (entry or {}).get("changes") or []:
            value = (change or {}).get("value")
            if isinstance(value, dict) and (change.get("field") in (None, "messages")):
                out.append(value)
    return out


def cloud_messages(body: Mapping[str, Any]) -> list[Record]:
    """Every user message in a Cloud API webhook, as records (media not yet downloaded:
    ``media[].id`` is the platform's media id)."""
    records: list[Record] = []
    for value in _changes(body):
        contacts = {
            str(c.get("wa_id") or c.get("user_id")): c
            for c in value.get("contacts") or []
            if isinstance(c, dict)
        }
        for m in value.get("messages") or []:
            if not isinstance(m, dict) or not m.get("id"):
                continue
            sender = str(m.get("from") or m.get("from_user_id") or "")
            contact = contacts.get(sender) or {}
            rec: Record = {
                "api": "cloud",
                "wamid": str(m["id"]),
                "from": m.get("from"),
                "user_id": m.get("from_user_id") or contact.get("user_id"),
                "name": ((contact.get("profile") or {}).get("name")),
                "time": _iso(_ts(m.get("timestamp"))),
                "type": str(m.get("type") or "unknown"),
                "context_id": (m.get("context") or {}).get("id"),
                "text": None,
                "media": [],
            }
            kind = rec["type"]
            if kind == "text":
                rec["text"] = (m.get("text") or {}).get("body")
            elif kind in MEDIA_TYPES:
                media = m.get(kind) or {}
                rec["text"] = media.get("caption")
                rec["media"] = [
                    {
                        "id": media.get("id"),
                        "mime_type": media.get("mime_type"),
                        "filename": media.get("filename"),
                        "kind": kind,
                    }
                ]
            elif kind == "location":
                loc = m.get("location") or {}
                rec["location"] = {
                    k: loc.get(k) for k in ("latitude", "longitude", "name", "address")
                }
            elif kind == "interactive":
                inter = m.get("interactive") or {}
                reply = inter.get("button_reply") or inter.get("list_reply") or {}
                rec["button"] = {"id": reply.get("id"), "title": reply.get("title")}
            elif kind == "button":  # a template's quick-reply button
                b = m.get("button") or {}
                rec["button"] = {"id": b.get("payload"), "title": b.get("text")}
            elif kind == "contacts":
                rec["text"] = "(kontak dibagikan)"
            records.append(rec)
    return records


def cloud_statuses(body: Mapping[str, Any]) -> list[StatusUpdate]:
    out: list[StatusUpdate] = []
    for value in _changes(body):
        for s in value.get("statuses") or []:
            if not isinstance(s, dict) or not s.get("id"):
                continue
            errors = s.get("errors") or [{}]
            err = errors[0] if isinstance(errors[0], dict) else {}
            detail = err.get("title") or err.get("message")
            extra = (err.get("error_data") or {}).get("details")
            out.append(
                StatusUpdate(
                    wamid=str(s["id"]),
                    status=str(s.get("status") or ""),
                    notification_id=s.get("biz_opaque_callback_data"),
                    recipient=s.get("recipient_id"),
                    at=_ts(s.get("timestamp")),
                    error_code=int(err["code"]) if str(err.get("code", "")).isdigit() else None,
                    error=f"{detail}: {extra}" if detail and extra else detail,
                )
            )
    return out


def _path(data: Mapping[str, Any], path: str | None) -> Any:
    if not path:
        return None
    cur: Any = data
    for part in path.split("."):
        if not isinstance(cur, Mapping):
            return None
        cur = cur.get(part)
    return cur


def gateway_message(data: Mapping[str, Any], fields: Any) -> Record:
    """A local gateway's JSON as a record, by the configured field paths."""
    sender, msg_id = _path(data, fields.sender), _path(data, fields.id)
    if sender in (None, "") or msg_id in (None, ""):
        raise NotAWebhook(f"need {fields.sender!r} (sender) and {fields.id!r} (message id)")
    text = _path(data, fields.text)
    t = _path(data, fields.time)
    when = _ts(t) if t is not None and str(t).isdigit() else None
    if when is None and isinstance(t, str) and t:
        try:
            when = dt.datetime.fromisoformat(t.replace("Z", "+00:00"))
        except ValueError:
            when = None
    rec: Record = {
        "api": "gateway",
        "wamid": str(msg_id),
        "from": str(sender),
        "user_id": None,
        "name": _path(data, fields.name),
        "time": _iso(when),
        "type": "text",
        "context_id": None,
        "text": str(text) if text is not None else None,
        "media": [],
    }
    url = _path(data, fields.media_url)
    if url:
        rec["type"] = "media"
        rec["media"] = [
            {
                "url": str(url),
                "mime_type": _path(data, fields.media_type),
                "filename": None,
                "kind": "media",
            }
        ]
    lat, lon = _path(data, fields.latitude), _path(data, fields.longitude)
    if lat is not None and lon is not None:
        rec["type"] = "location"
        rec["location"] = {"latitude": lat, "longitude": lon, "name": None, "address": None}
    button = _path(data, fields.button)
    if button:
        rec["type"] = "interactive"
        rec["button"] = {"id": str(button), "title": str(button)}
    return rec


def phone_of(record: Mapping[str, Any]) -> str | None:
    """The sender's E.164 number (WhatsApp's ``wa_id`` is it without the plus)."""
    raw = str(record.get("from") or "").strip()
    if not raw or not re.fullmatch(r"\+?[\d\s\-]{7,20}", raw):
        return None
    return normalize_phone(raw if raw.startswith(("+", "0")) else "+" + raw)


_EXT = {
    "image/jpeg": "jpg",
    "image/png": "png",
    "image/webp": "webp",
    "application/pdf": "pdf",
    "audio/ogg": "ogg",
    "audio/mpeg": "mp3",
    "audio/mp4": "m4a",
    "audio/aac": "aac",
    "audio/amr": "amr",
    "video/mp4": "mp4",
}


def _attachments(record: Mapping[str, Any]) -> tuple[tuple[AttachmentDraft, ...], tuple[str, ...]]:
    out: list[AttachmentDraft] = []
    notes: list[str] = []
    for i, media in enumerate(record.get("media") or [], 1):
        if not isinstance(media, dict):
            continue
        if media.get("error"):
            notes.append(f"lampiran WhatsApp tidak dapat diambil: {media['error']}")
            continue
        data = media.get("data_b64")
        if not data:
            notes.append("lampiran WhatsApp belum diunduh")
            continue
        ctype = str(media.get("mime_type") or "application/octet-stream").split(";")[0].strip()
        # The citizen's own file name may carry a name; ours says only what it is.
        name = f"whatsapp_{media.get('kind') or 'media'}_{i}.{_EXT.get(ctype, 'bin')}"
        try:
            raw = base64.b64decode(data, validate=True)
        except ValueError as exc:
            raise InvalidInput(f"media {i} is not base64: {exc}") from exc
        out.append(AttachmentDraft(filename=name, content_type=ctype, data=raw))
    return tuple(out), tuple(notes)


def _location(record: Mapping[str, Any]) -> Location | None:
    loc = record.get("location")
    if not isinstance(loc, dict):
        return None
    try:
        lat, lon = float(loc["latitude"]), float(loc["longitude"])
    except (KeyError, TypeError, ValueError):
        return None
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        return None
    address = ", ".join(str(p) for p in (loc.get("name"), loc.get("address")) if p) or None
    return Location(lat=lat, lon=lon, address=address)


def message_ref(wamid: str) -> str:
    """How a WhatsApp message id is kept: a wamid is base64 of the chat's phone number and
    a message id (``wamid.HBgNNjI4MTI…`` reads ``6281…``), so storing it would store the
    citizen's number in the clear; its digest is as unique and as stable (a re-delivered
    message is still recognised) and says nothing. Support can match Meta's logs by hashing
    the wamid they show."""
    return "wa:" + hashlib.sha256(wamid.encode()).hexdigest()[:40]


def parse_item(item: RawItem, conv: ChatConventions) -> Parsed:
    """A stored raw item (its payload is a record) → complaint draft, reply or ``Ignored``."""
    try:
        record = json.loads(item.payload)
    except ValueError as exc:
        raise InvalidInput(f"not a WhatsApp message record: {exc}") from exc
    return parse_record(record, conv)


def parse_record(record: Any, conv: ChatConventions) -> Parsed:
    """One message record → complaint draft, reply, or ``Ignored``; ``InvalidInput`` when
    the record is not one of ours."""
    if not isinstance(record, dict) or not record.get("wamid"):
        raise InvalidInput("not a WhatsApp message record")
    phone = phone_of(record)
    sent_at = None
    if record.get("time"):
        try:
            sent_at = dt.datetime.fromisoformat(str(record["time"]))
        except ValueError as exc:
            raise InvalidInput(f"bad time {record['time']!r}") from exc
    kind = str(record.get("type") or "")
    if kind in ("reaction", "unsupported", "system", "ephemeral", "unknown"):
        return Ignored(reason=f"WhatsApp {kind} message")
    origin: dict[str, Any] = {
        "api": record.get("api"),
        # A digest, not the wamid: a Cloud API wamid is base64 of the citizen's number.
        "message_ref": message_ref(str(record["wamid"])),
        "inbound_at": record.get("time"),
    }
    if record.get("user"):
        origin["wa_user"] = record["user"]  # the keyed hash, never the id itself
    button = record.get("button")
    if isinstance(button, dict) and button.get("id"):
        answer = str(button["id"]).strip().upper()
        if answer in (BUTTON_YES, BUTTON_NO):
            return ReplyDraft(
                channel=Channel.WHATSAPP,
                text=str(button.get("title") or answer),
                sent_at=sent_at,
                phone=phone,
                resolved=answer == BUTTON_YES,
            )
        record = {**record, "text": str(button.get("title") or button["id"])}
    attachments, notes = _attachments(record)
    text = record.get("text")
    if text is not None and not isinstance(text, str):
        raise InvalidInput("text is not a string")
    location = _location(record)
    body = text or ""
    if not body.strip() and location is not None:
        body = "(lokasi dibagikan)" if not attachments else ""
    if not body.strip() and attachments:
        body = "(foto/berkas tanpa keterangan)"
    flags: tuple[str, ...] = ("media_missing",) if notes else ()
    return classify_chat(
        body,
        phone,
        sent_at,
        conv,
        channel=Channel.WHATSAPP,
        phone_raw=str(record.get("from") or "") or None,
        name=str(record["name"]) if record.get("name") else None,
        origin=origin,
        flags=flags,
        notes=notes,
        attachments=attachments,
        location=location,
    )
