"""``satukanal purge`` and ``satukanal forget``: UU 27/2022 retention and erasure."""

from __future__ import annotations

import argparse
import getpass
import json
import sys
import uuid
from typing import Any


def register(sub: Any) -> None:
    p = sub.add_parser(
        "purge",
        help="apply the retention periods of [privacy.retention] now "
        "(the daemon does it every purge_interval_s)",
    )
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_purge)
    p = sub.add_parser(
        "forget",
        help="erase a person's data (reporter record, raw originals, message texts, replies, "
        "attachments, personal data in the complaint text); an audit record without identity "
        "is kept",
    )
    who = p.add_mutually_exclusive_group(required=True)
    who.add_argument(
        "--reporter",
        metavar="ID|PHONE|EMAIL|NIK",
        help="a reporter id, or a phone, e-mail or NIK they gave: every complaint",
    )
    who.add_argument(
        "--complaint",
        metavar="UUID",
        type=uuid.UUID,
        help="one complaint, and its reporter's record",
    )
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_forget)


async def _open(args: argparse.Namespace) -> Any:
    from aggregator.cli import load
    from aggregator.wiring.runtime import open_services

    settings = load(args)
    return open_services(settings, run_migrations=settings.demo)


async def cmd_purge(args: argparse.Namespace) -> int:
    from aggregator.storage.privacy import purge

    async with await _open(args) as services, services.pool.acquire() as conn:
        done = await purge(
            conn,
            services.settings.privacy.retention,
            statement_timeout_s=services.settings.database.long_statement_timeout_s,
        )
    if args.json:
        json.dump(done, sys.stdout)
        print()
    else:
        print(", ".join(f"{k.replace('_', ' ')}: {v}" for k, v in done.items()))
    return 0


async def cmd_forget(args: argparse.Namespace) -> int:
    from aggregator.storage.privacy import forget

    async with await _open(args) as services, services.pool.acquire() as conn:
        done = await forget(
            conn,
            services.crypto,
            actor=f"cli:{getpass.getuser()}",
            reporter=args.reporter,
            complaint=args.complaint,
        )
    if args.json:
        json.dump(done, sys.stdout)
        print()
    else:
        print(", ".join(f"{k.replace('_', ' ')}: {v}" for k, v in done.items()))
    if not done["complaints"] and not done["reporters"]:
        print("satukanal: nothing found to erase", file=sys.stderr)
        return 1
    return 0
