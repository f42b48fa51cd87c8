"""Delivery status notifications (RFC 3464) read back from the mailbox, onto notifications.

Our replies carry ``Message-ID: <notif-<uuid>@satukanal.<domain>>`` and, where the server
offers DSN, ask for a report on success and failure. The mail server's answer comes back to
``from_address`` — the mailbox the e-mail source reads — as ``multipart/report;
report-type=delivery-status``. ``read_dsn`` finds which notification it speaks of and what
became of it; the source hands that to the core (``context.record_delivery``) before intake
sees the message (the parser ignores bounces as complaints).

``Action: failed`` → ``failed`` with the status and diagnostic; ``delivered`` → ``delivered``;
``delayed``, ``relayed`` and ``expanded`` are not final and change nothing. Addresses in
the diagnostic are masked: a notification's detail never names the citizen.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from email import message_from_bytes
from email.message import Message
from email.policy import compat32
from typing import Literal

_NOTIF = re.compile(
    r"<notif-([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-"
    r"[0-9a-fA-F]{12})@satukanal\.[^<>\s]+>"
)
_OWN_ID = re.compile(
    r"^Message-ID:[ \t]*(?:\r?\n[ \t]+)?" + _NOTIF.pattern, re.IGNORECASE | re.MULTILINE
)
_ADDRESS = re.compile(r"[\w.+'-]+@[\w-]+(?:\.[\w-]+)+")
_SPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class Dsn:
    notification_id: str
    action: str  # failed | delayed | delivered | relayed | expanded
    status: str | None
    diagnostic: str | None

    @property
    def state(self) -> Literal["delivered", "failed"] | None:
        if self.action == "failed":
            return "failed"
        if self.action == "delivered":
            return "delivered"
        return None

    @property
    def detail(self) -> str:
        text = f"dsn {self.action} {self.status or '?'}"
        if self.diagnostic:
            text += f": {self.diagnostic}"
        return text[:500]


def mask_addresses(text: str) -> str:
    """The text with every e-mail address replaced by ``<alamat>``, spaces collapsed."""
    return _SPACE.sub(" ", _ADDRESS.sub("<alamat>", text)).strip()


def _fields(part: Message) -> list[Message]:
    payload = part.get_payload()
    if isinstance(payload, list):
        return [p for p in payload if isinstance(p, Message)]
    # Some servers send the status fields as an unparsed body.
    raw = part.get_payload(decode=True)
    if not isinstance(raw, bytes):
        return []
    return [
        message_from_bytes(block.strip() + b"\n", policy=compat32)
        for block in re.split(rb"\r?\n\r?\n", raw)
        if block.strip()
    ]


def read_dsn(raw: bytes) -> Dsn | None:
    """The DSN's word on one of our notifications, or None (not a DSN, or not about ours)."""
    head = raw[:65536].lower()
    if b"multipart/report" not in head or b"delivery-status" not in raw.lower():
        return None
    msg = message_from_bytes(raw, policy=compat32)
    if msg.get_content_type() != "multipart/report":
        return None
    action = status = diagnostic = None
    nid: str | None = None
    for part in msg.walk():
        ctype = part.get_content_type()
        if ctype in ("message/delivery-status", "message/global-delivery-status"):
            for block in _fields(part):
                if block.get("Action") and action is None:
                    action = str(block["Action"]).strip().lower()
                    status = str(block.get("Status") or "").strip() or None
                    diag = block.get("Diagnostic-Code")
                    diagnostic = mask_addresses(str(diag))[:300] if diag else None
        elif ctype in ("message/rfc822", "text/rfc822-headers", "message/rfc822-headers"):
            if nid is None:
                text = part.as_string()
                if m := _OWN_ID.search(text):
                    nid = m.group(1).lower()
    if action is None or nid is None:
        return None
    return Dsn(nid, action, status, diagnostic)
