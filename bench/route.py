"""Benchmark: the learned router — held-out accuracy, throughput, and its cost to intake.

Accuracy: top-1 category and agency on the held-out routing corpora (tests/data/routing,
never trained on). Throughput: complaints/s on one core, one at a time (as intake calls it)
and in batches. Intake cost: the real ``Intake.ingest`` writes the same web-form complaints
into a fresh migrated database twice, routing on and off (``[router] enabled``), in
interleaved rounds; the router is fitted before timing (the daemon fits it once at start).
``--small``: 300 complaints per round. Prints one JSON object on its last line.
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


async def intake_round(services: Services, texts: list[str], tag: str) -> tuple[float, float]:
    """Wall seconds and this process's CPU seconds (the model's child not counted)."""
    intake = Intake(services)
    intake.router.route("pemanasan", None)  # fitted before timing, as at the daemon's start
    src = FormSource(f"bench-{tag}")
    now = dt.datetime.now(dt.UTC)
    items = [RawItem(f"{tag}-{i}", f"{t} [{tag}-{i}]".encode(), now) for i, t in enumerate(texts)]
    await intake.router.warm()
    t0, c0 = time.perf_counter(), time.process_time()
    for i in range(0, len(items), 100):
        await intake.ingest(src, Batch(items[i : i + 100], {"n": i}))
    return time.perf_counter() - t0, time.process_time() - c0


async def intake_cost(
    server: str,
    texts: list[str],
    rounds: int,
    use_process: bool = True,
    clusters: bool = False,
) -> dict[str, Any]:
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
        on_settings = Settings(
            demo=True,
            data_dir=Path(tempfile.mkdtemp()),
            bursts={"cluster_window_h": 72.0 if clusters else 0.0},
        )
        # The model's process on another core than intake's, as on any multi-core server.
        mine = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else set()
        others = frozenset(set(range(os.cpu_count() or 1)) - mine)
        process = ModelProcess(Router.from_settings(on_settings), cpus=others or None)
        process.start()
        await process.ready()
        on = Services(
            settings=on_settings,
            pool=pool,
            http=None,  # type: ignore[arg-type]
            crypto=crypto,
            queue=None,
            model_process=process if use_process else None,
        )  # type: ignore[arg-type]
        off = Services(
            settings=Settings(demo=True, router=RouterConfig(enabled=False)),
            pool=pool,
            http=None,
            crypto=crypto,
            queue=None,
        )  # type: ignore[arg-type]
        with_s, without_s, with_cpu, without_cpu = [], [], [], []
        for r in range(rounds):
            wall, cpu = await intake_round(off, texts, f"off{r}")
            without_s.append(wall)
            without_cpu.append(cpu)
            wall, cpu = await intake_round(on, texts, f"on{r}")
            with_s.append(wall)
            with_cpu.append(cpu)
        async with pool.acquire() as conn:
            triaged = await conn.fetchval("SELECT count(*) FROM complaints WHERE needs_triage")
            routed = await conn.fetchval(
                "SELECT count(*) FROM complaints WHERE route_category IS NOT NULL"
            )
        await pool.close()
        await process.aclose()
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
        await admin.close()
    w, wo = statistics.median(with_s), statistics.median(without_s)
    return {
        "complaints_per_round": len(texts),
        "rounds": rounds,
        "with_routing_per_s": round(len(texts) / w, 1),
        "without_routing_per_s": round(len(texts) / wo, 1),
        "slowdown": round(w / wo - 1, 4),
        # the event loop's process: what routing costs intake itself, whatever else runs
        "cpu_ms_per_complaint_with": round(statistics.median(with_cpu) / len(texts) * 1e3, 3),
        "cpu_ms_per_complaint_without": round(statistics.median(without_cpu) / len(texts) * 1e3, 3),
        "cpu_slowdown": round(statistics.median(with_cpu) / statistics.median(without_cpu) - 1, 4),
        "model_process": use_process,
        "clusters": clusters,
        "routed": routed,
        "triaged": triaged,
    }


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--small", action="store_true", help="300 complaints per intake round")
    ap.add_argument("--complaints", type=int, default=None)
    ap.add_argument("--rounds", type=int, default=3)
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
        # routing plus cluster assignment (which needs the route's category)
        "intake_with_clusters": await intake_cost(args.server, texts, args.rounds, clusters=True),
    }
    for k, v in out["accuracy"].items():
        print(f"{k}: category {v['category']}, agency {v['agency']} (n={v['n']})", file=sys.stderr)
    print(json.dumps(out))


if __name__ == "__main__":
    asyncio.run(main())
