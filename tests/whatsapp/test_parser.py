"""The pure side: recorded webhook bodies of every message type to records, records to
complaints and replies, and the template rules, without a network."""

from __future__ import annotations

import base64
import json

import pytest

from connectors.base import RawItem
from connectors.base.conventions import ChatConventions
from connectors.base.errors import InvalidInput
from connectors.whatsapp.cloud import map_error, signature_ok, template_param
from connectors.whatsapp.options import GatewayFields
from connectors.whatsapp.parser import (
    NotAWebhook,
    cloud_messages,
    cloud_statuses,
    gateway_message,
    parse_record,
)
from connectors.whatsapp.samples import cloud_webhook, text_message, tiny_jpeg
from schemas.complaint import ComplaintDraft, Ignored, ReplyDraft

C = ChatConventions()
FROM = "6281234567890"


def _one(message: dict, **kw: object) -> object:
    records = cloud_messages(cloud_webhook(message, **kw))  # type: ignore[arg-type]
    assert len(records) == 1
    return parse_record(records[0], C)


def test_text_complaint_with_profile_name_and_bsuid() -> None:
    body = cloud_webhook(
        text_message("wamid.1", FROM, "Jalan rusak di Jl. Beliang"),
        contacts=[{"profile": {"name": "Budi"}, "wa_id": FROM, "user_id": "ID.99887766"}],
    )
    rec = cloud_messages(body)[0]
    assert rec["user_id"] == "ID.99887766" and rec["name"] == "Budi"
    p = parse_record(rec, C)
    assert isinstance(p, ComplaintDraft)
    assert p.reporter.phone == "+6281234567890" and p.reporter.name == "Budi"
    assert p.channel == "whatsapp" and p.origin["maybe_reply_by_phone"]


@pytest.mark.parametrize(
    "text,kind",
    [
        ("ANONIM pungli di loket KTP kelurahan Panarung", "anon"),
        ("anonim: ada pungutan di sekolah", "anon"),
        ("LAPOR 1916452 belum ada petugas datang", "reply"),
        ("lapor #1916452 terima kasih sudah diperbaiki", "reply"),
        ("SUDAH", "yes"),
        ("belum pak", "no"),
        ("Sudah 3 bulan jalan di depan rumah kami rusak parah dan berlubang besar", "complaint"),
        ("BARU lampu jalan mati lagi di gang Mawar", "new"),
    ],
)
def test_the_sms_conventions_hold_on_whatsapp(text: str, kind: str) -> None:
    p = _one(text_message("wamid.x", FROM, text))
    if kind == "anon":
        # The profile name travels to intake, which hides it in the text and drops it.
        assert isinstance(p, ComplaintDraft) and p.anonymous
    elif kind == "reply":
        assert isinstance(p, ReplyDraft) and p.tracking_id == "1916452"
    elif kind in ("yes", "no"):
        assert isinstance(p, ReplyDraft) and p.resolved is (kind == "yes")
    elif kind == "new":
        assert isinstance(p, ComplaintDraft) and not p.origin.get("maybe_reply_by_phone")
    else:
        assert isinstance(p, ComplaintDraft) and p.origin.get("maybe_reply_by_phone")


def test_buttons_locations_and_media_records() -> None:
    button = {
        "from": FROM,
        "id": "wamid.b",
        "timestamp": "1764720000",
        "type": "interactive",
        "interactive": {
            "type": "button_reply",
            "button_reply": {"id": "BELUM", "title": "Belum selesai"},
        },
    }
    p = _one(button)
    assert isinstance(p, ReplyDraft) and p.resolved is False
    quick = {
        "from": FROM,
        "id": "wamid.q",
        "timestamp": "1764720000",
        "type": "button",
        "button": {"payload": "SUDAH", "text": "Sudah selesai"},
    }
    p = _one(quick)
    assert isinstance(p, ReplyDraft) and p.resolved is True
    loc = {
        "from": FROM,
        "id": "wamid.l",
        "timestamp": "1764720000",
        "type": "location",
        "location": {"latitude": -2.2, "longitude": 113.9, "name": "Pasar Besar"},
    }
    p = _one(loc)
    assert isinstance(p, ComplaintDraft) and p.location is not None and p.location.lat == -2.2
    img = {
        "from": FROM,
        "id": "wamid.i",
        "timestamp": "1764720000",
        "type": "image",
        "image": {"id": "555", "mime_type": "image/jpeg", "caption": "got mampet"},
    }
    rec = cloud_messages(cloud_webhook(img))[0]
    assert rec["media"][0]["id"] == "555" and rec["text"] == "got mampet"
    rec["media"][0]["data_b64"] = base64.b64encode(tiny_jpeg()).decode()
    p = parse_record(rec, C)
    assert isinstance(p, ComplaintDraft) and p.attachments[0].filename == "whatsapp_image_1.jpg"
    doc = {
        "from": FROM,
        "id": "wamid.d",
        "timestamp": "1764720000",
        "type": "document",
        "document": {
            "id": "556",
            "mime_type": "application/pdf",
            "filename": "surat_dewi_lestari.pdf",
        },
    }
    rec = cloud_messages(cloud_webhook(doc))[0]
    rec["media"][0]["data_b64"] = base64.b64encode(b"%PDF-1.4 x").decode()
    p = parse_record(rec, C)
    # The citizen's own file name (often their name) never travels on.
    assert isinstance(p, ComplaintDraft) and p.attachments[0].filename == "whatsapp_document_1.pdf"
    reaction = {
        "from": FROM,
        "id": "wamid.r",
        "timestamp": "1764720000",
        "type": "reaction",
        "reaction": {"message_id": "wamid.z", "emoji": "👍"},
    }
    assert isinstance(_one(reaction), Ignored)


