"""``satukanal sandbox`` / ``python -m aggregator.lapor.sandbox``: run the sandbox."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from aiohttp import web

from aggregator.lapor.sandbox.app import create_app
from aggregator.lapor.sandbox.core import SandboxConfig
from aggregator.lapor.sandbox.faults import parse_faults


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8471)
    p.add_argument(
        "--faults",
        default="",
        help="e.g. latency=0.2,error5xx=0.2,timeout_after_create=0.05,drop=0.05,"
        "revoke_tokens=30,dup_events=0.1,reorder_events=0.1 "
        "(revoke_tokens = every N seconds, revoke_every = every N requests)",
    )
    p.add_argument(
        "--life",
        choices=["fast", "realtime", "none"],
        default="fast",
        help="each report's life: a step every few seconds, hours, or only when "
        "driven through /_sandbox",
    )
    p.add_argument("--life-unit", type=float, default=None, help="seconds per life step")
    p.add_argument("--state", type=Path, default=None, help="JSON file kept across restarts")
    p.add_argument("--seed", type=int, default=1708)
    p.add_argument("--rate", type=float, default=20.0, help="requests/s per client")
    p.add_argument("--burst", type=int, default=40)
    p.add_argument("--no-rate-limit", action="store_true")
    p.add_argument("--token-ttl", type=float, default=3600.0)
    p.add_argument(
        "--client",
        action="append",
        default=[],
        help="client_id:client_secret (repeatable; default satukanal:sandbox-secret)",
    )
    p.add_argument("--webhook-url", default=None)
    p.add_argument("--webhook-secret", default=None)


def config_from_args(args: argparse.Namespace) -> SandboxConfig:
    clients: dict[str, str] = {}
    for item in args.client:
        cid, sep, secret = item.partition(":")
        if not sep:
            raise SystemExit(f"--client {item!r}: use client_id:client_secret")
        clients[cid] = secret
    extra: dict[str, Any] = {"clients": clients} if clients else {}
    try:
        faults = parse_faults(args.faults)
    except ValueError as exc:
        raise SystemExit(f"--faults: {exc}") from exc
    return SandboxConfig(
        seed=args.seed,
        life=args.life,
        life_unit_s=args.life_unit,
        rate_per_s=args.rate,
        burst=args.burst,
        rate_limit=not args.no_rate_limit,
        token_ttl_s=args.token_ttl,
        faults=faults,
        state_file=args.state,
        webhook_url=args.webhook_url,
        webhook_secret=args.webhook_secret,
        public_url=f"http://{args.host}:{args.port}",
        **extra,
    )


def run(args: argparse.Namespace) -> int:
    cfg = config_from_args(args)
    print(
        f"LAPOR! sandbox on http://{args.host}:{args.port}{cfg.base_path} "
        f"(life={cfg.life}, faults={args.faults or 'none'})",
        flush=True,
    )
    web.run_app(create_app(cfg), host=args.host, port=args.port, print=None, handle_signals=True)
    return 0


def register(subparsers: Any) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = subparsers.add_parser(
        "sandbox", help="run the built-in LAPOR! sandbox (the contract, lives, faults)"
    )
    add_arguments(p)
    p.set_defaults(func=run)
    return p


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m aggregator.lapor.sandbox")
    add_arguments(parser)
    return run(parser.parse_args(argv))
