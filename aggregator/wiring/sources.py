"""Build the configured sources from the connector registry, each with its narrow context,
and read what they can do — the one place the core learns a connector's abilities."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import structlog

from aggregator.errors import ConfigError
from aggregator.health import record
from aggregator.web.branding import branding
from connectors.base import (
    Backfilling,
    Batch,
    ConnectorContext,
    DeliveryReport,
    HttpIntake,
    IngestOutcome,
    IssuesReceipts,
    JobHandler,
    LegacyWriter,
    Pulling,
    ReportsDelivery,
    Sink,
    Source,
    WaitsForNew,
    abilities,
    delivery_reporter,
    load_source_class,
)
from schemas.config import Settings, SourceConfig

if TYPE_CHECKING:
    from aggregator.wiring.services import Services

log = structlog.get_logger(__name__)
PUSH_HEALTH_EVERY_S = 10.0


def connector_context(
    services: Services, cfg: SourceConfig, source: list[Source]
) -> ConnectorContext:
    """The context of one source: ``source`` holds the built source once it exists (the
    context is made before it, and intake needs the source to parse what it is handed)."""
    from aggregator.intake import ingest

    async def ingest_now(batch: Batch) -> IngestOutcome:
        result = await ingest(services, source[0], batch)
        return IngestOutcome(
            complaint_ids=tuple(result.complaint_ids),
            skipped=result.skipped,
            quarantined=result.quarantined,
        )

    spooled: list[Callable[[Batch], Awaitable[IngestOutcome]]] = []

    async def ingest_batch(batch: Batch) -> IngestOutcome:
        # What a channel pushes to us is written with the requests arriving with it (group
        # commit) and spooled while the database is away (a pulled batch simply stays with
        # its channel until the next pull).
        if not isinstance(source[0], HttpIntake):
            return await ingest_now(batch)
        if not spooled:
            from aggregator.intake.group import GroupCommit
            from aggregator.intake.spool import spooling_ingest
            from aggregator.wiring.services import ensure_spool

            opts = services.settings.spool
            grouped = GroupCommit(
                lambda b: ingest(services, source[0], b),
                source=cfg.name,
                window_s=opts.group_window_ms / 1000,
                max_items=opts.group_max_items,
                timeout_s=opts.db_timeout_s,
            )
            spooled.append(
                spooling_ingest(
                    grouped if opts.group_max_items > 1 else ingest_now,
                    ensure_spool(services),
                    cfg.name,
                    timeout_s=opts.db_timeout_s,
                )
            )
        outcome: IngestOutcome = await spooled[0](batch)
        if not outcome.spooled:
            await pushed_ok(len(batch.items))
        return outcome

    last_recorded: list[float] = []

    async def pushed_ok(items: int) -> None:
        # The channel's health: nothing polls a pushing channel, so its deliveries are its
        # outcomes (recorded at most every PUSH_HEALTH_EVERY_S: a busy gateway posts often).
        now = time.monotonic()
        if last_recorded and now - last_recorded[0] < PUSH_HEALTH_EVERY_S:
            return
        last_recorded[:] = [now]
        await record.succeeded(services.pool, "source", cfg.name, services.clock(), items)

    async def record_delivery(report: DeliveryReport) -> None:
        from aggregator.notify.outcome import report_delivery

        await report_delivery(services, report.notification_id, report.state, report.detail)

    def keyed_hash(value: str) -> str:
        digest = services.crypto.match_hash("channel_user", value)
        return digest.hex() if digest else ""

    settings: Settings = services.settings
    return ConnectorContext(
        keyed_hash=keyed_hash,
        source=cfg.name,
        ingest=ingest_batch,
        record_delivery=record_delivery,
        clock=services.clock,
        http=services.http,
        log=structlog.get_logger("connectors").bind(source=cfg.name),
        municipality=settings.municipality,
        timezone=settings.sla.timezone,
        sms_max_parts=settings.notify.sms_max_parts,
        branding=branding(settings),
    )


def build_source(cfg: SourceConfig, services: Services) -> Source:
    """One source, built by its connector's class (found by entry point) with its context.
    A connector's own option errors are reported with the source's name so the
    administrator knows which block of the file to fix."""
    cls = load_source_class(cfg.kind)
    built: list[Source] = []
    try:
        src = cls(cfg, connector_context(services, cfg, built))
    except ConfigError:
        raise
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"source {cfg.name!r} (kind {cfg.kind}): {exc}") from exc
    if not isinstance(src, Source):
        raise ConfigError(
            f"source {cfg.name!r}: kind {cfg.kind} does not implement the "
            "connector Source protocol (check, parse, close, options_model)"
        )
    built.append(src)
    return src


def build_sources(settings: Settings, services: Services) -> dict[str, Source]:
    """Every enabled source, by name."""
    return {cfg.name: build_source(cfg, services) for cfg in settings.sources if cfg.enabled}


@dataclass(frozen=True)
class Capabilities:
    """What the built sources can do, by source name, read once from their protocols."""

    pulling: Mapping[str, Pulling] = field(default_factory=dict)
    waits_for_new: Mapping[str, WaitsForNew] = field(default_factory=dict)
    http_intake: Mapping[str, HttpIntake] = field(default_factory=dict)
    sinks: Mapping[str, Sink] = field(default_factory=dict)
    delivery_status: Mapping[str, ReportsDelivery] = field(default_factory=dict)
    backfill: Mapping[str, Backfilling] = field(default_factory=dict)
    receipts: Mapping[str, IssuesReceipts] = field(default_factory=dict)
    writers: Mapping[str, LegacyWriter] = field(default_factory=dict)
    job_handlers: Mapping[str, JobHandler] = field(default_factory=dict)


def capabilities(sources: Mapping[str, Source]) -> Capabilities:
    """Classify every built source by the protocols it declares (``connectors.base``)."""
    pulling: dict[str, Pulling] = {}
    waits: dict[str, WaitsForNew] = {}
    intake: dict[str, HttpIntake] = {}
    sinks: dict[str, Sink] = {}
    delivery: dict[str, ReportsDelivery] = {}
    backfill: dict[str, Backfilling] = {}
    receipts: dict[str, IssuesReceipts] = {}
    writers: dict[str, LegacyWriter] = {}
    handlers: dict[str, JobHandler] = {}
    for name, src in sources.items():
        a = abilities(src)
        if a.pulling is not None:
            pulling[name] = a.pulling
            if a.waits_for_new is not None:
                waits[name] = a.waits_for_new
        if a.http_intake is not None:
            intake[name] = a.http_intake
        if a.answering is not None and (sink := a.answering.sink()) is not None:
            sinks[name] = sink
            if (reporter := delivery_reporter(sink)) is not None:
                delivery[name] = reporter
        if a.backfill is not None:
            backfill[name] = a.backfill
        if a.receipts is not None:
            receipts[name] = a.receipts
        if a.writes_back is not None and (writer := a.writes_back.writer()) is not None:
            writers[name] = writer
        if a.job_handlers is not None:
            for kind, handler in a.job_handlers.job_handlers().items():
                if kind in handlers:
                    raise ConfigError(f"source {name!r}: job kind {kind!r} has two handlers")
                handlers[kind] = handler
    return Capabilities(
        pulling=pulling,
        waits_for_new=waits,
        http_intake=intake,
        sinks=sinks,
        delivery_status=delivery,
        backfill=backfill,
        receipts=receipts,
        writers=writers,
        job_handlers=handlers,
    )


def sinks_of(sources: Mapping[str, Source]) -> dict[str, Sink]:
    """The sinks by source name, for the channels that can answer."""
    return dict(capabilities(sources).sinks)
