"""Inspect and fix from the shell: status, complaints, jobs, tokens, quarantine."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import uuid
from dataclasses import asdict
from typing import Any

from rich.table import Table

from aggregator.cli.output import console as Console
from aggregator.cli.output import json_out
from aggregator.errors import ConfigError
from aggregator.localtime import local_time
from aggregator.receipts import hide_in_meta, hide_in_ref
from schemas.events import EventKind


def register(sub: Any, reports: Any) -> None:
    p = sub.add_parser("status", help="sources, queue and dead jobs at a glance")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_status)

    comp = sub.add_parser("complaints", help="complaints").add_subparsers(dest="sub", required=True)
    p = comp.add_parser("list", help="newest first")
    p.add_argument("--status")
    p.add_argument("--agency")
    p.add_argument("--limit", type=int, default=50)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_complaints_list)
    p = comp.add_parser("show", help="one complaint with its whole timeline")
    p.add_argument("id", help="the complaint id, its LAPOR! Tracking ID or a form receipt code")
    p.add_argument("--json", action="store_true")
    p.add_argument(
        "--reveal-identity",
        action="store_true",
        help="decrypt the reporter's identity (logged in the timeline)",
    )
    p.set_defaults(func=cmd_complaints_show)
    p = comp.add_parser(
        "as-reply",
        help="a message taken as a new complaint is a reply to another open complaint of the "
        "same reporter (while it has not reached LAPOR!)",
    )
    p.add_argument("id", help="the complaint to move")
    p.add_argument("--to", required=True, help="the open complaint it replies to")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_complaints_as_reply)
    p = comp.add_parser(
        "from-reply",
        help="a message taken as a reply is a new complaint (while it has not reached LAPOR!)",
    )
    p.add_argument("reply_id", help="the reply's id (complaints show --json lists them)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_complaints_from_reply)

    jobs = sub.add_parser("jobs", help="the job queue").add_subparsers(dest="sub", required=True)
    p = jobs.add_parser("retry", help="run a (dead) job again now")
    p.add_argument("id", type=int)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_jobs_retry)
    p = jobs.add_parser("discard", help="give up on a job, keeping the reason")
    p.add_argument("id", type=int)
    p.add_argument("--reason", required=True)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_jobs_discard)

    tok = sub.add_parser("token", help="admin API tokens").add_subparsers(dest="sub", required=True)
    p = tok.add_parser("create", help="create a token (printed once)")
    p.add_argument("--role", required=True, choices=["admin", "operator", "auditor", "agency"])
    p.add_argument("--agency", help="agency code (required for role agency)")
    p.add_argument("--name", default=None)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_token_create)
    p = tok.add_parser("list")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_token_list)
    p = tok.add_parser("revoke")
    p.add_argument("id")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_token_revoke)

    qu = sub.add_parser("quarantine", help="items that could not be understood").add_subparsers(
        dest="sub", required=True
    )
    p = qu.add_parser("list")
    p.add_argument("--source")
    p.add_argument("--limit", type=int, default=50)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_quarantine_list)
    p = qu.add_parser("show", help="the reason and the original bytes")
    p.add_argument("id", type=int)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_quarantine_show)
    p = qu.add_parser("replay", help="parse a quarantined item again (after a fix)")
    p.add_argument("id", type=int)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_quarantine_replay)


_TZ = "Asia/Jakarta"  # set from the settings by each command (the municipality's zone)


def _json_out(data: Any) -> None:
    json_out(data)


def _when(value: dt.datetime | None) -> str:
    return local_time(value, _TZ)


async def _services(args: argparse.Namespace) -> Any:
    from aggregator.cli import load
    from aggregator.wiring.runtime import open_services

    global _TZ
    settings = load(args)
    _TZ = settings.sla.timezone
    # The demo migrates itself; a production database is migrated only by `satukanal migrate`.
    return open_services(settings, run_migrations=settings.demo)


async def cmd_status(args: argparse.Namespace) -> int:
    from aggregator.health.overview import health_overview
    from aggregator.lapor.health import lapor_health
    from aggregator.storage.admin import status_overview

    async with await _services(args) as services, services.pool.acquire() as conn:
        data = await status_overview(conn)
        data["lapor"] = await lapor_health(conn)
        health = await health_overview(conn, services.settings, services.clock())
    data["health"] = health["components"]
    data["incidents"] = health["incidents"]
    data["ready"], data["unready_reason"] = health["ready"]
    data["timezone"] = _TZ
    from aggregator.intake.spool import spool_depth

    data["spool"] = spool_depth(services.settings)
    if args.json:
        _json_out(data)
        return 0
    con = Console()
    _print_incidents(con, data["incidents"])
    sources = {s["source"]: s for s in data["sources"]}
    t = Table(title="Health (from real outcomes; 'unknown' until first contact)")
    for col in (
        "component",
        "state",
        "last attempt",
        "last success",
        "failures",
        "items",
        "quarantined",
        "last error",
    ):
        t.add_column(col)
    for c in data["health"]:
        src = sources.get(c["name"], {}) if c["kind"] == "source" else {}
        state = c["state"] + (f" (circuit {c['breaker']})" if c.get("breaker") else "")
        t.add_row(
            c["component"],
            state.upper() if c["state"] != "ok" else state,
            _when(c["last_attempt_at"]),
            _when(c["last_success_at"]),
            str(c["consecutive_failures"]),
            str(src.get("items_total", c["last_items"])),
            str(src.get("quarantined", "-")) if src else "-",
            (c["last_error"] or "") if c["state"] != "ok" else "",
        )
    con.print(t)
    t = Table(title=f"Queue (backlog {data['backlog']})")
    for col in ("kind", "state", "jobs"):
        t.add_column(col)
    for r in data["queue"]:
        t.add_row(r["kind"], r["state"], str(r["n"]))
    con.print(t)
    if data["complaints"]:
        con.print(
            "Complaints: " + ", ".join(f"{k} {v}" for k, v in sorted(data["complaints"].items()))
        )
    con.print(f"Updates feed last read: {_when(_parse(data['lapor']['feed_read_at']))}")
    spool = data["spool"]
    con.print(f"Intake spool: {spool['items']} waiting ({spool['bytes']} bytes) in {spool['dir']}")
    con.print(f"Dead jobs: {len(data['dead_jobs'])}")
    if data["dead_jobs"]:
        t = Table(title="Dead jobs (satukanal jobs retry ID / jobs discard ID --reason …)")
        for col in ("id", "kind", "complaint", "attempts", "last error"):
            t.add_column(col)
        for j in data["dead_jobs"]:
            t.add_row(
                str(j["id"]),
                j["kind"],
                str(j["complaint_id"] or "-"),
                str(j["attempts"]),
                j["last_error"] or "",
            )
        con.print(t)
    con.print("Ready: yes" if data["ready"] else f"Ready: NO ({data['unready_reason']})")
    return 0


def _parse(value: str | None) -> dt.datetime | None:
    return dt.datetime.fromisoformat(value) if value else None


def _print_incidents(con: Any, incidents: list[dict[str, Any]]) -> None:
    if not incidents:
        con.print("Open incidents: none")
        return
    t = Table(title=f"Open incidents ({len(incidents)})")
    for col in ("id", "kind", "subject", "since", "summary"):
        t.add_column(col)
    for i in incidents:
        t.add_row(str(i["id"]), i["kind"], i["subject"] or "-", _when(i["opened_at"]), i["summary"])
    con.print(t)


async def cmd_complaints_list(args: argparse.Namespace) -> int:
    from aggregator.storage.admin import list_complaints

    async with await _services(args) as services, services.pool.acquire() as conn:
        rows = await list_complaints(
            conn,
            status=args.status,
            agencies=[args.agency] if args.agency else None,
            limit=args.limit,
        )
    if args.json:
        _json_out(rows)
        return 0
    t = Table()
    for col in ("id", "received", "channel", "status", "tracking", "agency", "title"):
        t.add_column(col)
    for r in rows:
        t.add_row(
            str(r["id"]),
            _when(r["received_at"]),
            r["channel"],
            r["status"],
            r["lapor_tracking_id"] or "-",
            r["agency_name"] or r["agency_id"] or "-",
            (r["title"] or "")[:60],
        )
    Console().print(t)
    return 0


async def cmd_complaints_as_reply(args: argparse.Namespace) -> int:
    import getpass

    from aggregator.storage.judgement import complaint_as_reply

    try:
        cid, target = uuid.UUID(args.id), uuid.UUID(args.to)
    except ValueError:
        print("both ids are complaint ids (uuid)", file=sys.stderr)
        return 2
    async with await _services(args) as services, services.pool.acquire() as conn:
        reply_id = await complaint_as_reply(conn, cid, target, f"cli:{getpass.getuser()}")
    if reply_id is None:
        print(
            "not moved: unknown complaint, already sent to LAPOR!, or the target is not an "
            "open complaint of the same reporter",
            file=sys.stderr,
        )
        return 1
    out = {"complaint_id": str(cid), "reply_id": str(reply_id), "open_complaint": str(target)}
    if args.json:
        _json_out(out)
    else:
        print(f"{cid} is now reply {reply_id} on {target}")
    return 0


async def cmd_complaints_from_reply(args: argparse.Namespace) -> int:
    import getpass

    from aggregator.intake.followon import move_reply_to_complaint

    try:
        reply_id = uuid.UUID(args.reply_id)
    except ValueError:
        print("the reply id is a uuid", file=sys.stderr)
        return 2
    async with await _services(args) as services, services.pool.acquire() as conn:
        moved = await move_reply_to_complaint(services, conn, reply_id, f"cli:{getpass.getuser()}")
    if moved is None:
        print("not moved: unknown reply, or already sent to LAPOR!", file=sys.stderr)
        return 1
    out = {
        "reply_id": str(reply_id),
        "complaint_id": str(moved[0]),
        "open_complaint": str(moved[1]),
    }
    if args.json:
        _json_out(out)
    else:
        print(f"reply {reply_id} is now complaint {moved[0]} (it will be pushed)")
    return 0


async def cmd_complaints_show(args: argparse.Namespace) -> int:
    import getpass

    from aggregator.storage.admin import complaint_detail, find_complaint_id
    from aggregator.storage.events import append_event
    from aggregator.storage.web import log_access

    async with await _services(args) as services, services.pool.acquire() as conn:
        cid = await find_complaint_id(conn, args.id)
        if cid is None:
            print(f"no complaint with id, Tracking ID or receipt code {args.id!r}", file=sys.stderr)
            return 1
        if args.reveal_identity:
            await append_event(conn, cid, EventKind.IDENTITY_REVEALED, {"via": "cli"}, actor="cli")
            await log_access(
                conn,
                token_id=None,
                actor=f"cli:{getpass.getuser()}",
                action="identity_revealed",
                subject=f"complaint:{cid}",
                detail={"via": "cli"},
            )
        d = await complaint_detail(conn, services.crypto, cid, reveal_identity=args.reveal_identity)
    if d is None:
        print(f"no complaint {cid}", file=sys.stderr)
        return 1
    if args.json:
        _json_out(d)
        return 0
    con = Console()
    con.print(f"[bold]{d['title']}[/bold]  ({d['id']})")
    con.print(
        f"status {d['status']}  tracking {d['lapor_tracking_id'] or '-'}  channel "
        f"{d['channel']} via {d['source']}  agency {d['agency_name'] or d['agency_id'] or '-'}"
    )
    flags = [f for f in ("anonymous", "confidential", "closed_without_real_followup") if d[f]]
    if flags or d["flags"]:
        con.print("flags: " + ", ".join(flags + list(d["flags"] or [])))
    con.print(f"reporter: {d['reporter']}")
    con.print(d["content"], markup=False)
    t = Table(title="Timeline")
    for col in ("at", "event", "by", "details"):
        t.add_column(col)
    for e in d["timeline"]:
        t.add_row(
            _when(e["at"]),
            e["kind"],
            e["actor"],
            json.dumps(e["data"], ensure_ascii=False, default=str)[:100],
        )
    con.print(t)
    for f in d["followups"]:
        con.print(f"[{_when(f['at'])}] {f['agency_name'] or '-'} ({f['label']}): ", end="")
        con.print(f["text"], markup=False)
    for r in d.get("replies", []):
        state = (
            "verified: " + str(r["verified_by"])
            if r["verified"]
            else "rejected: "
            if r["review"] == "rejected"
            else "held, unverified: "
        )
        if not r["verified"]:
            state += str(r["unverified_reason"] or "")
        con.print(
            f"reply [{_when(r['sent_at'] or r['created_at'])}] via {r['channel']} ({state}): ",
            end="",
            markup=False,
        )
        con.print(r["text"], markup=False)
    for n in d["notifications"]:
        con.print(f"notified {n['kind']} via {n['channel']}: {n['state']} {_when(n['sent_at'])}")
    return 0


async def cmd_jobs_retry(args: argparse.Namespace) -> int:
    async with await _services(args) as services:
        ok = await services.queue.retry(args.id)
    if args.json:
        _json_out({"job_id": args.id, "retried": ok})
    else:
        print("queued again" if ok else f"no job {args.id}")
    return 0 if ok else 1


async def cmd_jobs_discard(args: argparse.Namespace) -> int:
    async with await _services(args) as services:
        ok = await services.queue.discard(args.id, args.reason)
    if args.json:
        _json_out({"job_id": args.id, "discarded": ok})
    else:
        print("discarded" if ok else f"no job {args.id}")
    return 0 if ok else 1


async def cmd_token_create(args: argparse.Namespace) -> int:
    from aggregator.storage.admin import create_token

    if args.role == "agency" and not args.agency:
        raise ConfigError("a token with role agency needs --agency CODE (the OPD it may see)")
    async with await _services(args) as services, services.pool.acquire() as conn:
        agency = services.settings.agency_id(args.agency)
        token_id, token = await create_token(
            conn, name=args.name or f"{args.role}-token", role=args.role, agency=agency
        )
    if args.json:
        _json_out({"id": token_id, "token": token, "role": args.role, "agency": agency})
        return 0
    print(token)
    print(f"token {token_id} created for role {args.role}; it is shown only once", file=sys.stderr)
    return 0


async def cmd_token_list(args: argparse.Namespace) -> int:
    from aggregator.storage.admin import list_tokens

    async with await _services(args) as services, services.pool.acquire() as conn:
        _json_out(await list_tokens(conn))
    return 0


async def cmd_token_revoke(args: argparse.Namespace) -> int:
    from aggregator.storage.admin import revoke_token

    async with await _services(args) as services, services.pool.acquire() as conn:
        ok = await revoke_token(conn, uuid.UUID(args.id))
    if args.json:
        _json_out({"id": args.id, "revoked": ok})
    else:
        print("revoked" if ok else "no such active token")
    return 0 if ok else 1


async def cmd_quarantine_list(args: argparse.Namespace) -> int:
    from aggregator.storage.admin import list_quarantined

    async with await _services(args) as services, services.pool.acquire() as conn:
        rows = [
            {**asdict(r), "source_ref": hide_in_ref(r.source_ref)}
            for r in await list_quarantined(conn, args.source, args.limit)
        ]
    if args.json:
        _json_out(rows)
        return 0
    t = Table(title="Quarantined items")
    for col in ("id", "source", "ref", "size", "reason"):
        t.add_column(col)
    for r in rows:
        t.add_row(
            str(r["id"]),
            r["source"],
            (r["source_ref"] or "")[:30],
            str(r["size"]),
            (r["reason"] or "")[:80],
        )
    Console().print(t)
    return 0


async def cmd_quarantine_show(args: argparse.Namespace) -> int:
    import getpass

    from aggregator.intake.anonymity import mask_original
    from aggregator.intake.sealing import open_meta, open_payload
    from aggregator.storage.admin import get_raw_item
    from aggregator.storage.web import log_access, raw_original

    async with await _services(args) as services, services.pool.acquire() as conn:
        row = await get_raw_item(conn, args.id)
        if row is not None:
            payload = open_payload(services.crypto, row.payload, row.payload_key)
            meta = open_meta(services.crypto, row.meta)
            original = await raw_original(conn, args.id)
            if original is not None and original.anonymous:
                # An anonymous reporter's original is never shown as it came, here either.
                payload = mask_original(payload, original.content_type)
            # The CLI runs as the daemon's system user, i.e. an administrator: logged as such.
            await log_access(
                conn,
                token_id=None,
                actor=f"cli:{getpass.getuser()}",
                action="raw_revealed",
                subject=f"raw_item:{args.id}",
                detail={"state": row.state, "via": "cli"},
            )
    if row is None:
        print(f"no item {args.id}", file=sys.stderr)
        return 1
    if args.json:
        import base64

        item = {k: v for k, v in asdict(row).items() if k not in ("payload", "payload_key")}
        item["source_ref"], item["meta"] = hide_in_ref(row.source_ref), hide_in_meta(meta)
        item["payload_base64"] = base64.b64encode(payload).decode()
        _json_out(item)
        return 0
    print(
        f"source {row.source} ref {hide_in_ref(row.source_ref)} state {row.state}",
        file=sys.stderr,
    )
    print(f"reason: {row.reason}", file=sys.stderr)
    sys.stdout.buffer.write(payload)
    return 0


async def cmd_quarantine_replay(args: argparse.Namespace) -> int:
    from aggregator.intake.replay import replay_item

    async with await _services(args) as services:
        outcome = await replay_item(services, args.id)
    if args.json:
        _json_out({"id": args.id, "outcome": outcome})
    else:
        print(outcome)
    return 0
