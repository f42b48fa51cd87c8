"""run, migrate, config check, keys."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from rich.console import Console


def register(sub: Any, reports: Any) -> None:
    p = sub.add_parser("run", help="run the daemon (every loop, the admin HTTP listener)")
    p.add_argument(
        "--until-idle",
        action="store_true",
        help="exit once no job is claimable and no source brought anything",
    )
    p.add_argument("--no-migrate", action="store_true", help="do not apply migrations at start")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser(
        "demo",
        help="run the demo: embedded PostgreSQL, LAPOR! sandbox, demo citizens on every channel",
    )
    p.add_argument(
        "--until-idle",
        action="store_true",
        help="exit, with a summary, once every demo complaint is closed and every message "
        "delivered",
    )
    p.add_argument("--no-citizens", action="store_true", help="no simulated citizens")
    p.add_argument("--port", type=int, default=8470, help="HTTP port (default 8470)")
    p.add_argument(
        "--timeout",
        type=float,
        default=None,
        metavar="SECONDS",
        help="with --until-idle: give up (exit 1) after this long (default 300)",
    )
    p.set_defaults(func=cmd_demo, demo=True)

    p = sub.add_parser("migrate", help="apply database migrations")
    p.add_argument(
        "--dump-schema",
        type=Path,
        metavar="FILE",
        help="after migrating, write the resulting schema (pg_dump) to FILE",
    )
    p.set_defaults(func=cmd_migrate)

    cfg = sub.add_parser("config", help="configuration").add_subparsers(dest="sub", required=True)
    p = cfg.add_parser(
        "check", help="validate and print the effective configuration, secrets masked"
    )
    p.set_defaults(func=cmd_config_check)

    keys = sub.add_parser("keys", help="encryption keys").add_subparsers(dest="sub", required=True)
    p = keys.add_parser("generate", help="print a new key for [[crypto.keys]] / crypto.hmac_key")
    p.set_defaults(func=cmd_keys_generate)
    p = keys.add_parser("rotate", help="re-encrypt all reporter data with the newest key")
    p.set_defaults(func=cmd_keys_rotate)


def cmd_run(args: argparse.Namespace) -> Any:
    from aggregator.cli import load
    from aggregator.wiring.supervisor import run_daemon

    settings = load(args)
    return run_daemon(
        settings, until_idle=args.until_idle, migrate=False if args.no_migrate else None
    )


def cmd_demo(args: argparse.Namespace) -> Any:
    from aggregator.demo.setup import demo_settings
    from aggregator.wiring.supervisor import run_daemon

    settings = demo_settings(port=args.port)
    return run_daemon(
        settings,
        until_idle=args.until_idle,
        citizens=not args.no_citizens,
        outstanding_timeout_s=args.timeout,
    )


async def cmd_migrate(args: argparse.Namespace) -> int:
    from aggregator.cli import load
    from aggregator.storage.migrate import migrate
    from aggregator.wiring.runtime import open_services

    settings = load(args)
    async with open_services(settings, run_migrations=False, require_migrated=False) as services:
        async with services.pool.acquire() as conn:
            applied = await migrate(conn)
        print(
            f"applied {len(applied)} migration(s)"
            + "".join(f"\n  {m.version:04d} {m.name}" for m in applied)
        )
        if args.dump_schema:
            from aggregator.storage.schema_dump import dump_schema

            args.dump_schema.write_text(await dump_schema(services.extras["dsn"]))
            print(f"schema written to {args.dump_schema}")
    return 0


def cmd_config_check(args: argparse.Namespace) -> int:
    from aggregator.cli import load
    from aggregator.crypto import Crypto
    from aggregator.wiring.settings import masked

    settings = load(args)
    Crypto.from_config(settings.crypto, demo=settings.demo)  # refuses to run without keys
    from connectors.base import load_source_class

    for src in settings.sources:
        load_source_class(src.kind)
    json.dump(masked(settings), sys.stdout, indent=2, ensure_ascii=False)
    print("\nconfiguration OK", file=sys.stderr)
    return 0


def cmd_keys_generate(args: argparse.Namespace) -> int:
    from aggregator.crypto import generate_key

    print(
        "# add to your configuration (keep it secret; losing it makes stored identities unreadable)"
    )
    print("[[crypto.keys]]")
    print('id = "k1"  # a new id for each new key; keep old keys listed until `keys rotate` ran')
    print(f'secret = "{generate_key()}"')
    print("\n[crypto]")
    print(f'hmac_key = "{generate_key()}"  # generate once; changing it breaks duplicate matching')
    return 0


async def cmd_keys_rotate(args: argparse.Namespace) -> int:
    from aggregator.cli import load
    from aggregator.storage.admin import rotate_reporter_keys
    from aggregator.wiring.runtime import open_services

    settings = load(args)
    async with open_services(settings) as services, services.pool.acquire() as conn:
        n = await rotate_reporter_keys(conn, services.crypto)
    Console(stderr=True).print(
        f"re-encrypted {n} reporter(s) with key {services.crypto.current_id!r}"
    )
    return 0
