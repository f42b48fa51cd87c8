"""The checks every connector passes, runnable by any connector package on itself.

Each check takes the connector's kind (its entry-point name) and source class, and raises
``AssertionError`` saying what is wrong. satukanal runs them over every installed entry point
(``tests/connectors/test_conformance.py``); a third-party package runs them on its own class::

    import pytest
    from connectors.base.conformance import CHECKS
    from satukanal_whatsapp import WhatsAppSource

    @pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.__name__)
    def test_conformance(check):
        check("whatsapp", WhatsAppSource)

A connector ships its samples through a class method ``conformance_samples()`` returning
``ConformanceSamples``: a complete, valid options block (building the source with it must not
touch the network) and a few real-world raw items, at least one of them a new complaint.
"""

from __future__ import annotations

import contextlib
import inspect
import socket
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from aggregator.errors import ConfigError, InvalidInput
from connectors.base.context import ConnectorContext
from connectors.base.items import RawItem
from connectors.base.options import ConnectorOptions, OptionsError
from connectors.base.protocols import (
    Answering,
    Backfilling,
    HttpIntake,
    IssuesReceipts,
    LegacyWriter,
    ProvidesJobHandlers,
    Pulling,
    Sink,
    Source,
    WaitsForNew,
    WritesBack,
)
from schemas.complaint import ComplaintDraft, Ignored, LegacyUpdate, ReplyDraft
from schemas.config import SourceConfig

NAME = "conformance"
PARSED_TYPES = (ComplaintDraft, ReplyDraft, Ignored, LegacyUpdate)
# An optional ability is all of its members or none of them: half of one is a mistake the
# core would otherwise silently ignore.
ABILITIES: dict[type, tuple[str, ...]] = {
    Pulling: ("pull", "ack"),
    WaitsForNew: ("wait_for_new",),
    HttpIntake: ("routes",),
    Answering: ("sink",),
    Backfilling: ("backfill_read_ahead", "backfill_cursor", "count_remaining"),
    IssuesReceipts: ("announces_sunset",),
    WritesBack: ("writer",),
    ProvidesJobHandlers: ("job_handlers",),
}
GARBAGE = (b"", b"\x00\xff\xfe garbage \x80", b"{}", b'{"rows": []}', b"[1, 2", b"<html>")


@dataclass(frozen=True)
class ConformanceSamples:
    options: dict[str, Any]
    items: tuple[RawItem, ...]


class NetworkUsed(AssertionError):
    pass


@contextlib.contextmanager
def network_disabled() -> Iterator[None]:
    """Any connection attempt (or name lookup) inside fails the check that made it."""

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise NetworkUsed(f"a connector touched the network: {args[1:] or kwargs}")

    saved = (
        socket.socket.connect,
        socket.socket.connect_ex,
        socket.getaddrinfo,
        socket.create_connection,
    )
    socket.socket.connect = refuse  # type: ignore[method-assign]
    socket.socket.connect_ex = refuse  # type: ignore[method-assign]
    socket.getaddrinfo = refuse
    socket.create_connection = refuse
    try:
        yield
    finally:
        connect, connect_ex, getaddrinfo, create_connection = saved
        socket.socket.connect = connect  # type: ignore[method-assign]
        socket.socket.connect_ex = connect_ex  # type: ignore[method-assign]
        socket.getaddrinfo = getaddrinfo
        socket.create_connection = create_connection


def samples_of(cls: type) -> ConformanceSamples:
    make = getattr(cls, "conformance_samples", None)  # the suite's own hook, not an ability
    assert callable(make), f"{cls.__name__} has no conformance_samples() class method"
    samples = make()
    assert isinstance(samples, ConformanceSamples), (
        "conformance_samples() must return ConformanceSamples"
    )
    return samples


def build(kind: str, cls: type, options: Mapping[str, Any]) -> Any:
    cfg = SourceConfig(name=NAME, kind=kind, options=dict(options))
    return cls(cfg, ConnectorContext(source=NAME))


def _problems(kind: str, cls: type, options: Mapping[str, Any]) -> list[str]:
    try:
        src = build(kind, cls, options)
    except OptionsError as exc:
        return exc.problems
    except ConfigError as exc:
        raise AssertionError(
            "option errors must come from connectors.base.load_options "
            f"(every problem, by key), not {exc!r}"
        ) from exc
    raise AssertionError(f"options {dict(options)!r} were accepted (built {src!r})")