def test_statuses_with_our_id_and_errors() -> None:
    body = cloud_webhook(
        statuses=[
            {
                "id": "wamid.s1",
                "status": "delivered",
                "timestamp": "1764720000",
                "recipient_id": FROM,
                "biz_opaque_callback_data": "nid-1",
            },
            {
                "id": "wamid.s2",
                "status": "failed",
                "timestamp": "1764720001",
                "recipient_id": FROM,
                "errors": [
                    {
                        "code": 131047,
                        "title": "Re-engagement message",
                        "error_data": {"details": "24 hours have passed"},
                    }
                ],
            },
        ]
    )
    s1, s2 = cloud_statuses(body)
    assert s1.notification_id == "nid-1" and s1.status == "delivered"
    assert s2.error_code == 131047 and "24 hours" in (s2.error or "")
    assert cloud_messages(body) == []


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"object": "page", "entry": []},
        {"object": 1},
        {"object": "whatsapp_business_account", "entry": "x"},
    ],
)
def test_not_a_webhook(body: dict) -> None:
    with pytest.raises(NotAWebhook):
        cloud_messages(body)


@pytest.mark.parametrize(
    "payload",
    [
        b"",
        b"[]",
        b'{"wamid": ""}',
        b'{"wamid": "x", "time": "kemarin"}',
        b'{"wamid": "x", "text": 5}',
    ],
)
def test_garbage_records_are_invalid_input(payload: bytes) -> None:
    from connectors.whatsapp.cloud import WhatsAppCloudSource
    from connectors.whatsapp.samples import cloud_samples
    from schemas.config import SourceConfig

    src = WhatsAppCloudSource(
        SourceConfig(name="wa", kind="whatsapp_cloud", options=cloud_samples().options)
    )
    with pytest.raises(InvalidInput):
        src.parse(RawItem(source_ref="wa:x", payload=payload))


def test_signature_and_error_mapping() -> None:
    body = json.dumps({"a": 1}).encode()
    import hashlib
    import hmac

    good = "sha256=" + hmac.new(b"s", body, hashlib.sha256).hexdigest()
    assert signature_ok(b"s", body, good)
    assert not signature_ok(b"s", body + b"\n", good)
    assert not signature_ok(b"s", body, None) and not signature_ok(b"s", body, "md5=x")
    from aggregator.errors import AuthError, PermanentError, TransientError

    assert isinstance(map_error(401, {"error": {"code": 190}}), AuthError)
    assert isinstance(map_error(429, {"error": {"code": 130429}}), TransientError)
    assert isinstance(map_error(400, {"error": {"code": 131047}}), PermanentError)
    assert isinstance(map_error(503, "<html>"), TransientError)
    assert template_param("a\n\tb    c", 100) == "a b c"
    assert len(template_param("kata " * 500, 60)) <= 60


def test_gateway_fields_are_configuration() -> None:
    fields = GatewayFields(
        sender="data.sender.phone", text="data.body", id="data.key.id", time="data.t", name=None
    )
    rec = gateway_message(
        {
            "data": {
                "sender": {"phone": "081234567890"},
                "body": "Banjir!",
                "key": {"id": "ABC"},
                "t": 1764720000,
            }
        },
        fields,
    )
    assert rec["from"] == "081234567890" and rec["wamid"] == "ABC" and rec["time"]
    p = parse_record(rec, C)
    assert isinstance(p, ComplaintDraft) and p.reporter.phone == "+6281234567890"
    with pytest.raises(NotAWebhook):
        gateway_message({"data": {"body": "tanpa pengirim"}}, fields)
