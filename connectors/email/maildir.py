"""Maildir source: a local Maildir folder, new/ → cur/ after intake commits (the demo uses it).

A message is pulled from ``new/`` and, once its batch has committed, renamed into ``cur/``
with the ``S`` (seen) flag, as a mail client would. A crash between commit and rename
re-pulls the file and intake skips it by its Message-ID (or content hash).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, ClassVar

import structlog

from connectors.base import Batch, ConnectorContext, RawItem, load_options
from connectors.base.conformance import ConformanceSamples
from connectors.base.errors import ConfigError, TransientError
from connectors.email.common import MailSourceBase, source_ref
from connectors.email.options import MaildirOptions
from schemas.config import SourceConfig

log = structlog.get_logger(__name__)


class MaildirSource(MailSourceBase):
    kind: ClassVar[str] = "maildir"

    options_model: ClassVar[type[MaildirOptions]] = MaildirOptions

    @classmethod
    def conformance_samples(cls) -> ConformanceSamples:
        """A complaint, a reply, an auto-reply, a non-e-mail (``connectors/email/samples``)."""
        from connectors.email.samples import mail_samples

        return mail_samples({"path": "/var/mail/pengaduan"})

    def __init__(self, cfg: SourceConfig, context: ConnectorContext | None = None) -> None:
        self.cfg = cfg
        self.name: str = cfg.name
        self.context = context or ConnectorContext(source=cfg.name)
        self.options: MaildirOptions = load_options(MaildirOptions, cfg.name, cfg.options)
        self._parse_options = self.options.parse_options()

    @property
    def root(self) -> Path:
        return self.options.path

    async def check(self) -> None:
        for sub in ("new", "cur", "tmp"):
            if not (self.root / sub).is_dir():
                raise ConfigError(
                    f"sources.{self.name}.options.path: {self.root} is not a "
                    f"Maildir (no {sub}/ folder)"
                )

    def _pending(self) -> list[Path]:
        new = self.root / "new"
        try:
            entries = [e for e in os.scandir(new) if e.is_file() and not e.name.startswith(".")]
        except FileNotFoundError as exc:
            raise ConfigError(f"sources.{self.name}.options.path: {new} does not exist") from exc
        except OSError as exc:
            raise TransientError(f"cannot read {new}: {exc}") from exc
        entries.sort(key=lambda e: (e.stat().st_mtime_ns, e.name))
        return [Path(e.path) for e in entries[: self.options.max_per_poll]]

    async def pull(self, cursor: dict[str, Any] | None) -> AsyncIterator[Batch]:
        await self.check()
        files = await asyncio.to_thread(self._pending)
        size = max(1, min(self.cfg.batch_size, self.options.max_per_poll))
        for start in range(0, len(files), size):
            chunk = files[start : start + size]
            items = await asyncio.to_thread(self._read, chunk)
            await self._report_deliveries(items)
            if items:
                yield Batch(
                    items=items,
                    cursor={"last": items[-1].meta["file"]},
                    ack_token=[i.meta["file"] for i in items],
                )

    def _read(self, files: list[Path]) -> list[RawItem]:
        items = []
        for path in files:
            try:
                raw = path.read_bytes()
                mtime = dt.datetime.fromtimestamp(path.stat().st_mtime, dt.UTC)
            except FileNotFoundError:
                continue  # another process took it
            items.append(
                RawItem(
                    source_ref=source_ref(raw),
                    payload=raw,
                    received_at=mtime,
                    meta={"file": path.name},
                    content_type="message/rfc822",
                )
            )
        return items

    async def ack(self, batch: Batch) -> None:
        await asyncio.to_thread(self._move_to_cur, list(batch.ack_token or []))

    def _move_to_cur(self, names: list[str]) -> None:
        for name in names:
            base = name.split(":", 1)[0]
            try:
                os.rename(self.root / "new" / name, self.root / "cur" / f"{base}:2,S")
            except FileNotFoundError:
                continue

    async def close(self) -> None:
        await self._close_sink()
