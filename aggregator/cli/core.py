"""run, migrate, config check, keys."""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console

if TYPE_CHECKING:
    from aggregator.wiring.services import Services


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
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_migrate)

    cfg = sub.add_parser("config", help="configuration").add_subparsers(dest="sub", required=True)
    p = cfg.add_parser(
        "check",
        help="check the configuration as the daemon does at start-up, list every problem, "
        "print the effective configuration (secrets masked)",
    )
    p.add_argument(
        "--connect",
        action="store_true",
        help="then try every connection (database, LAPOR!, each channel) and report each",
    )
    p.set_defaults(func=cmd_config_check)

    p = sub.add_parser(
        "healthcheck",
        help="exit 0 when the daemon on the configured http.host/http.port answers /healthz "
        "(the container's HEALTHCHECK)",
    )
    p.add_argument("--timeout", type=float, default=5.0, help="seconds (default 5)")
    p.set_defaults(func=cmd_healthcheck)

    keys = sub.add_parser("keys", help="encryption keys").add_subparsers(dest="sub", required=True)
    p = keys.add_parser(
        "generate",
        help="make a new encryption key (and the HMAC key): into files with --dir, else printed",
    )
    p.add_argument(
        "--dir",
        type=Path,
        metavar="DIR",
        help="write <id>.key and hmac.key into DIR (mode 0640; an existing file is never "
        "overwritten) and print the lines for the configuration",
    )
    p.add_argument("--id", default="k1", help="the new key's id (default k1; k2 … when rotating)")
    p.add_argument(
        "--group",
        default=None,
        help="group that may read the files (default: the directory's group), e.g. satukanal",
    )
    p.add_argument("--json", action="store_true", help="print the keys as JSON (without --dir)")
    p.set_defaults(func=cmd_keys_generate)
    p = keys.add_parser(
        "rotate",
        help="re-encrypt all personal data (reporters, raw originals, "
        "notifications, job addresses) with the newest key",
    )
    p.add_argument("--json", action="store_true")
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
            applied = await migrate(
                conn, statement_timeout_s=settings.database.long_statement_timeout_s
            )
        if args.json:
            if args.dump_schema:
                from aggregator.storage.schema_dump import dump_schema

                args.dump_schema.write_text(await dump_schema(_dsn(services)))
            json.dump(
                {
                    "applied": [{"version": m.version, "name": m.name} for m in applied],
                    "schema_written_to": str(args.dump_schema) if args.dump_schema else None,
                },
                sys.stdout,
            )
            print()
            return 0
        print(
            f"applied {len(applied)} migration(s)"
            + "".join(f"\n  {m.version:04d} {m.name}" for m in applied)
        )
        if args.dump_schema:
            from aggregator.storage.schema_dump import dump_schema

            args.dump_schema.write_text(await dump_schema(_dsn(services)))
            print(f"schema written to {args.dump_schema}")
    return 0


def _dsn(services: Services) -> str:
    if services.dsn is None:  # open_services always sets it
        raise RuntimeError("the runtime does not know its database URL")
    return services.dsn


def cmd_config_check(args: argparse.Namespace) -> int:
    import os

    from aggregator.cli import config_path
    from aggregator.wiring.check import check_configuration, format_problems
    from aggregator.wiring.settings import masked

    path = config_path(args)
    result = check_configuration(path, environ=os.environ, demo=bool(args.demo))
    if args.demo and path is None:
        from aggregator.demo.setup import demo_settings

        result.settings = demo_settings()  # what `satukanal demo` runs with
    err = _Stderr()
    for warning in result.warnings:
        err.print(f"warning: {warning}", markup=False)
    if result.errors or result.settings is None:
        err.print(f"satukanal: {format_problems(result.errors, path)}", markup=False)
        _note_user(err, path)
        return 2
    json.dump(masked(result.settings), sys.stdout, indent=2, ensure_ascii=False)
    print()
    err.print(f"configuration OK{f' ({path})' if path else ''}", markup=False)
    _note_user(err, path)
    if not args.connect:
        return 0
    import asyncio

    from aggregator.wiring.probe import probe_all

    results = asyncio.run(probe_all(result.settings))
    for r in results:
        mark = {True: "ok", False: "FAILED", None: "--"}[r.ok]
        err.print(f"{mark:>6}  {r.name}: {r.detail}", markup=False)
    failed = [r for r in results if r.ok is False]
    err.print(
        f"{len(failed)} of {len(results)} connection(s) failed"
        if failed
        else "every connection answered",
        markup=False,
    )
    return 1 if failed else 0


class _Stderr:
    """Plain lines on stderr: no wrapping, so a line can be searched for and copied."""

    def print(self, text: str, **_: Any) -> None:
        print(text, file=sys.stderr)


