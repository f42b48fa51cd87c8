"""``satukanal followup classify`` and ``satukanal report sla``."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from typing import Any


def register(sub: Any, reports: Any | None = None) -> None:
    fu = sub.add_parser("followup", help="agency follow-ups (tindak lanjut)")
    fsub = fu.add_subparsers(dest="sub", required=True)
    p = fsub.add_parser(
        "classify",
        help='label agency responses: JSON lines {"text": …, "attachments": N} on stdin, '
        'the same lines with "label" and "reasons" on stdout',
    )
    p.set_defaults(func=cmd_classify, needs_config=False)

    target = reports
    if target is None:  # an older core without the shared ``report`` group
        target = sub.add_parser("report", help="reports").add_subparsers(
            dest="report", required=True
        )
    p = target.add_parser(
        "sla",
        help="per agency: response times, boilerplate share, "
        "breaches, closures without real follow-up, reopen rate",
    )
    p.add_argument(
        "--from",
        dest="start",
        type=_date,
        default=None,
        help="first day (YYYY-MM-DD, default 30 days ago)",
    )
    p.add_argument(
        "--to",
        dest="end",
        type=_date,
        default=None,
        help="last day, inclusive (YYYY-MM-DD, default today)",
    )
    p.add_argument("--format", choices=("table", "csv", "json"), default="table")
    p.add_argument(
        "--json", dest="format", action="store_const", const="json", help="same as --format json"
    )
    p.set_defaults(func=cmd_report_sla)


def _date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {value!r}") from None


def cmd_classify(args: argparse.Namespace) -> int:
    """Reads stdin line by line so it works as a filter on large files. Settings are used
    for extra phrases when a configuration is given, never required."""
    from aggregator.followup.quality import classify

    config = None
    if getattr(args, "config", None) is not None:
        from aggregator.cli import load

        config = load(args).followup
    bad = 0
    for n, line in enumerate(sys.stdin, start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
            if not isinstance(obj, dict) or not isinstance(obj.get("text"), str):
                raise ValueError('expected an object with a "text" string')
            attachments = obj.get("attachments", 0)
            if isinstance(attachments, list):
                attachments = len(attachments)
            label, reasons = classify(obj["text"], int(attachments or 0), config=config)
        except (ValueError, TypeError) as exc:
            print(f"satukanal followup classify: line {n}: {exc}", file=sys.stderr)
            bad += 1
            continue
        obj["label"] = label.value
        obj["reasons"] = reasons
        sys.stdout.write(json.dumps(obj, ensure_ascii=False) + "\n")
    return 1 if bad else 0


async def cmd_report_sla(args: argparse.Namespace) -> int:
    from rich.console import Console

    from aggregator.cli import load
    from aggregator.followup.report import sla_report, to_csv, to_json, to_table
    from aggregator.followup.sla import WorkingCalendar
    from aggregator.wiring.runtime import open_services

    settings = load(args)
    cal = WorkingCalendar(settings.sla)
    today = dt.datetime.now(cal.tz).date()
    end_day = args.end or today
    start_day = args.start or (end_day - dt.timedelta(days=30))
    start = dt.datetime.combine(start_day, dt.time(0), cal.tz)
    end = dt.datetime.combine(end_day + dt.timedelta(days=1), dt.time(0), cal.tz)
    async with open_services(settings) as services:
        rows = await sla_report(services.pool, settings.sla, start, end)
    if args.format == "json":
        sys.stdout.write(to_json(rows, start, end) + "\n")
    elif args.format == "csv":
        sys.stdout.write(to_csv(rows))
    else:
        Console().print(to_table(rows, start, end))
    return 0
