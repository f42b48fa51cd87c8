"""``satukanal backfill SOURCE`` and ``satukanal report migration``."""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import sys
from typing import Any

from rich.console import Console
from rich.table import Table


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


def register(sub: Any, reports: Any = None) -> None:
    p = sub.add_parser(
        "backfill",
        help="import a legacy archive from a configured source (resumable)",
        description="Import the archive of SOURCE through the normal intake. Interrupt it "
        "any time: the next run continues after the last stored batch.",
    )
    p.add_argument("source", metavar="SOURCE", help="name of a configured source")
    p.add_argument("--since", type=_date, metavar="DATE", help="only items from this date")
    p.add_argument("--until", type=_date, metavar="DATE", help="only items up to this date")
    p.add_argument(
        "--dry-run", action="store_true", help="read and classify everything, store nothing"
    )
    p.add_argument(
        "--push-newer-than-days",
        type=int,
        metavar="N",
        default=None,
        help="push open complaints newer than N days (overrides "
        "options.backfill.push_if_open_newer_than_days)",
    )
    p.add_argument(
        "--push-closed",
        action="store_true",
        default=None,
        help="also push complaints already closed upstream",
    )
    p.add_argument(
        "--restart",
        action="store_true",
        help="start from the beginning even if an earlier run was interrupted "
        "(items already stored are skipped, never duplicated)",
    )
    p.add_argument(
        "--workers",
        type=int,
        metavar="N",
        default=None,
        help="processes that parse and encrypt rows (default: backfill.workers, one per "
        "CPU; 0: all in this process)",
    )
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.set_defaults(func=cmd_backfill)

    if reports is not None:
        r = reports.add_parser(
            "migration",
            help="per source: found, pushed, kept as history, "
            "quarantined, and whether anything still arrives",
        )
        r.add_argument(
            "--recent-days",
            type=int,
            default=30,
            help="what counts as 'still arrives' (default 30 days)",
        )
        r.add_argument("--json", action="store_true")
        r.set_defaults(func=cmd_report_migration)


async def cmd_backfill(args: argparse.Namespace) -> int:
    from aggregator.cli import load
    from aggregator.errors import ConfigError
    from aggregator.intake.backfill import Policy, reset_backfill, run_backfill
    from aggregator.wiring.runtime import open_services
    from aggregator.wiring.sources import build_sources

    settings = load(args)
    cfg = next((s for s in settings.sources if s.name == args.source), None)
    if cfg is None:
        names = ", ".join(s.name for s in settings.sources) or "(none)"
        raise ConfigError(f"no source named {args.source!r}; configured: {names}")
    console = Console(stderr=True)
    async with open_services(settings) as services:
        sources = build_sources(
            settings.model_copy(update={"sources": [cfg.model_copy(update={"enabled": True})]}),
            services,
        )
        source = sources[cfg.name]
        try:
            policy = Policy.from_options(
                cfg.options,
                push_if_open_newer_than_days=args.push_newer_than_days,
                push_closed=args.push_closed,
            )
            if args.restart:
                await reset_backfill(services, cfg.name)
            try:
                summary = await run_backfill(
                    services,
                    source,
                    since=args.since,
                    until=args.until,
                    dry_run=args.dry_run,
                    policy=policy,
                    workers=args.workers,
                )
            except (KeyboardInterrupt, asyncio.CancelledError, ConfigError) as exc:
                # Ctrl-C arrives as a cancellation of this task (asyncio.run).
                if not isinstance(exc, ConfigError) or "form database" in str(exc):
                    console.print(
                        f"[yellow]backfill of {cfg.name} stopped; run the same "
                        "command again to continue where it stopped[/]"
                    )
                raise
        finally:
            await source.close()
    if args.json:
        print(
            json.dumps(
                {"source": cfg.name, "dry_run": args.dry_run, **summary.to_json()},
                ensure_ascii=False,
            )
        )
        return 0
    _print_summary(console, summary)
    return 0


def _print_summary(console: Console, s: Any) -> None:
    title = f"backfill {s.source}" + (" (dry run: nothing stored)" if s.dry_run else "")
    t = Table(title=title, show_header=False)
    t.add_row("rows read", f"{s.read:,}")
    t.add_row("imported", f"{s.imported:,}")
    t.add_row("  pushed to LAPOR!" if not s.dry_run else "  would be pushed", f"{s.pushed:,}")
    t.add_row("  kept as history", f"{s.history:,}")
    t.add_row("  double submissions linked", f"{s.duplicates:,}")
    t.add_row("replies / ignored", f"{s.replies:,} / {s.ignored:,}")
    t.add_row("quarantined", f"{s.quarantined:,}")
    for why, n in sorted(s.skipped.items()):
        t.add_row(f"skipped: {why}", f"{n:,}")
    for why, n in s.quarantine_reasons.most_common(10):
        t.add_row(f"quarantined: {why}", f"{n:,}")
    for why, n in sorted(s.decisions.items()):
        t.add_row(f"policy {why}", f"{n:,}")
    t.add_row("worker processes", f"{s.workers}")
    t.add_row("time", f"{s.elapsed_s:.1f} s")
    console.print(t)


async def cmd_report_migration(args: argparse.Namespace) -> int:
    from aggregator.cli import load
    from aggregator.intake.backfill import migration_report
    from aggregator.wiring.runtime import open_services

    settings = load(args)
    async with open_services(settings) as services:
        rows = await migration_report(services, recent_days=args.recent_days)
    if args.json:
        print(
            json.dumps(
                [
                    {
                        **{k: v for k, v in vars(r).items() if k != "last_live_at"},
                        "last_live_at": r.last_live_at.isoformat() if r.last_live_at else None,
                        "still_arriving": r.still_arriving,
                        "verdict": r.verdict(),
                    }
                    for r in rows
                ],
                ensure_ascii=False,
            )
        )
        return 0
    t = Table(title="Migration to SP4N-LAPOR! per source")
    for col in (
        "source",
        "kind",
        "found",
        "pushed",
        "waiting",
        "history",
        "duplicates",
        "quarantined",
        f"new in {args.recent_days}d",
        "last new item",
        "backfill",
        "switch off?",
    ):
        t.add_column(col)
    for r in rows:
        t.add_row(
            r.source + (" (sunset)" if r.sunset else ""),
            r.kind,
            f"{r.found:,}",
            f"{r.pushed:,}",
            f"{r.waiting:,}",
            f"{r.history:,}",
            f"{r.duplicates:,}",
            f"{r.quarantined:,}",
            f"{r.live_recent:,}",
            f"{r.last_live_at:%Y-%m-%d}" if r.last_live_at else "-",
            r.backfill_state,
            r.verdict(),
        )
    Console(file=sys.stdout, width=200).print(t)
    return 0
