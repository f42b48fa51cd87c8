"""What intake decides for the shipped corpora, as canonical JSON: a same-output check.

Runs the real ``Intake.ingest`` over every routing, junk and follow-on text of the
repository into a fresh migrated database — web forms without a reporter, e-mails from a
few repeating addresses (duplicates, reply-or-new by content), SMS from repeating numbers
(bursts, replies) — with routing, junk and clusters on, then prints each raw item's state
and reason and each complaint's route, confidence, reasons, triage flag, timeline events
and cluster (as its members' references and counts, ids being random). Two runs of two
versions of the code print the same text exactly when intake decided the same; a speed-up
must leave it unchanged (``diff`` the outputs). ``--model-process``: route in the model's
child process, as the daemon does.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import re
import sys
import tempfile
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
from aggregator.judgement.router import Router  # noqa: E402
from aggregator.judgement.worker import ModelProcess  # noqa: E402
from aggregator.logging import configure_logging  # noqa: E402
from aggregator.storage.db import create_pool  # noqa: E402
from aggregator.storage.migrate import migrate  # noqa: E402
from aggregator.wiring.services import Services  # noqa: E402
from connectors.base import Batch, RawItem  # noqa: E402
from schemas.complaint import Channel, ComplaintDraft, Reporter  # noqa: E402
from schemas.config import CryptoConfig, Settings, SourceConfig  # noqa: E402

DATA = ROOT / "tests" / "data"
CORPUS = ROOT / "aggregator" / "judgement" / "corpus"
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


class SnapshotSource:
    """Raw items are JSON ``{"text", "email"?, "phone"?}``: a form, a mail or an SMS."""

    kind = "snapshot"

    def __init__(self, name: str) -> None:
        self.name = name
        self.cfg = SourceConfig(name=name, kind="snapshot", agency="55")

    def parse(self, item: RawItem) -> ComplaintDraft:
        data = json.loads(item.payload)
        if data.get("email"):
            return ComplaintDraft(
                channel=Channel.EMAIL, content=data["text"], reporter=Reporter(email=data["email"])
            )
        if data.get("phone"):
            return ComplaintDraft(
                channel=Channel.SMS,
                content=data["text"],
                reporter=Reporter(phone=data["phone"]),
                origin={"maybe_reply_by_phone": True},
            )
        return ComplaintDraft(channel=Channel.WEB, content=data["text"])


def messages(rnd: int) -> list[dict[str, str]]:
    texts = [
        r["text"]
        for path in (
            CORPUS / "routing_train.jsonl",
            CORPUS / "routing_handwritten.jsonl",
            DATA / "routing" / "holdout.jsonl",
            DATA / "routing" / "holdout_handwritten.jsonl",
            DATA / "junk" / "dev.jsonl",
            DATA / "junk" / "holdout.jsonl",
        )
        for r in read_jsonl(path)
    ]
    out: list[dict[str, str]] = []
    for i, t in enumerate(texts):
        m = {"text": t}
        if i % 3 == 1:
            m["email"] = f"warga{i % 37}@example.id"
        elif i % 3 == 2:
            m["phone"] = f"0813{i % 41:08d}"
        out.append(m)
    # an open complaint, then the same reporter's next message (reply or new by content);
    # new numbers each pass: complaints of one batch share received_at, and which of two is
    # "the newest open one" would be a tie
    for j, r in enumerate(read_jsonl(DATA / "followon" / "dev.jsonl")):
        out.append({"text": r["open"], "phone": f"0857{rnd}{j:07d}"})
        out.append({"text": r["message"], "phone": f"0857{rnd}{j:07d}"})
    return out


async def run(server: str, model_process: bool) -> dict[str, Any]:
    db = f"bench_snapshot_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(server)
    await admin.execute(f'CREATE DATABASE "{db}"')
    dsn = server.rsplit("/", 1)[0] + "/" + db
    try:
        c = await asyncpg.connect(dsn)
        await migrate(c)
        await c.close()
        pool = await create_pool(dsn, min_size=1, max_size=2)
        settings = Settings(
            demo=True, data_dir=Path(tempfile.mkdtemp()), bursts={"cluster_window_h": 72.0}
        )
        process = None
        if model_process:
            process = ModelProcess(Router.from_settings(settings))
            process.start()
            await process.ready()
        services = Services(
            settings=settings,
            pool=pool,
            http=None,  # type: ignore[arg-type]
            crypto=Crypto.from_config(CryptoConfig(), demo=True),
            queue=None,  # type: ignore[arg-type]
            model_process=process,
        )
        intake = Intake(services)
        src = SnapshotSource("snapshot")
        # twice: the second pass meets the first's complaints (duplicates, clusters, replies)
        for rnd in range(2):
            items = [
                RawItem(f"{rnd}-{i}", json.dumps(m).encode()) for i, m in enumerate(messages(rnd))
            ]
            for i in range(0, len(items), 100):
                await intake.ingest(src, Batch(items[i : i + 100], {"n": rnd * 10**6 + i}))
        snap = await dump(pool)
        await pool.close()
        if process is not None:
            await process.aclose()
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
        await admin.close()
    return snap


async def dump(pool: asyncpg.Pool) -> dict[str, Any]:
    async with pool.acquire() as conn:
        raw = await conn.fetch(
            "SELECT r.source_ref, r.state::text, r.reason, c.raw_item_id AS owner"
            " FROM raw_items r LEFT JOIN complaints c ON c.id = r.complaint_id ORDER BY r.id"
        )
        owners = await conn.fetch(
            "SELECT c.id, r.source_ref FROM complaints c JOIN raw_items r ON r.id = c.raw_item_id"
        )
        ref = {str(o["id"]): o["source_ref"] for o in owners}
        complaints = await conn.fetch(
            "SELECT c.*, r.source_ref FROM complaints c"
            " JOIN raw_items r ON r.id = c.raw_item_id ORDER BY r.id"
        )
        events = await conn.fetch(
            "SELECT complaint_id, kind, actor, data::text AS data FROM events"
            " WHERE complaint_id IS NOT NULL ORDER BY id"
        )
        clusters = await conn.fetch("SELECT * FROM complaint_clusters")
        jobs = await conn.fetch(
            "SELECT kind::text, complaint_id, dedup_key FROM jobs ORDER BY dedup_key"
        )

    def names(text: str | None) -> str | None:
        return None if text is None else _UUID.sub(lambda m: ref.get(m.group(0), "?"), text)

    members: dict[str, list[str]] = {}
    for c in complaints:
        if c["cluster_id"] is not None:
            members.setdefault(str(c["cluster_id"]), []).append(c["source_ref"])
    cluster = {
        str(k["id"]): {
            "category": k["category"],
            "place": k["place"],
            "complaints": k["complaints"],
            "reporters": k["reporters"],
            "members": sorted(members.get(str(k["id"]), [])),
        }
        for k in clusters
    }
    timeline: dict[str, list[Any]] = {}
    for e in events:
        timeline.setdefault(ref.get(str(e["complaint_id"]), "?"), []).append(
            [e["kind"], e["actor"], names(e["data"])]
        )
    return {
        "raw_items": [[r["source_ref"], r["state"], names(r["reason"])] for r in raw],
        "complaints": [
            {
                "ref": c["source_ref"],
                "status": c["status"],
                "content": hashlib.sha256(c["content"].encode()).hexdigest()[:16],
                "agency_id": c["agency_id"],
                "category_id": c["category_id"],
                "route": [c["route_category"], c["route_agency"], c["needs_triage"]],
                "confidence": c["route_confidence"],
                "reasons": c["route_reasons"],
                "duplicate_of": names(str(c["duplicate_of"])) if c["duplicate_of"] else None,
                "cluster": cluster.get(str(c["cluster_id"])),
                "events": timeline.get(c["source_ref"], []),
            }
            for c in complaints
        ],
        "clusters": sorted(
            [v["category"], v["place"], v["complaints"], v["reporters"]] for v in cluster.values()
        ),
        "jobs": sorted([j["kind"], names(j["dedup_key"])] for j in jobs),
    }


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--server", default="postgresql://postgres@127.0.0.1:5432/postgres")
    ap.add_argument("--model-process", action="store_true")
    args = ap.parse_args()
    configure_logging("warning", "json")
    snap = await run(args.server, args.model_process)
    for line in ("raw_items", "complaints", "clusters", "jobs"):
        for row in snap[line]:
            print(line, json.dumps(row, ensure_ascii=False, sort_keys=True))
    print(
        json.dumps(
            {
                "bench": "intake_snapshot",
                "raw_items": len(snap["raw_items"]),
                "complaints": len(snap["complaints"]),
                "clusters": len(snap["clusters"]),
                "sha256": hashlib.sha256(
                    json.dumps(snap, sort_keys=True, ensure_ascii=False).encode()
                ).hexdigest(),
            }
        )
    )


if __name__ == "__main__":
    asyncio.run(main())
