"""Webhook bodies as the Cloud API and local gateways post them, for tests and for the
conformance suite: a text complaint, an ``ANONIM`` one with a photo, a location, a
``LAPOR <Tracking ID>`` reply and a SUDAH button answer."""

from __future__ import annotations

import base64
import io
import json
from typing import Any

from connectors.base import RawItem
from connectors.base.conformance import ConformanceSamples
from connectors.whatsapp.parser import message_ref

PHONE_NUMBER_ID = "106540352242922"
WABA_ID = "102290129340398"


def tiny_jpeg(color: tuple[int, int, int] = (200, 10, 10)) -> bytes:
    """A small real JPEG: enough for the attachment path, small enough for a sample."""
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (4, 4), color).save(buf, "JPEG", quality=50)
    return buf.getvalue()


def cloud_webhook(
    *messages: dict[str, Any],
    contacts: list[dict[str, Any]] | None = None,
    statuses: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """A ``whatsapp_business_account`` webhook body around the given messages/statuses."""
    value: dict[str, Any] = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "6281100001708", "phone_number_id": PHONE_NUMBER_ID},
    }
    if messages:
        value["contacts"] = contacts or [
            {"profile": {"name": "Rina"}, "wa_id": str(messages[0].get("from", ""))}
        ]
        value["messages"] = list(messages)
    if statuses:
        value["statuses"] = statuses
    return {
        "object": "whatsapp_business_account",
        "entry": [{"id": WABA_ID, "changes": [{"field": "messages", "value": value}]}],
    }


def text_message(wamid: str, sender: str, body: str, ts: int = 1764720000) -> dict[str, Any]:
    return {
        "from": sender,
        "id": wamid,
        "timestamp": str(ts),
        "type": "text",
        "text": {"body": body},
    }


COMPLAINT = (
    "Assalamualaikum pak, lampu jalan di Jl. G. Obos XII depan masjid mati sdh 2 "
    "minggu, gelap bgt kalau malam. Tlg diperbaiki 🙏"
)
REPLY = "LAPOR 1916452 sampai hari ini lampunya belum menyala"


def _record(**fields: Any) -> RawItem:
    base: dict[str, Any] = {
        "api": "cloud",
        "from": "6281234567890",
        "user": None,
        "name": "Rina",
        "time": "2025-12-03T01:20:00+00:00",
        "type": "text",
        "context_id": None,
        "text": None,
        "media": [],
    }
    record = {**base, **fields}
    return RawItem(
        source_ref=message_ref(str(record["wamid"])),
        payload=json.dumps(record).encode(),
        content_type="application/x-satukanal-whatsapp+json",
    )


def cloud_samples() -> ConformanceSamples:
    return ConformanceSamples(
        options={
            "graph_url": "http://127.0.0.1:9/graph",
            "phone_number_id": PHONE_NUMBER_ID,
            "access_token": "EAAG-sample-token",
            "app_secret": "sample-app-secret",
            "verify_token": "sample-verify-token",
        },
        items=(
            _record(wamid="wamid.A1", text=COMPLAINT),
            _record(
                wamid="wamid.A2",
                type="image",
                text="ANONIM ada pungli di loket KTP",
                media=[
                    {
                        "id": "m1",
                        "mime_type": "image/jpeg",
                        "kind": "image",
                        "data_b64": base64.b64encode(tiny_jpeg()).decode(),
                    }
                ],
            ),
            _record(
                wamid="wamid.A3",
                type="location",
                location={
                    "latitude": -2.21,
                    "longitude": 113.92,
                    "name": "Pasar Kahayan",
                    "address": "Jl. Tjilik Riwut",
                },
            ),
            _record(wamid="wamid.A4", text=REPLY),
            _record(
                wamid="wamid.A5",
                type="interactive",
                button={"id": "SUDAH", "title": "Sudah selesai"},
            ),
        ),
    )


def gateway_samples() -> ConformanceSamples:
    def item(ref: str, **fields: Any) -> RawItem:
        record = {
            "api": "gateway",
            "wamid": ref,
            "from": "081234567890",
            "user": None,
            "name": None,
            "time": "2025-12-03T08:20:00+07:00",
            "type": "text",
            "context_id": None,
            "text": None,
            "media": [],
            **fields,
        }
        return RawItem(
            source_ref=f"wa:{ref}",
            payload=json.dumps(record).encode(),
            content_type="application/x-satukanal-whatsapp+json",
        )

    return ConformanceSamples(
        options={"secret": "gateway-shared-secret-0001"},
        items=(
            item("g1", text=COMPLAINT),
            item("g2", text=REPLY),
            item("g3", type="interactive", button={"id": "BELUM", "title": "BELUM"}),
        ),
    )
