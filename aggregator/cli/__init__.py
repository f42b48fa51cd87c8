"""The ``satukanal`` command.

Every subcommand loads the configuration the same way (``--config`` or ``SATUKANAL_CONFIG``,
then ``SATUKANAL_…`` overrides); a configuration error is printed for the administrator and
the command exits 2 without a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import inspect
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aggregator.errors import ConfigError

# Subcommand modules owned by the parts; each exposes ``register(subparsers, reports)``.
PLUGIN_MODULES = (
    "aggregator.cli.core",
    "aggregator.cli.admin",
    "aggregator.lapor.sandbox.cli",
    "aggregator.cli.backfill",
    "aggregator.cli.followup",
    "aggregator.cli.route",
    "aggregator.cli.privacy",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="satukanal",
        description="Pull complaints from legacy channels into SP4N-LAPOR! and keep citizens told.",
    )
    parser.add_argument(
        "--config",
        type=Path,
        default=None,
        help="TOML configuration file (default: $SATUKANAL_CONFIG)",
    )
    parser.add_argument(
        "--demo",
        action="store_true",
        help="use the demo configuration (embedded PostgreSQL and LAPOR! sandbox)",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    report = sub.add_parser("report", help="reports for agencies and auditors")
    reports = report.add_subparsers(dest="report", metavar="REPORT", required=True)
    for name in PLUGIN_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:
                continue
            raise
        register: Callable[..., Any] = module.register
        if len(inspect.signature(register).parameters) >= 2:
            register(sub, reports)
        else:
            register(sub)
    return parser


def config_path(args: argparse.Namespace) -> Path | None:
    """``--config``, else ``$SATUKANAL_CONFIG``, else none (environment and defaults only)."""
    return args.config or (Path(p) if (p := os.environ.get("SATUKANAL_CONFIG")) else None)


def load(args: argparse.Namespace) -> Any:
    """The settings this invocation runs with, after the full start-up check (the one
    ``satukanal config check`` prints): any problem stops the command with all of them."""
    from aggregator.demo.setup import demo_settings
    from aggregator.wiring.settings import load_settings

    path = config_path(args)
    demo = bool(getattr(args, "demo", False))
    if demo and path is None:
        return demo_settings()
    return load_settings(path, environ=os.environ, demo=demo)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return 2
    if args.command not in ("run", "demo", "sandbox"):
        # Inspection commands print their answer; only problems belong in the log.
        from aggregator.logging import configure_logging

        configure_logging("warning", "console")
    try:
        result = func(args)
        if asyncio.iscoroutine(result):
            result = asyncio.run(result)
        return int(result or 0)
    except ConfigError as exc:
        print(f"satukanal: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        if args.command in ("run", "demo", "sandbox"):
            raise  # the daemon's own pipe (a child process that died): a crash, shown as one
        # The reader went away (`satukanal status --json | head`): not an error of ours.
        # Point stdout at /dev/null so the interpreter's final flush does not fail again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        return 130
