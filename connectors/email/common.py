"""What the IMAP and Maildir sources share: source references, parsing, the sink (SMTP or a
Maildir outbox)."""

from __future__ import annotations

import hashlib
import re
from typing import Any

from connectors.base import DeliveryReport, RawItem
from connectors.email.dsn import read_dsn
from connectors.email.parser import parse_email
from schemas.complaint import Parsed

_HEADER_END = re.compile(rb"\r?\n\r?\n")
_MESSAGE_ID = re.compile(
    rb"^Message-ID:[ \t]*(?:\r?\n[ \t]+)?(<[^<>\s]{3,400}>)", re.IGNORECASE | re.MULTILINE
)


def source_ref(raw: bytes) -> str:
    """The Message-ID, else a content hash: stable across re-pulls and UIDVALIDITY changes,
    so intake's (source, source_ref) uniqueness makes a rescan duplicate nothing."""
    end = _HEADER_END.search(raw)
    head = raw[: end.start()] if end else raw[:65536]
    m = _MESSAGE_ID.search(head)
    if m:
        return m.group(1).decode("ascii", "replace")
    return "sha256:" + hashlib.sha256(raw).hexdigest()


class MailSourceBase:
    """Parsing and the optional sink (``options.smtp`` or ``options.outbox``), made once and
    closed with the source. Subclasses set ``name``, ``options`` and ``_parse_options``."""

    name: str
    options: Any
    _parse_options: Any
    _sink: Any = None

    context: Any

    async def _report_deliveries(self, items: list[RawItem]) -> None:
        """Hand the mail server's delivery reports on our replies to the core before intake
        (which ignores them as complaints). Recording twice (a re-pull) changes nothing."""
        for item in items:
            dsn = read_dsn(item.payload)
            if dsn is None or dsn.state is None:
                continue
            await self.context.record_delivery(
                DeliveryReport(dsn.notification_id, dsn.state, dsn.detail)
            )
            self.context.log.info(
                "email_delivery_reported",
                notification_id=dsn.notification_id,
                state=dsn.state,
                status=dsn.status,
            )

    def parse(self, item: RawItem) -> Parsed:
        return parse_email(item.payload, options=self._parse_options)

    def sink(self) -> Any:
        if self._sink is None and self.options.smtp is not None:
            from connectors.email.smtp import SmtpSink

            self._sink = SmtpSink(self.options.smtp, source=self.name)
        elif self._sink is None and self.options.outbox is not None:
            from connectors.email.outbox import MaildirOutbox

            self._sink = MaildirOutbox(self.options.outbox, source=self.name)
        return self._sink

    async def _close_sink(self) -> None:
        if self._sink is not None:
            await self._sink.close()
