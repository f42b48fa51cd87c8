"""``satukanal route`` (route JSON lines) and ``satukanal route retrain``."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any


def register(sub: Any) -> None:
    p = sub.add_parser(
        "route",
        help='route complaints: JSON lines {"text": …, "channel": …} on stdin, the same '
        'lines with "category", "agency", "confidence" and "reasons" on stdout',
    )
    p.set_defaults(func=cmd_route, needs_config=False)
    rsub = p.add_subparsers(dest="route_command", required=False)
    r = rsub.add_parser(
        "retrain",
        help="take operators' triage corrections from the database "
        "as training data (used from the next start)",
    )
    r.set_defaults(func=cmd_retrain)


def _configured(args: argparse.Namespace) -> bool:
    return bool(args.config or os.environ.get("SATUKANAL_CONFIG") or args.demo)


def _router(args: argparse.Namespace) -> Any:
    from aggregator.intake.routing import corrections
    from aggregator.judgement.policy import routing_policy
    from aggregator.judgement.router import Router

    if not _configured(args):
        return Router(routing_policy())
    from aggregator.cli import load

    settings = load(args)
    return Router.from_settings(settings, corrections(Path(settings.data_dir)))


def cmd_route(args: argparse.Namespace) -> int:
    """A filter: one JSON object per line in, the same object with the route out."""
    router = _router(args)
    bad = 0
    for n, line in enumerate(sys.stdin, start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
            if not isinstance(obj, dict) or not isinstance(obj.get("text"), str):
                raise ValueError('expected an object with a "text" string')
        except ValueError as exc:
            print(f"satukanal route: line {n}: {exc}", file=sys.stderr)
            bad += 1
            continue
        d = router.route(obj["text"], obj.get("channel"))
        obj.update(d.as_json())
        sys.stdout.write(json.dumps(obj, ensure_ascii=False) + "\n")
    return 1 if bad else 0


async def cmd_retrain(args: argparse.Namespace) -> int:
    from aggregator.cli import load
    from aggregator.intake.routing import CORRECTIONS_FILE
    from aggregator.judgement.router import Example, Router
    from aggregator.storage import routing as repo
    from aggregator.wiring.runtime import open_services

    settings = load(args)
    async with open_services(settings) as services, services.pool.acquire() as conn:
        found = await repo.corrections(conn)
    path = Path(settings.data_dir) / CORRECTIONS_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(
        "".join(
            json.dumps(
                {"text": c.text, "channel": c.channel, "category": c.category, "agency": c.agency},
                ensure_ascii=False,
            )
            + "\n"
            for c in found
        ),
        "utf-8",
    )
    os.replace(tmp, path)
    extra = [Example(c.text, c.category, c.agency, c.channel) for c in found]
    started = time.perf_counter()
    router = Router.from_settings(settings, extra)
    router.model  # noqa: B018 - fit now, so a broken corpus fails here and not at intake
    took = time.perf_counter() - started
    agree = sum(router.route(e.text).agency == e.agency for e in extra)
    print(
        json.dumps(
            {
                "corrections": len(found),
                "file": str(path),
                "fit_s": round(took, 2),
                "corrections_now_routed_as_corrected": agree,
            }
        )
    )
    print(
        "satukanal route retrain: the daemon uses the corrections from its next start",
        file=sys.stderr,
    )
    return 0
