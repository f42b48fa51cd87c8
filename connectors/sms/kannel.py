"""Replies through Kannel's smsbox: ``/cgi-bin/sendsms`` with the right coding and a
delivery-report URL that comes back to our ``sms_http`` intake (``/dlr``).

Kannel cannot be asked "did you already send notification X?", so a send whose answer was
lost is reported as in doubt (``InDoubtError``) and the notifier decides; a send that was
refused before it left is retried or given up by status, mapped in one place.
"""

from __future__ import annotations

from urllib.parse import urlencode

import aiohttp
import structlog

from connectors.base import ConnectorContext, Origin, OutboundMessage, SendResult
from connectors.base.errors import AuthError, InDoubtError, PermanentError, TransientError
from connectors.base.text import sms_encoding, split_sms
from connectors.sms.options import KannelOptions

log = structlog.get_logger(__name__)

# Kannel dlr-mask bits: 1 delivered, 2 failed, 4 buffered, 8 SMSC accepted, 16 SMSC rejected.
DLR_MASK = 1 | 2 | 16


def map_status(status: int, body: str) -> Exception | None:
    """Kannel's sendsms answer → what to do next (None = accepted)."""
    if status in (200, 202):
        return None
    if status in (401, 403):
        return AuthError(f"Kannel refused the sendsms login ({status})")
    if status in (400, 404, 413, 414):
        return PermanentError(f"Kannel refused the message ({status}): {body[:200]}")
    return TransientError(f"Kannel answered {status}: {body[:200]}")


class KannelSink:
    def __init__(
        self,
        context: ConnectorContext,
        opts: KannelOptions,
        *,
        max_parts: int = 3,
    ) -> None:
        self.context = context
        self.opts = opts
        self.max_parts = max_parts

    def request_params(self, to: str, message: OutboundMessage) -> dict[str, str]:
        parts = split_sms(message.text, self.max_parts)
        text = "".join(parts)
        enc = sms_encoding(text)
        params = {
            "username": self.opts.username,
            "password": self.opts.password.get_secret_value(),
            "to": to,
            "text": text,
            "charset": "UTF-8",  # what we send; Kannel recodes to GSM-7 or UCS-2
            "coding": "2" if enc == "ucs2" else "0",
        }
        if self.opts.sender:
            params["from"] = self.opts.sender
        if self.opts.smsc:
            params["smsc"] = self.opts.smsc
        if self.opts.dlr_url is not None:
            q = {"nid": message.notification_id}
            if self.opts.dlr_secret is not None:
                q["secret"] = self.opts.dlr_secret.get_secret_value()
            sep = "&" if "?" in str(self.opts.dlr_url) else "?"
            # %d (the report type) and %A (the SMSC's answer) are filled in by Kannel.
            params["dlr-url"] = f"{self.opts.dlr_url}{sep}{urlencode(q)}&status=%d&answer=%A"
            params["dlr-mask"] = str(DLR_MASK)
        return params

    async def check(self) -> None:
        """Log in to sendsms without sending (``config check --connect``): with no receiver,
        Kannel answers 403 to a wrong login and 400 ("Missing receiver") to a right one."""
        params = {"username": self.opts.username, "password": self.opts.password.get_secret_value()}
        timeout = aiohttp.ClientTimeout(total=self.opts.timeout_s)
        try:
            async with self.context.require_http().get(
                str(self.opts.sendsms_url), params=params, timeout=timeout
            ) as resp:
                body = await resp.text(errors="replace")
                status = resp.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise TransientError(f"Kannel unreachable: {type(exc).__name__}: {exc}") from exc
        if status in (401, 403):
            raise AuthError(f"Kannel refused the sendsms login ({status}): {body.strip()[:200]}")
        if status >= 500 or status == 404:
            raise TransientError(f"Kannel answered {status}: {body.strip()[:200]}")

    async def send(self, origin: Origin, message: OutboundMessage) -> SendResult:
        if not origin.address:
            raise PermanentError("no phone number to answer on")
        params = self.request_params(origin.address, message)
        http = self.context.require_http()
        timeout = aiohttp.ClientTimeout(total=self.opts.timeout_s)
        try:
            async with http.get(str(self.opts.sendsms_url), params=params, timeout=timeout) as resp:
                body = await resp.text(errors="replace")
                status = resp.status
        except aiohttp.ClientConnectorError as exc:
            raise TransientError(f"Kannel unreachable: {exc}") from exc
        except (TimeoutError, aiohttp.ServerDisconnectedError, aiohttp.ClientPayloadError) as exc:
            raise InDoubtError(f"Kannel did not answer; the SMS may have gone: {exc}") from exc
        except aiohttp.ClientError as exc:
            raise TransientError(f"Kannel: {exc}") from exc
        err = map_status(status, body)
        if err is not None:
            raise err
        log.info(
            "sms_sent_to_kannel", notification_id=message.notification_id, coding=params["coding"]
        )
        return SendResult(external_id=None, delivered=None, detail=body.strip()[:200] or "accepted")

    async def close(self) -> None:
        return None