def check_declaration(kind: str, cls: type) -> None:
    """The class names its kind and options model, and ships samples."""
    assert getattr(cls, "kind", None) == kind, f"{cls.__name__}.kind must be {kind!r}"
    model = getattr(cls, "options_model", None)
    assert isinstance(model, type) and issubclass(model, ConnectorOptions), (
        f"{cls.__name__}.options_model must be a ConnectorOptions subclass"
    )
    samples = samples_of(cls)
    assert samples.items, "conformance_samples() must include raw items"


def check_option_errors(kind: str, cls: type) -> None:
    """Unknown keys, wrong types and missing required keys are each reported by key, all
    of them at once, as ``sources.<name>.options.<key>: …``."""
    good = samples_of(cls).options
    with network_disabled():
        build(kind, cls, good)  # the sample options are valid
        prefix = f"sources.{NAME}.options."
        unknown = _problems(kind, cls, {**good, "no_such_option": 1})
        assert any(p.startswith(prefix + "no_such_option: ") for p in unknown), unknown
        model: type[ConnectorOptions] = cls.options_model  # type: ignore[attr-defined]
        for key in good:
            wrong = _problems(kind, cls, {**good, key: [[object()]]})
            assert any(p.startswith(f"{prefix}{key}") for p in wrong), (
                f"a wrong type for {key!r} was not reported by its key: {wrong}"
            )
        for key, info in model.model_fields.items():
            if info.is_required():
                missing = _problems(kind, cls, {k: v for k, v in good.items() if k != key})
                assert any(p.startswith(f"{prefix}{key}: ") for p in missing), (
                    f"missing required {key!r} not reported by its key: {missing}"
                )
        several = _problems(kind, cls, {**good, "no_such_option": 1, "another_unknown": 2})
        assert len(several) >= 2, f"all errors at once, not the first only: {several}"


def check_protocols(kind: str, cls: type) -> None:
    """The built source is a ``Source``; each optional ability is declared whole and answers
    with the declared types, without touching the network."""
    with network_disabled():
        src = build(kind, cls, samples_of(cls).options)
        assert isinstance(src, Source), f"{cls.__name__} does not implement Source"
        for proto, members in ABILITIES.items():
            present = [m for m in members if hasattr(src, m)]
            assert not present or len(present) == len(members), (
                f"{cls.__name__} declares {proto.__name__} only in part: has {present} of "
                f"{list(members)}"
            )
        if isinstance(src, Pulling):
            assert inspect.isasyncgenfunction(type(src).pull), "pull() must be an async generator"
        if isinstance(src, HttpIntake):
            routes = src.routes()
            assert routes and all(isinstance(r, web.RouteDef) for r in routes), routes
        if isinstance(src, Answering):
            sink = src.sink()
            assert sink is None or isinstance(sink, Sink), f"sink() returned {sink!r}"
        if isinstance(src, WritesBack):
            writer = src.writer()
            assert writer is None or isinstance(writer, LegacyWriter), writer
        if isinstance(src, ProvidesJobHandlers):
            assert all(callable(h) for h in src.job_handlers().values())
        if isinstance(src, IssuesReceipts):
            assert isinstance(src.announces_sunset(), bool)


def _parse(src: Any, item: RawItem) -> object:
    try:
        parsed = src.parse(item)
    except InvalidInput:
        return InvalidInput
    assert isinstance(parsed, PARSED_TYPES), f"parse({item.source_ref!r}) returned {parsed!r}"
    return parsed


def check_samples(kind: str, cls: type) -> None:
    """The samples parse, offline, into drafts, replies or ``Ignored`` (at least one new
    complaint); garbage in any sample's content type is ``InvalidInput``, never a crash."""
    samples = samples_of(cls)
    with network_disabled():
        src = build(kind, cls, samples.options)
        results = [_parse(src, item) for item in samples.items]
        assert any(isinstance(r, ComplaintDraft) for r in results), (
            f"no sample parsed into a complaint: {results}"
        )
        for item in samples.items:
            for junk in GARBAGE:
                _parse(
                    src,
                    RawItem(
                        source_ref=f"junk:{item.source_ref}",
                        payload=junk,
                        received_at=item.received_at,
                        meta=dict(item.meta),
                        content_type=item.content_type,
                    ),
                )


CHECKS: tuple[Callable[[str, type], None], ...] = (
    check_declaration,
    check_option_errors,
    check_protocols,
    check_samples,
)
