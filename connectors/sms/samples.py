"""Messages as gammu-smsd stores them and as gateways push them, for the conformance suite:
a complaint, a ``LAPOR <Tracking ID>`` reply, and the two halves of a long SMS of which
only one arrived."""

from __future__ import annotations

import json
from typing import Any

from connectors.base import RawItem
from connectors.base.conformance import ConformanceSamples

COMPLAINT = (
    "Lampu jalan di Jl. RTA Milono km 3 mati sudah seminggu, rawan kecelakaan "
    "malam hari. Mohon diperbaiki."
)
REPLY = "LAPOR 1916449 lampu sudah menyala lagi, terima kasih"


def _gammu_row(row_id: int, text: str, udh: str = "") -> dict[str, Any]:
    return {
        "ID": row_id,
        "SenderNumber": "+6281234567890",
        "TextDecoded": text,
        "Text": "",
        "Coding": "Default_No_Compression",
        "UDH": udh,
        "RecipientID": "modem1",
        "ReceivingDateTime": "2025-03-03T08:15:00",
        "received_at": "2025-03-03T01:15:00+00:00",
    }


def gammu_samples() -> ConformanceSamples:
    def item(ref: str, *rows: dict[str, Any]) -> RawItem:
        return RawItem(
            source_ref=ref,
            payload=json.dumps({"rows": list(rows)}).encode(),
            content_type="application/json",
        )

    return ConformanceSamples(
        options={
            "driver": "pgsql",
            "dsn": "postgresql://smsd:pw@127.0.0.1:5432/smsd",
            "timezone": "Asia/Jakarta",
        },
        items=(
            item("gammu:1", _gammu_row(1, COMPLAINT)),
            item("gammu:2", _gammu_row(2, REPLY)),
            item("gammu:3", _gammu_row(3, "bagian pertama saja", "050003A70201")),
        ),
    )


def http_samples() -> ConformanceSamples:
    def item(ref: str, **record: Any) -> RawItem:
        base = {
            "gateway": "kannel",
            "sender": "081234567890",
            "to": "1708",
            "time": "2025-03-03T08:15:00+07:00",
            "id": ref,
            "udh": None,
        }
        return RawItem(
            source_ref=f"kannel:{ref}",
            payload=json.dumps({**base, **record}).encode(),
            content_type="application/json",
        )

    return ConformanceSamples(
        options={"secret": "gateway-secret", "timezone": "Asia/Jakarta"},
        items=(
            item("1", text=COMPLAINT),
            item("2", text=REPLY),
            item("3", text="bagian kedua saja", udh="050003A70202"),
            item("4", gateway="webhook", sender="+6281234567890", text=COMPLAINT),
        ),
    )
