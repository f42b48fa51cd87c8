"""Maildir outbox sink: each reply is written as a complete message into a Maildir's new/.

For sites whose mail server picks outgoing mail up from a spool folder, and for the demo,
where it shows the answers the e-mail citizens get. The message is the one the SMTP sink
would send (same headers, same threading). It is written in ``tmp/`` and renamed into
``new/``, so a reader never sees half a message. The file is named after the notification:
a retried send finds its message already there and writes nothing twice.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import re
import socket
from collections.abc import Callable

import structlog

from connectors.base import Origin, OutboundMessage, SendResult
from connectors.base.errors import ConfigError, TransientError
from connectors.email.options import OutboxOptions
from connectors.email.smtp import build_message

log = structlog.get_logger(__name__)

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


def outbox_file_name(notification_id: str) -> str:
    """Stable per notification; Maildir's ``unique.host`` shape, no ``/`` or ``:``."""
    host = _UNSAFE.sub("", socket.gethostname()) or "localhost"
    return f"notif-{_UNSAFE.sub('', notification_id) or 'x'}.{host}"


class MaildirOutbox:
    def __init__(
        self, opts: OutboxOptions, *, source: str, clock: Callable[[], dt.datetime] | None = None
    ) -> None:
        self.opts = opts
        self.source = source
        self.clock = clock or (lambda: dt.datetime.now(dt.UTC))

    async def send(self, origin: Origin, message: OutboundMessage) -> SendResult:
        msg = build_message(self.opts, origin, message, self.clock())
        name = outbox_file_name(message.notification_id)
        written = await asyncio.to_thread(self._deliver, name, msg.as_bytes())
        log.info(
            "email_written_to_outbox" if written else "email_already_in_outbox",
            source=self.source,
            kind=message.kind,
            notification_id=message.notification_id,
            file=name,
        )
        return SendResult(
            external_id=msg["Message-ID"], delivered=None, detail=f"written to {self.opts.path}"
        )

    def recognises_resend(self) -> bool:
        return True  # the file is named after the notification

    def _deliver(self, name: str, data: bytes) -> bool:
        root = self.opts.path
        where = f"sources.{self.source}.options.outbox.path"
        if not root.is_dir():
            raise ConfigError(f"{where}: {root} does not exist or is not a folder")
        final = root / "new" / name
        try:
            for sub in ("tmp", "new", "cur"):
                (root / sub).mkdir(exist_ok=True)
            if final.exists() or any((root / "cur").glob(name + ":*")):
                return False
            tmp = root / "tmp" / name
            with open(tmp, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.rename(tmp, final)
        except PermissionError as exc:
            raise ConfigError(f"{where}: cannot write into {root}: {exc}") from exc
        except OSError as exc:
            raise TransientError(f"cannot write into the outbox {root}: {exc}") from exc
        return True

    async def close(self) -> None:
        return None
