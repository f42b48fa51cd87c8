"""Benchmark: the learned router — held-out accuracy, throughput, and its cost to intake.

Accuracy: top-1 category and agency on the held-out routing corpora (tests/data/routing,
never trained on). Throughput: complaints/s on one core, one at a time (as intake calls it)
and in batches. Intake cost: the real ``Intake.ingest`` writes the same web-form complaints
into one fresh migrated database, once per side and round: without issue 14's judgement
(``[router]``, ``[junk]`` off, no clusters), with the router alone, with the router and
clusters, and with all of it (the daemon's default), the sides taking turns after a warm-up
round; the router is fitted before timing (the daemon fits it once at start), its process on
another core. Wall time (median and fastest rounds) and CPU (the intake process's, and the
model process's) against the side without. ``--small``: 300 complaints per round. Prints
one JSON object on its last line: ``intake_with_per_s``, ``intake_without_per_s`` and
``intake_ratio`` head it.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import asyncpg  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from aggregator.crypto import Crypto  # noqa: E402
from aggregator.intake.pipeline import Intake  # noqa: E402
from aggregator.judgement.model import read_jsonl  # noqa: E402
from aggregator.judgement.policy import routing_policy  # noqa: E402
from aggregator.judgement.router import Router  # noqa: E402
from aggregator.judgement.worker import ModelProcess  # noqa: E402
from aggregator.storage.db import create_pool  # noqa: E402
from aggregator.storage.migrate import migrate  # noqa: E402
from aggregator.wiring.services import Services  # noqa: E402
from connectors.base import Batch, RawItem  # noqa: E402
from schemas.complaint import Channel, ComplaintDraft  # noqa: E402
from schemas.config import CryptoConfig, RouterConfig, Settings, SourceConfig  # noqa: E402

DATA = ROOT / "tests" / "data" / "routing"


def one_core() -> None:
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})


def accuracy(router: Router) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in ("holdout.jsonl", "holdout_handwritten.jsonl"):
        rows = read_jsonl(DATA / name)
        got = router.route_many([r["text"] for r in rows])
        pairs = list(zip(got, rows, strict=True))
        sure = [(d, r) for d, r in pairs if not d.triage]
        out[name.removesuffix(".jsonl")] = {
            "n": len(rows),
            "category": round(sum(d.category == r["category"] for d, r in pairs) / len(rows), 3),
            "agency": round(sum(d.agency == r["agency"] for d, r in pairs) / len(rows), 3),
            "triage_share": round(1 - len(sure) / len(rows), 3),
            "agency_when_sure": round(
                sum(d.agency == r["agency"] for d, r in sure) / max(1, len(sure)), 3
            ),
        }
    return out


def throughput(router: Router, texts: list[str]) -> dict[str, float]:
    t0 = time.perf_counter()
    for t in texts:
        router.route(t)
    single = len(texts) / (time.perf_counter() - t0)
    t0 = time.perf_counter()
    router.route_many(texts)
    batched = len(texts) / (time.perf_counter() - t0)
    return {"single_per_s": round(single, 1), "batched_per_s": round(batched, 1)}


class FormSource:
    """A source whose raw items are already complaint texts (what a web form posts)."""

    kind = "bench"

    def __init__(self, name: str) -> None:
        self.name = name
        self.cfg = SourceConfig(name=name, kind="bench", agency="55")

    def parse(self, item: RawItem) -> ComplaintDraft:
        return ComplaintDraft(channel=Channel.WEB, content=item.payload.decode())


async def intake_round(
    services: Services, texts: list[str], tag: str, process: ModelProcess | None
) -> tuple[float, float, float]:
    """Wall seconds, this process's CPU seconds and the model process's CPU seconds."""
    intake = Intake(services)
    intake.router.route("pemanasan", None)  # fitted before timing, as at the daemon's start
    src = FormSource(f"bench-{tag}")
    now = dt.datetime.now(dt.UTC)
    items = [RawItem(f"{tag}-{i}", f"{t} [{tag}-{i}]".encode(), now) for i, t in enumerate(texts)]
    await intake.router.warm()
    child0 = await process.cpu_time() if process is not None else 0.0
    t0, c0 = time.perf_counter(), time.process_time()
    for i in range(0, len(items), 100):
        await intake.ingest(src, Batch(items[i : i + 100], {"n": i}))
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    child = await process.cpu_time() - child0 if process is not None else 0.0
    return wall, cpu, child


# What intake runs of issue 14's judgement, side by side on one database: nothing (the
# baseline), the router alone, the router and cluster assignment, and all of it (the junk
# filter as well) — the daemon's default.
SIDES = {
    "without": {"router": False, "clusters": False, "junk": False},
    "routing": {"router": True, "clusters": False, "junk": False},
    "routing_clusters": {"router": True, "clusters": True, "junk": False},
    "all": {"router": True, "clusters": True, "junk": True},
}


async def intake_cost(
    server: str, texts: list[str], rounds: int, use_process: bool = True
) -> dict[str, Any]:
    """Every side of SIDES on one fresh database, warmed by one unmeasured round each, then
    ``rounds`` rounds in which the sides take turns in an order reversed every other round
    (the tables grow as the bench runs: no side always writes into the larger ones)."""
    db = f"bench_route_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(server)
    await admin.execute(f'CREATE DATABASE "{db}"')
    dsn = server.rsplit("/", 1)[0] + "/" + db
    try:
        c = await asyncpg.connect(dsn)
        await migrate(c)
        await c.close()
        pool = await create_pool(dsn, min_size=1, max_size=2)
        crypto = Crypto.from_config(CryptoConfig(), demo=True)
        data_dir = Path(tempfile.mkdtemp())
        # The model's process on another core than intake's, as on any multi-core server.
        mine = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else set()
        others = frozenset(set(range(os.cpu_count() or 1)) - mine)
        process = ModelProcess(Router.from_settings(Settings(demo=True)), cpus=others or None)
        process.start()
        await process.ready()
        services = {}
        for name, side in SIDES.items():
            settings = Settings(
                demo=True,
                data_dir=data_dir,
                router=RouterConfig(enabled=side["router"]),
                bursts={"cluster_window_h": 72.0 if side["clusters"] else 0.0},
                junk={"enabled": side["junk"]},
            )
            services[name] = Services(
                settings=settings,
                pool=pool,
                http=None,  # type: ignore[arg-type]
                crypto=crypto,
                queue=None,  # type: ignore[arg-type]
                model_process=process if use_process and side["router"] else None,
            )
        walls: dict[str, list[float]] = {n: [] for n in SIDES}
        cpus: dict[str, list[float]] = {n: [] for n in SIDES}
        childs: dict[str, list[float]] = {n: [] for n in SIDES}
        order = list(SIDES)
        for r in range(-1, rounds):
            for name in order if r % 2 == 0 else reversed(order):
                used = services[name].model_process
                wall, cpu, child = await intake_round(services[name], texts, f"{name}{r}", used)
                if r >= 0:  # round -1 warms every side up
                    walls[name].append(wall)
                    cpus[name].append(cpu)
                    childs[name].append(child)
        async with pool.acquire() as conn:
            triaged = await conn.fetchval("SELECT count(*) FROM complaints WHERE needs_triage")
            clustered = await conn.fetchval(
                "SELECT count(*) FROM complaints WHERE cluster_id IS NOT NULL"
            )
            held = await conn.fetchval(
                "SELECT count(*) FROM raw_items WHERE reason LIKE 'held as junk%'"
            )
        await pool.close()
        await process.aclose()
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
        await admin.close()
    n = len(texts)
    med = {k: statistics.median(v) for k, v in walls.items()}
    best = {k: min(v) for k, v in walls.items()}
    cpu = {k: statistics.median(v) for k, v in cpus.items()}
    child = {k: statistics.median(v) for k, v in childs.items()}
    out: dict[str, Any] = {
        "complaints_per_round": n,
        "rounds": rounds,
        "model_process": use_process,
        # complaints/s, median round
        "per_s": {k: round(n / v, 1) for k, v in med.items()},
        # wall time against intake without any of it: median rounds, and fastest rounds
        # (the least disturbed by whatever else the machine runs)
        "slowdown": {k: round(med[k] / med["without"] - 1, 4) for k in SIDES if k != "without"},
        "slowdown_best": {
            k: round(best[k] / best["without"] - 1, 4) for k in SIDES if k != "without"
        },
        # CPU of the intake (event loop's) process, and of the model's process, per complaint
        "cpu_ms_per_complaint": {k: round(v / n * 1e3, 3) for k, v in cpu.items()},
        "model_cpu_ms_per_complaint": {k: round(v / n * 1e3, 3) for k, v in child.items()},
        "cpu_slowdown": {k: round(cpu[k] / cpu["without"] - 1, 4) for k in SIDES if k != "without"},
        # intake's and the model's CPU together against intake's without routing
        "cpu_total_slowdown": {
            k: round((cpu[k] + child[k]) / cpu["without"] - 1, 4) for k in SIDES if k != "without"
        },
        "triaged": triaged,
        "clustered": clustered,
        "held_as_junk": held,
    }
    return out


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--small", action="store_true", help="300 complaints per intake round")
    ap.add_argument("--complaints", type=int, default=None)
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--server", default="postgresql://postgres@127.0.0.1:5432/postgres")
    args = ap.parse_args()
    one_core()
    t0 = time.perf_counter()
    router = Router(routing_policy())
    router.model  # noqa: B018
    fit_s = time.perf_counter() - t0
    held = [
        r["text"]
        for name in ("holdout.jsonl", "holdout_handwritten.jsonl")
        for r in read_jsonl(DATA / name)
    ]
    n = args.complaints or (300 if args.small else 2000)
    texts = (held * (n // len(held) + 1))[:n]
    out = {
        "bench": "route",
        "fit_s": round(fit_s, 2),
        "accuracy": accuracy(router),
        "throughput": throughput(router, held),
        "intake": await intake_cost(args.server, texts, args.rounds),
    }
    intake = out["intake"]
    # The headline: intake with all of it (the daemon's default) and without, same run.
    out["intake_with_per_s"] = intake["per_s"]["all"]
    out["intake_without_per_s"] = intake["per_s"]["without"]
    out["intake_ratio"] = round(intake["per_s"]["all"] / intake["per_s"]["without"], 4)
    print(
        f"intake: {intake['per_s']['without']}/s without, {intake['per_s']['all']}/s with"
        f" (slowdown {intake['slowdown']}, best rounds {intake['slowdown_best']};"
        f" intake CPU {intake['cpu_slowdown']})",
        file=sys.stderr,
    )
    for k, v in out["accuracy"].items():
        print(f"{k}: category {v['category']}, agency {v['agency']} (n={v['n']})", file=sys.stderr)
    print(json.dumps(out))


if __name__ == "__main__":
    asyncio.run(main())
