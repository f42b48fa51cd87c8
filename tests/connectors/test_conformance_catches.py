"""The conformance checks fail on the mistakes they exist for (a suite that cannot fail
proves nothing): a connector that half-declares an ability, reports only its first option
error, crashes on garbage or dials out while building."""

from __future__ import annotations

import json
import socket
from collections.abc import AsyncIterator
from typing import Any, ClassVar

import pytest
from pydantic import ValidationError

from connectors.base import (
    Batch,
    ConfigError,
    ConnectorContext,
    ConnectorOptions,
    InvalidInput,
    RawItem,
    load_options,
)
from connectors.base.conformance import (
    ConformanceSamples,
    NetworkUsed,
    check_option_errors,
    check_protocols,
    check_samples,
    network_disabled,
)
from schemas.complaint import Channel, ComplaintDraft, Parsed
from schemas.config import SourceConfig


class ChatOptions(ConnectorOptions):
    token: str
    poll_limit: int = 10


class ChatSource:
    """A well-behaved pulling connector of a made-up chat channel."""

    kind: ClassVar[str] = "chat"
    options_model: ClassVar[type[ChatOptions]] = ChatOptions

    def __init__(self, cfg: SourceConfig, context: ConnectorContext | None = None) -> None:
        self.name = cfg.name
        self.opts = load_options(ChatOptions, cfg.name, cfg.options)

    @classmethod
    def conformance_samples(cls) -> ConformanceSamples:
        text = "Jalan di depan pasar berlubang besar, mohon segera diperbaiki oleh dinas."
        return ConformanceSamples(
            options={"token": "t"},
            items=(
                RawItem("m1", json.dumps({"text": text}).encode(), content_type="application/json"),
            ),
        )

    async def check(self) -> None:
        return None

    async def pull(self, cursor: dict[str, Any] | None) -> AsyncIterator[Batch]:
        return
        yield

    async def ack(self, batch: Batch) -> None:
        return None

    def parse(self, item: RawItem) -> Parsed:
        try:
            text = json.loads(item.payload)["text"]
        except (ValueError, KeyError, TypeError) as exc:
            raise InvalidInput(str(exc)) from exc
        return ComplaintDraft(channel=Channel.OTHER, content=text)

    async def close(self) -> None:
        return None


def test_a_good_connector_passes() -> None:
    for check in (check_option_errors, check_protocols, check_samples):
        check("chat", ChatSource)


def test_half_an_ability_is_caught() -> None:
    # pull() without ack(): the core would never see it as pulling and never poll it.
    members = {k: v for k, v in vars(ChatSource).items() if k not in ("ack", "__dict__")}
    pull_only = type("PullOnly", (), members)
    with pytest.raises(AssertionError, match="Pulling only in part"):
        check_protocols("chat", pull_only)


def test_first_error_only_is_caught() -> None:
    class FirstOnly(ChatSource):
        def __init__(self, cfg: SourceConfig, context: ConnectorContext | None = None) -> None:
            try:
                ChatOptions.model_validate(cfg.options)
            except ValidationError as exc:
                err = exc.errors()[0]
                raise ConfigError(f"sources.{cfg.name}.options.{err['loc'][0]}: x") from exc

    with pytest.raises(AssertionError):
        check_option_errors("chat", FirstOnly)


def test_a_parser_crash_is_caught() -> None:
    class Crashes(ChatSource):
        def parse(self, item: RawItem) -> Parsed:
            return ComplaintDraft(channel=Channel.OTHER, content=json.loads(item.payload)["text"])

    with pytest.raises((AssertionError, ValueError, KeyError)):
        check_samples("chat", Crashes)


def test_the_network_is_disabled() -> None:
    class Dials(ChatSource):
        def __init__(self, cfg: SourceConfig, context: ConnectorContext | None = None) -> None:
            super().__init__(cfg, context)
            socket.create_connection(("127.0.0.1", 9))

    with pytest.raises(NetworkUsed):
        check_protocols("chat", Dials)
    with network_disabled(), pytest.raises(NetworkUsed):
        socket.socket().connect(("127.0.0.1", 9))
    s = socket.socket()  # restored afterwards
    s.close()
