"""IMAP source: incremental by UIDVALIDITY + UID, acknowledged only after intake commits.

The cursor is ``{"uidvalidity": V, "uid": U}``: each poll takes the UIDs above ``U``. When the
server's UIDVALIDITY differs from the cursor's (a mailbox rebuilt or migrated), the folder
is rescanned from the start; items are keyed by Message-ID (or a content hash), so intake
skips what it already holds and nothing is duplicated. ``ack`` sets ``\\Seen`` or moves the
messages after the batch has committed. Fetching uses ``BODY.PEEK[]`` so reading never
marks a message seen before it is safe.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import re
import ssl
import time
from collections.abc import AsyncIterator
from typing import Any, ClassVar

import structlog
from aioimaplib import aioimaplib

from connectors.base import Batch, ConnectorContext, RawItem, load_options
from connectors.base.conformance import ConformanceSamples
from connectors.base.errors import AuthError, ConfigError, TransientError
from connectors.email.common import MailSourceBase, source_ref
from connectors.email.options import ImapOptions
from schemas.config import SourceConfig

log = structlog.get_logger(__name__)

_FETCH_HEAD = re.compile(rb"^\d+ FETCH \(")
_UID = re.compile(rb"UID (\d+)")
_INTERNALDATE = re.compile(rb'INTERNALDATE "([^"]+)"')
_UIDVALIDITY = re.compile(rb"\[UIDVALIDITY (\d+)\]")
_ATOM = re.compile(r"^[A-Za-z0-9_.\-/]+$")
_CONNECT_ATTEMPTS = 3


def _quote_mailbox(name: str) -> str:
    if _ATOM.match(name):
        return name
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _internaldate(value: bytes) -> dt.datetime | None:
    try:
        return dt.datetime.strptime(value.decode(), "%d-%b-%Y %H:%M:%S %z").astimezone(dt.UTC)
    except ValueError:
        return None


class ImapSource(MailSourceBase):
    kind: ClassVar[str] = "imap"

    options_model: ClassVar[type[ImapOptions]] = ImapOptions

    @classmethod
    def conformance_samples(cls) -> ConformanceSamples:
        """A complaint, a reply, an auto-reply, a non-e-mail (``connectors/email/samples``)."""
        from connectors.email.samples import mail_samples

        return mail_samples({"host": "imap.kota.test", "user": "pengaduan", "password": "pw"})

    def __init__(self, cfg: SourceConfig, context: ConnectorContext | None = None) -> None:
        self.cfg = cfg
        self.name: str = cfg.name
        self.context = context or ConnectorContext(source=cfg.name)
        self.options: ImapOptions = load_options(ImapOptions, cfg.name, cfg.options)
        self._parse_options = self.options.parse_options()
        self._client: aioimaplib.IMAP4 | None = None
        self._uidvalidity: int | None = None
        self._failures = 0
        self._next_attempt = 0.0
        self._log = log.bind(source=cfg.name)

    # --- connection ------------------------------------------------------------------
    async def _open(self) -> aioimaplib.IMAP4:
        o = self.options
        ctx = o.ssl_context()
        if o.tls == "implicit":
            client: aioimaplib.IMAP4 = aioimaplib.IMAP4_SSL(
                o.host, o.effective_port, timeout=o.timeout_s, ssl_context=ctx
            )
        else:
            client = aioimaplib.IMAP4(o.host, o.effective_port, timeout=o.timeout_s)
        try:
            await client.wait_hello_from_server()
            if o.tls == "starttls":
                await self._starttls(client, ctx)
            resp = await client.login(o.user, o.password.get_secret_value())
        except ssl.SSLCertVerificationError as exc:
            await self._drop(client)
            raise ConfigError(
                f"sources.{self.name}.options.ca_file: the IMAP server's "
                f"certificate is not trusted ({exc.verify_message}); name its CA "
                "in ca_file, or set verify = false on a trusted network"
            ) from exc
        except (TimeoutError, OSError, aioimaplib.AioImapException) as exc:
            await self._drop(client)
            raise TransientError(
                f"IMAP connection to {o.host}:{o.effective_port} failed: "
                f"{type(exc).__name__}: {exc}"
            ) from exc
        if resp.result != "OK":
            await self._drop(client)
            detail = b" ".join(resp.lines).decode(errors="replace")[:200]
            if "UNAVAILABLE" in detail or "INUSE" in detail:
                raise TransientError(f"IMAP server busy: {detail}")
            raise AuthError(f"IMAP login refused for the configured user: {detail}")
        await self._select(client)
        return client

    async def _starttls(self, client: aioimaplib.IMAP4, ctx: Any) -> None:
        """aioimaplib has no STARTTLS: send the command, then upgrade the transport in place."""
        proto = client.protocol
        if "STARTTLS" not in proto.capabilities:
            raise ConfigError(
                f"sources.{self.name}.options.tls: the server does not offer "
                'STARTTLS (use tls = "implicit" or "none")'
            )
        resp = await proto.execute(aioimaplib.Command("STARTTLS", proto.new_tag(), loop=proto.loop))
        if resp.result != "OK":
            raise TransientError(f"IMAP STARTTLS refused: {resp.lines!r}"[:300])
        loop = asyncio.get_running_loop()
        proto.transport = await loop.start_tls(
            proto.transport, proto, ctx, server_hostname=self.options.host
        )
        await proto.capability()  # capabilities before TLS must not be trusted

    async def _select(self, client: aioimaplib.IMAP4) -> None:
        resp = await client.select(_quote_mailbox(self.options.folder))
        if resp.result != "OK":
            raise ConfigError(
                f"sources.{self.name}.options.folder: cannot open "
                f"{self.options.folder!r} ({resp.lines!r})"[:300]
            )
        for line in resp.lines:
            m = _UIDVALIDITY.search(line) if isinstance(line, bytes) else None
            if m:
                self._uidvalidity = int(m.group(1))
        if self._uidvalidity is None:
            raise TransientError("IMAP server sent no UIDVALIDITY")

    async def _connection(self) -> aioimaplib.IMAP4:
        client = self._client
        if (
            client is not None
            and client.get_state() == aioimaplib.SELECTED
            and client.protocol.transport is not None
            and not client.protocol.transport.is_closing()  # the server hung up (BYE, restart)
        ):
            return client
        await self._disconnect()
        now = time.monotonic()
        if now < self._next_attempt:
            raise TransientError(f"IMAP reconnect backing off for {self._next_attempt - now:.0f}s")
        delay = 0.5
        for attempt in range(1, _CONNECT_ATTEMPTS + 1):
            try:
                self._client = await self._open()
                self._failures = 0
                self._next_attempt = 0.0
                return self._client
            except TransientError as exc:
                if attempt == _CONNECT_ATTEMPTS:
                    self._failures += 1
                    backoff = min(self.options.reconnect_max_s, 2.0**self._failures)
                    self._next_attempt = time.monotonic() + backoff
                    raise
                self._log.info("imap_connect_retried", attempt=attempt, error=str(exc)[:200])
                await asyncio.sleep(delay)
                delay *= 2
        raise AssertionError("unreachable")

    @staticmethod
    async def _drop(client: aioimaplib.IMAP4) -> None:
        with contextlib.suppress(Exception):
            if client.protocol is not None and client.protocol.transport is not None:
                client.protocol.transport.close()

    async def _disconnect(self) -> None:
        client, self._client = self._client, None
        if client is None:
            return
        with contextlib.suppress(Exception):
            await asyncio.wait_for(client.logout(), 5)
        await self._drop(client)

    async def _command(self, coro: Any) -> Any:
        """Run one IMAP command; a broken connection is dropped and reported as transient."""
        try:
            resp = await coro
        except (TimeoutError, OSError, aioimaplib.AioImapException) as exc:
            await self._disconnect()
            raise TransientError(f"IMAP command failed: {type(exc).__name__}: {exc}") from exc
        if resp.result != "OK":
            raise TransientError(f"IMAP command refused: {resp.lines!r}"[:300])
        return resp

    # --- the source protocol ---------------------------------------------------------
    async def check(self) -> None:
        await self._connection()

    async def pull(self, cursor: dict[str, Any] | None) -> AsyncIterator[Batch]:
        client = await self._connection()
        try:
            # Also lets the server report new mail; short, since a dead peer never answers.
            await self._command(asyncio.wait_for(client.noop(), min(10.0, self.options.timeout_s)))
        except TransientError:
            # A kept-open connection the server has since closed (idle timeout, restart):
            # reconnect once now rather than failing this poll.
            client = await self._connection()
        validity = self._uidvalidity
        last_uid = 0
        if cursor and cursor.get("uidvalidity") == validity:
            last_uid = int(cursor.get("uid") or 0)
        elif cursor and cursor.get("uidvalidity") is not None:
            self._log.warning(
                "imap_uidvalidity_changed", old=cursor.get("uidvalidity"), new=validity
            )
        resp = await self._command(client.uid_search(f"UID {last_uid + 1}:*", charset=None))
        uids = sorted(
            int(t)
            for line in resp.lines[:-1]
            if isinstance(line, bytes)
            for t in line.split()
            if t.isdigit()
        )
        uids = [u for u in uids if u > last_uid][: self.options.max_per_poll]
        size = max(1, min(self.cfg.batch_size, self.options.max_per_poll))
        for start in range(0, len(uids), size):
            chunk = uids[start : start + size]
            items = await self._fetch(client, chunk)
            await self._report_deliveries(items)
            yield Batch(
                items=items,
                cursor={"uidvalidity": validity, "uid": chunk[-1]},
                ack_token={"uidvalidity": validity, "uids": chunk},
            )

    async def _fetch(self, client: aioimaplib.IMAP4, uids: list[int]) -> list[RawItem]:
        uid_set = ",".join(str(u) for u in uids)
        resp = await self._command(client.uid("fetch", uid_set, "(UID INTERNALDATE BODY.PEEK[])"))
        items: list[RawItem] = []
        current: dict[str, Any] = {}

        def flush() -> None:
            if "body" in current and "uid" in current:
                raw = current["body"]
                items.append(
                    RawItem(
                        source_ref=source_ref(raw),
                        payload=raw,
                        received_at=current.get("date"),
                        meta={
                            "uid": current["uid"],
                            "uidvalidity": self._uidvalidity,
                            "folder": self.options.folder,
                        },
                        content_type="message/rfc822",
                    )
                )

        for line in resp.lines:
            if isinstance(line, bytearray):
                current["body"] = bytes(line)
                continue
            if _FETCH_HEAD.match(line):
                flush()
                current = {}
            if m := _UID.search(line):
                current["uid"] = int(m.group(1))
            if m := _INTERNALDATE.search(line):
                current["date"] = _internaldate(m.group(1))
        flush()
        wanted = set(uids)
        return [i for i in items if i.meta["uid"] in wanted]

    async def ack(self, batch: Batch) -> None:
        token = batch.ack_token or {}
        uids = token.get("uids") or []
        if not uids:
            return
        client = await self._connection()
        if token.get("uidvalidity") != self._uidvalidity:
            # The UIDs name other messages now; the next rescan re-pulls and intake skips them.
            self._log.warning("imap_ack_skipped_uidvalidity_changed")
            return
        uid_set = ",".join(str(u) for u in uids)
        if self.options.after == "seen":
            await self._command(client.uid("store", uid_set, "+FLAGS.SILENT", r"(\Seen)"))
            return
        target = _quote_mailbox(self.options.move_to or "")
        if client.has_capability("MOVE"):
            await self._command(client.uid("move", uid_set, target))
            return
        await self._command(client.uid("copy", uid_set, target))
        await self._command(client.uid("store", uid_set, "+FLAGS.SILENT", r"(\Deleted)"))
        if client.has_capability("UIDPLUS"):
            await self._command(client.uid("expunge", uid_set))
        else:
            await self._command(client.expunge())

    async def wait_for_new(self, timeout: float) -> None:  # noqa: ASYNC109 - the loop's hook
        """Return when the server announces new mail (IDLE) or after ``timeout`` seconds."""
        if not self.options.idle:
            await asyncio.sleep(timeout)
            return
        try:
            client = await self._connection()
        except TransientError:
            await asyncio.sleep(timeout)
            return
        if not client.has_capability("IDLE"):
            await asyncio.sleep(timeout)
            return
        done = False
        try:
            idle = await client.idle_start(timeout=timeout)
            while True:
                lines = await client.wait_server_push(timeout + 1)
                if lines == aioimaplib.STOP_WAIT_SERVER_PUSH or any(
                    isinstance(x, bytes) and (b"EXISTS" in x or b"RECENT" in x) for x in lines
                ):
                    break
            client.idle_done()
            await asyncio.wait_for(idle, 10)
            done = True
        except (TimeoutError, OSError, aioimaplib.AioImapException):
            pass
        finally:
            if not done:  # cancelled or broken in the middle of IDLE: start afresh next time
                broken, self._client = self._client, None
                if broken is not None:
                    await self._drop(broken)

    async def close(self) -> None:
        await self._disconnect()
        await self._close_sink()
