"""Test helpers for core tests: a minimal in-test channel and a Services bundle."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any, ClassVar

import aiohttp
import asyncpg

from aggregator.errors import InvalidInput
from aggregator.wiring.services import Services
from connectors.base import Batch, RawItem
from schemas.complaint import Channel, ComplaintDraft, Ignored, Parsed, ReplyDraft, Reporter
from schemas.config import Settings, SourceConfig
from tests.support.runtime import make_services as runtime


class JsonLinesSource:
    """A channel whose raw items are JSON objects: the simplest real connector shape.

    ``{"text": …, "phone": …}`` is a complaint; ``{"reply_to": tracking, "text": …}`` a reply;
    ``{"ignore": reason}`` ignored; anything that is not JSON is invalid input."""

    kind: ClassVar[str] = "jsonlines"

    def __init__(self, cfg: SourceConfig, items: list[bytes] | None = None) -> None:
        self.cfg = cfg
        self.name = cfg.name
        self.items = items or []
        self.acked: list[Batch] = []

    async def check(self) -> None:
        return None

    async def pull(self, cursor: dict[str, Any] | None):  # type: ignore[no-untyped-def]
        pos = (cursor or {}).get("pos", 0)
        while pos < len(self.items):
            chunk = self.items[pos : pos + self.cfg.batch_size]
            raw = [RawItem(source_ref=f"line-{pos + i}", payload=b) for i, b in enumerate(chunk)]
            pos += len(chunk)
            yield Batch(items=raw, cursor={"pos": pos})

    async def ack(self, batch: Batch) -> None:
        self.acked.append(batch)

    def parse(self, item: RawItem) -> Parsed:
        try:
            data = json.loads(item.payload)
        except ValueError as exc:
            raise InvalidInput(f"not JSON: {exc}") from exc
        if "ignore" in data:
            return Ignored(reason=data["ignore"])
        if "reply_to" in data:
            return ReplyDraft(
                channel=Channel.SMS,
                text=data["text"],
                tracking_id=data["reply_to"],
                phone=data.get("phone"),
                resolved=data.get("resolved"),
            )
        return ComplaintDraft(
            channel=Channel.SMS,
            content=data["text"],
            submitted_at=dt.datetime(2026, 11, 1, tzinfo=dt.UTC),
            reporter=Reporter(phone=data.get("phone"), name=data.get("name")),
            anonymous=data.get("anonymous", False),
        )

    def sink(self) -> None:
        return None

    async def close(self) -> None:
        return None


def make_services(
    pool: asyncpg.Pool, http: aiohttp.ClientSession | None = None, settings: Settings | None = None
) -> Services:
    return runtime(pool, http, settings)