def _note_user(err: _Stderr, path: Path | None) -> None:
    import os

    if os.geteuid() == 0 and path is not None:
        err.print(
            "note: checked as root; the service reads its files as its own user: "
            f"runuser -u satukanal -- satukanal --config {path} config check",
            markup=False,
        )


def cmd_healthcheck(args: argparse.Namespace) -> int:
    import urllib.error
    import urllib.request

    from aggregator.cli import load

    http = load(args).http
    host = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(http.host, http.host)  # noqa: S104
    url = f"http://{f'[{host}]' if ':' in host else host}:{http.port}/healthz"
    try:
        with urllib.request.urlopen(url, timeout=args.timeout) as resp:
            ok = resp.status == 200
    except (urllib.error.URLError, OSError) as exc:
        print(f"satukanal: {url} does not answer: {exc}", file=sys.stderr)
        return 1
    if not ok:
        print(f"satukanal: {url} answered {resp.status}", file=sys.stderr)
    return 0 if ok else 1


def cmd_keys_generate(args: argparse.Namespace) -> int:
    from aggregator.crypto import generate_key

    if args.dir is None and args.json:
        json.dump(
            {"key": {"id": args.id, "secret": generate_key()}, "hmac_key": generate_key()},
            sys.stdout,
        )
        print()
        return 0
    if args.dir is None:
        print(
            "# add to your configuration (keep it secret; losing it makes stored identities "
            "unreadable). Better: `satukanal keys generate --dir /etc/satukanal/keys`"
        )
        print("[crypto]")
        print(f'hmac_key = "{generate_key()}"  # once; changing it breaks duplicate matching')
        print("[[crypto.keys]]")
        print(f'id = "{args.id}"  # keep old keys listed until `keys rotate` ran')
        print(f'secret = "{generate_key()}"')
        return 0
    from aggregator.errors import ConfigError

    if not re.fullmatch(r"[A-Za-z0-9_-]{1,32}", args.id):
        raise ConfigError(f"--id {args.id!r}: use letters, digits, '-' and '_' (e.g. k2)")
    folder: Path = args.dir
    folder.mkdir(mode=0o750, parents=True, exist_ok=True)
    key_file, hmac_file = folder / f"{args.id}.key", folder / "hmac.key"
    if key_file.exists():
        raise ConfigError(
            f"{key_file} exists already: a key is never overwritten (it may still decrypt "
            "stored identities); choose a new --id to add a key"
        )
    gid = _group_id(args.group, folder)
    written = [_write_secret(key_file, generate_key(), gid)]
    if not hmac_file.exists():
        written.append(_write_secret(hmac_file, generate_key(), gid))
    for f in written:
        print(f"# wrote {f}", file=sys.stderr)
    print("# in the configuration (keep older [[crypto.keys]] listed above a new one):")
    print("[crypto]")
    print(f'hmac_key_file = "{hmac_file.resolve()}"')
    print("[[crypto.keys]]")
    print(f'id = "{args.id}"')
    print(f'secret_file = "{key_file.resolve()}"')
    print(
        "# Back these files up apart from the database: without them the stored names, "
        "phones, e-mails and NIKs cannot be read.",
        file=sys.stderr,
    )
    return 0


def _group_id(group: str | None, folder: Path) -> int:
    import grp

    from aggregator.errors import ConfigError

    if group is None:
        return folder.stat().st_gid
    try:
        return grp.getgrnam(group).gr_gid
    except KeyError as exc:
        raise ConfigError(f"--group {group!r}: there is no such group on this machine") from exc


def _write_secret(path: Path, value: str, gid: int) -> Path:
    """Create ``path`` readable by its owner and ``gid`` only; never replace a file."""
    import os

    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o640)
    try:
        os.write(fd, f"{value}\n".encode())
        os.fchmod(fd, 0o640)  # whatever the umask said
        if os.geteuid() == 0 or gid in os.getgroups():
            os.fchown(fd, -1, gid)
    finally:
        os.close(fd)
    return path


async def cmd_keys_rotate(args: argparse.Namespace) -> int:
    from aggregator.cli import load
    from aggregator.storage.admin import rotate_reporter_keys
    from aggregator.storage.privacy import rotate_sealed_data
    from aggregator.wiring.runtime import open_services

    settings = load(args)
    async with open_services(settings) as services, services.pool.acquire() as conn:
        n = await rotate_reporter_keys(conn, services.crypto)
        other = await rotate_sealed_data(conn, services.crypto)
        other["spool"] = services.spool.rotate()
    if args.json:
        json.dump({"reencrypted": n, "key_id": services.crypto.current_id, **other}, sys.stdout)
        print()
        return 0
    Console(stderr=True).print(
        f"re-encrypted {n} reporter(s), {other['raw_items']} raw original(s), "
        f"{other['notifications']} notification(s), {other['jobs']} job address(es) and "
        f"{other['spool']} spooled batch(es) with key {services.crypto.current_id!r}"
    )
    return 0
